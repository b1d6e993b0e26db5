"""The Auto step's stage list: each stage's plain name, how it stands, how long it took and what it found.

Example:
    >>> rows = [{"name": "doctor", "title": "Checking the data", "status": "done", "seconds": 3.2,
    ...          "summary": "10 classes, no duplicates."}]
    >>> html_text = stages_html(rows)
    >>> "lepton-auto-stage-done" in html_text and "10 classes" in html_text
    True
"""

from __future__ import annotations

import html

from lepton_widgets.i18n import N_, _

#: How each status reads, with a mark a person can scan (the words are translated when shown).
STATUS_WORDS = {
    "waiting": ("&#9711;", N_("waiting"), "#888"),
    "running": ("&#9203;", N_("running"), "#1565c0"),
    "done": ("&#10004;", N_("done"), "#2e7d32"),
    "done before": ("&#10004;", N_("done in an earlier try (kept)"), "#2e7d32"),
    "skipped": ("&#8631;", N_("skipped"), "#666"),
    "stopped": ("&#9632;", N_("stopped (what finished is kept)"), "#8a6d00"),
    "failed": ("&#10008;", N_("did not work"), "#c62828"),
}


def stage_title(row: dict) -> str:
    """A stage's plain name in the current language (the engine's English title, through the catalogue)."""
    return _(row.get("title") or row["name"])


def stages_html(rows: list[dict]) -> str:
    """The stages as a table, one row each (``lepton-auto-stage-<status>`` per row, for tests and styling)."""
    if not rows:
        return ""
    body = []
    for number, row in enumerate(rows, start=1):
        status = row.get("status", "waiting")
        mark, words, colour = STATUS_WORDS.get(status, ("", status, "#555"))
        words = _(words)
        seconds = f"{row['seconds']:.0f} s" if row.get("seconds") is not None else ""
        css = "lepton-auto-stage lepton-auto-stage-" + status.replace(" ", "-")
        body.append(
            f"<tr class='{css}' data-stage='{html.escape(row['name'])}'>"
            f"<td style='color:{colour};text-align:center'>{mark}</td>"
            f"<td style='white-space:nowrap'><b>{number}. {html.escape(stage_title(row))}</b></td>"
            f"<td style='color:{colour};white-space:nowrap'>{html.escape(words)}</td>"
            f"<td style='white-space:nowrap;text-align:right'>{seconds}</td>"
            f"<td style='text-align:left'>{html.escape(row.get('summary') or '')}</td></tr>")
    stage, status, time, found = (html.escape(word) for word in (_("Stage"), _("Status"), _("Time"),
                                                                   _("What it found or chose")))
    head = (f"<tr><th></th><th style='text-align:left'>{stage}</th><th style='text-align:left'>{status}</th>"
            f"<th>{time}</th><th style='text-align:left'>{found}</th></tr>")
    return ("<style>.lepton-auto-stages td,.lepton-auto-stages th{padding:3px 8px;vertical-align:top}</style>"
            "<table class='lepton-table lepton-auto-stages' style='border-collapse:collapse'>"
            + head + "".join(body) + "</table>")
