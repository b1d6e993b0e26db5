"""The Auto step's live leaderboard: every model Auto made, best validation score first, Auto's choice marked;
as a table and as a bar chart of the validation scores.

Rows are ``core.auto.leaderboard.entry`` dicts (the ``LeaderboardRow`` events'); the order and the chosen
row are the engine's own (``core.auto.leaderboard.frame``), so the page never disagrees with the model card.

Example:
    >>> rows = [{"label": "MobileNetV2 · classifier", "stage": "first", "val_score": 0.81, "metric": "accuracy",
    ...          "test_accuracy": 0.8, "test_roc_auc": None, "seconds": 12.0, "run_id": "r1", "kept": True,
    ...          "note": ""}]
    >>> table = leaderboard_html(rows)
    >>> "lepton-auto-row-chosen" in table and "81%" in table
    True
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from lepton_widgets.core.auto.leaderboard import frame, number
from lepton_widgets.core.auto.stages import STAGES
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.figures import figure_widget

#: What the selection metrics are called on the page (translated when shown).
METRIC_WORDS = {"accuracy": N_("Validation accuracy"),
                "roc_auc": N_("Validation ROC AUC (how well it ranks the two classes)")}
#: The chart's x axis, per metric.
METRIC_AXIS = {"accuracy": N_("validation accuracy"), "roc_auc": N_("validation ROC AUC")}


def _percent(value) -> str:
    fraction = number(value)
    return "–" if fraction is None else f"{fraction:.0%}"


def _stage_title(stage: str) -> str:
    return _(STAGES[stage][0]) if stage in STAGES else stage


def leaderboard_html(rows: list[dict]) -> str:
    """The models as a table, best validation score first; the chosen one is bold, green and says so."""
    if not rows:
        return "<i>" + html.escape(_("No model yet: rows appear here as Auto finishes each one.")) + "</i>"
    table = frame(rows)
    metric = next((r.get("metric") for r in rows if r.get("metric")), "accuracy")
    body = []
    for row in table.to_dict("records"):
        chosen = bool(row["chosen"])
        css = "lepton-auto-row" + (" lepton-auto-row-chosen" if chosen else "")
        style = " style='font-weight:600;background:#eef7ee'" if chosen else ""
        note = html.escape(str(row.get("note") or ""))
        if row.get("kept") is False:
            note = note or html.escape(_("not kept"))
        mark = "&#9733; " + html.escape(_("chosen")) if chosen else ""
        test = _percent(row.get("test_accuracy"))
        if number(row.get("test_roc_auc")) is not None:
            test += f" (ROC AUC {number(row['test_roc_auc']):.2f})"
        seconds = number(row.get("seconds"))
        cells = [mark, html.escape(str(row["label"])), html.escape(_stage_title(str(row["stage"]))),
                 _percent(row.get("val_score")) if metric == "accuracy" else
                 ("–" if number(row.get("val_score")) is None else f"{number(row['val_score']):.3f}"),
                 test, "" if seconds is None else f"{seconds:.0f} s", note]
        body.append(f"<tr class='{css}'{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = ["", _("Model"), _("Made by"), _(METRIC_WORDS[metric]) if metric in METRIC_WORDS else metric,
            _("Test accuracy"), _("Time"), ""]
    return ("<style>.lepton-auto-leaderboard-table td,.lepton-auto-leaderboard-table th{padding:3px 8px}</style>"
            "<table class='lepton-table lepton-auto-leaderboard-table'><tr>"
            + "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in head) + "</tr>" + "".join(body)
            + "</table><div style='color:#666;font-size:12px'>"
            + html.escape(_("Auto chooses by the validation score only; the test split, which no model saw, says how "
                            "well the chosen one does on new examples."))
            + "</div>")


def leaderboard_figure(rows: list[dict]) -> go.FigureWidget:
    """A bar per model (its validation score), best on top, Auto's choice in green; built complete in the
    constructor (under Voilà a FigureWidget changed before it is first shown never updates)."""
    table = frame(rows).iloc[::-1]  # Plotly draws the first bar at the bottom
    scores = [number(v) or 0.0 for v in table["val_score"]]
    colours = ["#2e7d32" if chosen else "#9aa5b1" for chosen in table["chosen"]]
    labels = [f"{label} ({_stage_title(stage).lower()})" for label, stage in zip(table["label"], table["stage"])]
    metric = next((r.get("metric") for r in rows if r.get("metric")), "accuracy")
    trace = go.Bar(x=scores, y=labels, orientation="h", marker={"color": colours},
                   text=[f"{s:.0%}" if metric == "accuracy" else f"{s:.3f}" for s in scores],
                   textposition="auto")
    layout = {"height": 80 + 32 * len(rows), "margin": {"l": 260, "r": 20, "t": 30, "b": 30},
              "xaxis": {"range": [0, 1.0], "title": {"text": _(METRIC_AXIS[metric]) if metric in METRIC_AXIS
                                                     else metric}},
              "title": {"text": _("models so far (green: Auto's choice)"), "font": {"size": 13}}}
    return figure_widget(data=[trace], layout=layout)
