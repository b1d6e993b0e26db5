"""The Search step's trials, drawn: parallel coordinates, the best score so far, and the trials table. Pure
functions of the trial rows (``core.search.space.read_trials``).

Example:
    >>> rows = [{"number": 0, "status": "COMPLETED", "score": 0.8, "hyperparameters": {"dropout": 0.2}}]
    >>> "lepton-trial-row" in trials_table_html(rows, ["dropout"], "val_accuracy", 0)
    True
"""

from __future__ import annotations

import html
import math
from typing import Any, Optional

import plotly.graph_objects as go

from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.figures import figure_widget

LOG_SCALE = ("learning_rate", "l2")
#: The searched settings and the objectives as the charts and the table name them: in English their own
#: (config) names, in other languages plain words.
NAMES = {
    "backbone": N_("backbone"), "frozen_depth": N_("frozen_depth"), "augment": N_("augment"),
    "augment_strength": N_("augment_strength"), "dropout": N_("dropout"), "l2": N_("l2"),
    "learning_rate": N_("learning_rate"), "batch_size": N_("batch_size"), "head_units": N_("head_units"),
    "hidden_layers": N_("hidden_layers"), "val_accuracy": N_("val_accuracy"), "val_loss": N_("val_loss"),
}
#: How a trial stands (KerasTuner's statuses) in words.
TRIAL_WORDS = {"COMPLETED": N_("done"), "RUNNING": N_("running"), "FAILED": N_("failed"),
               "INVALID": N_("did not work"), "STOPPED": N_("stopped"), "IDLE": N_("waiting")}
#: What a trial trained on (the search's path), in words.
PATH_WORDS = {"cached features": N_("stored features (fast)"), "images": N_("the pictures"),
              "texts": N_("the texts"), "encoded columns": N_("encoded columns"), "rows": N_("the rows")}


def name_words(name: str) -> str:
    """A searched setting's or an objective's name as the page shows it."""
    return _(NAMES[name]) if name in NAMES else name


def finished_trials(rows: list[dict]) -> list[dict]:
    """The trials that completed with a score."""
    return [r for r in rows if r.get("status") == "COMPLETED" and r.get("score") is not None]


def _dimension(name: str, values: list) -> dict:
    if any(isinstance(v, str) for v in values):
        labels = sorted({str(v) for v in values})
        return {"label": name_words(name), "values": [labels.index(str(v)) for v in values],
                "tickvals": list(range(len(labels))), "ticktext": labels}
    numbers = [float(v) for v in values]
    if name in LOG_SCALE and numbers and min(numbers) > 0:
        return {"label": _("{name} (log10)").format(name=name_words(name)),
                "values": [math.log10(v) for v in numbers]}
    return {"label": name_words(name), "values": numbers}


def parallel_figure(rows: list[dict], names: list[str], objective: str) -> go.FigureWidget:
    """Parallel coordinates: one line per finished trial, one axis per searched value, the score last."""
    done = finished_trials(rows)
    dimensions = [_dimension(n, [r["hyperparameters"].get(n) for r in done]) for n in names]
    scores = [float(r["score"]) for r in done]
    dimensions.append({"label": name_words(objective), "values": scores})
    trace = go.Parcoords(dimensions=dimensions, line={"color": scores, "colorscale": "Viridis",
                                                      "showscale": bool(scores)})
    # The axis names sit above the plot area: the title goes higher still (y in the top margin) to clear them.
    layout = {"height": 340, "margin": {"l": 70, "r": 40, "t": 80, "b": 30},
              "title": {"text": _("{count} finished trials").format(count=len(done)) if done
                        else _("no finished trials yet"),
                        "font": {"size": 13}, "y": 0.97, "yanchor": "top"}}
    return figure_widget(data=[trace], layout=layout)


def best_curve_figure(rows: list[dict], objective: str) -> go.FigureWidget:
    """Each finished trial's score (dots) and the best so far (line), in trial order."""
    done = sorted(finished_trials(rows), key=lambda r: r["number"])
    pick = max if objective.endswith("accuracy") else min
    best, running = [], None
    for row in done:
        running = row["score"] if running is None else pick(running, row["score"])
        best.append(running)
    numbers = [r["number"] for r in done]
    traces = [go.Scatter(x=numbers, y=[r["score"] for r in done], mode="markers", name=_("trial")),
              go.Scatter(x=numbers, y=best, mode="lines", line={"shape": "hv"}, name=_("best so far"))]
    layout = {"height": 260, "margin": {"l": 50, "r": 20, "t": 30, "b": 40},
              "xaxis": {"title": {"text": _("trial")}}, "yaxis": {"title": {"text": name_words(objective)}},
              "legend": {"orientation": "h", "y": -0.3}}
    return figure_widget(data=traces, layout=layout)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.4f}"
    return html.escape(str(value))


def trials_table_html(rows: list[dict], names: list[str], objective: str, best_number: Optional[int]) -> str:
    if not rows:
        return "<i>" + html.escape(_("No trials yet.")) + "</i>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["#", _("status"), *map(name_words, names),
                                                           name_words(objective), _("time"), _("trained on")])
    body = []
    for row in sorted(rows, key=lambda r: r["number"]):
        status = row.get("status", "")
        if status == "RUNNING" and row.get("epochs"):
            status = _("epoch {epoch}/{epochs}").format(epoch=row.get("epoch", 0), epochs=row["epochs"])
        elif status in TRIAL_WORDS:
            status = _(TRIAL_WORDS[status])
        path = row.get("path", "")
        path = _(PATH_WORDS[path]) if path in PATH_WORDS else path
        values = [_cell(row["hyperparameters"].get(n, "")) for n in names]
        score = _cell(row["score"]) if row.get("score") is not None else ""
        elapsed = f"{row['elapsed']:.0f}s" if row.get("elapsed") else ""
        style = " style='font-weight:600;background:#eef7ee'" if row["number"] == best_number else ""
        cells = [str(row["number"]), html.escape(status), *values, score, elapsed, html.escape(path)]
        body.append(f"<tr class='lepton-trial-row'{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<table class='lepton-trials'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
