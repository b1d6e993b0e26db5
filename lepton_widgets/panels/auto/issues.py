"""The likely mislabelled examples Auto's data doctor found, as a person checks them: the example (a thumbnail,
a spectrogram, the text or row), the class it is labelled with, and the class it looks like.

:func:`issue_cards` runs in the Runner's worker thread after Auto ends: pictures and sounds are read back from
the checked data by their id (``views.py``), so a kernel never blocks on it.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> issues = [{"id": "ab" * 32, "ref": "row 12: age 31, job skilled", "given": "good", "suggested": "bad",
    ...            "confidence": 0.91}]
    >>> cards = issue_cards(task_for_dataset("german_credit"), None, 0, issues)
    >>> "labelled <b>good</b>" in cards[0].children[-1].value
    True
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w

from lepton_widgets.i18n import _
from lepton_widgets.panels.auto.views import issue_view, row_of
from lepton_widgets.panels.dataset.views import data_view
from lepton_widgets.panels.style import card_layout

#: At most this many examples are drawn (the doctor's list is ranked, most likely mislabelled first).
MAX_SHOWN = 24
THUMB = 64


def caption_html(issue: dict) -> str:
    """What the doctor thinks of one example, in words."""
    confidence = issue.get("confidence")
    given = f"<b>{html.escape(str(issue.get('given')))}</b>"
    suggested = f"<b style='color:#c62828'>{html.escape(str(issue.get('suggested')))}</b>"
    if confidence is not None:
        looks = _("looks like {suggested} ({percent} sure)").format(suggested=suggested,
                                                                     percent=f"{float(confidence):.0%}")
    else:
        looks = _("looks like {suggested}").format(suggested=suggested)
    labelled = _("labelled {given}").format(given=given)
    return f"<div style='font-size:12px;line-height:1.3'>{labelled}<br>{looks}</div>"


def _text_widget(issue: dict) -> w.Widget:
    ref = str(issue.get("ref") or issue.get("id", ""))
    ref = ref if len(ref) <= 200 else ref[:200].rstrip() + " ..."
    return w.HTML(f"<div style='font-size:12px;max-width:260px;white-space:normal'>{html.escape(ref)}</div>")


def issue_cards(task, data_cfg, seed: int, issues: list[dict], job=None) -> list[w.Widget]:
    """One card per likely mislabelled example (at most :data:`MAX_SHOWN`), drawn as ``task``'s view says."""
    view, table = issue_view(task), None
    shown = list(issues)[:MAX_SHOWN]
    if view.needs_data and shown:
        try:
            checked = task.prepare(data_cfg, seed, job)
            table = data_view(task).prepared(checked).table
        except Exception:  # noqa: BLE001 - the data moved since Auto read it: show the names, not an error
            table = None
    cards = []
    for issue in shown:
        row: Optional[int] = row_of(table, str(issue.get("id", ""))) if table is not None else None
        picture = view.thumb(table, row, THUMB) if row is not None else _text_widget(issue)
        card = w.VBox([picture, w.HTML(caption_html(issue))], layout=card_layout())
        card.add_class("lepton-auto-issue")
        cards.append(card)
    return cards


def issues_summary(issues: list[dict], labels: str) -> str:
    """The sentence above the examples."""
    if not issues:
        return "<i>" + html.escape(_("The data doctor found no example that looks mislabelled.")) + "</i>"
    if len(issues) > MAX_SHOWN:
        head = _("{count} examples look mislabelled (the first {shown} are shown).").format(
            count=len(issues), shown=MAX_SHOWN)
    else:
        head = _("{count} examples look mislabelled.").format(count=len(issues))
    if labels == "exclude":
        return (f"<b>{html.escape(head)}</b> "
                + html.escape(_("They were left out of this run, as you chose; the data report lists them.")))
    return (f"<b>{html.escape(head)}</b> "
            + html.escape(_("A model trained on its other examples thinks each one belongs to another class. If "
                            "their labels are wrong, leave them out: Auto then trains again only what depends on "
                            "them.")))
