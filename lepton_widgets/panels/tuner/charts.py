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

from lepton_widgets.panels.figures import figure_widget

LOG_SCALE = ("learning_rate", "l2")


def finished_trials(rows: list[dict]) -> list[dict]:
    """The trials that completed with a score."""
    return [r for r in rows if r.get("status") == "COMPLETED" and r.get("score") is not None]


def _dimension(name: str, values: list) -> dict:
    if any(isinstance(v, str) for v in values):
        labels = sorted({str(v) for v in values})
        return {"label": name, "values": [labels.index(str(v)) for v in values],
                "tickvals": list(range(len(labels))), "ticktext": labels}
    numbers = [float(v) for v in values]
    if name in LOG_SCALE and numbers and min(numbers) > 0:
        return {"label": f"{name} (log10)", "values": [math.log10(v) for v in numbers]}
    return {"label": name, "values": numbers}


def parallel_figure(rows: list[dict], names: list[str], objective: str) -> go.FigureWidget:
    """Parallel coordinates: one line per finished trial, one axis per searched value, the score last."""
    done = finished_trials(rows)
    dimensions = [_dimension(n, [r["hyperparameters"].get(n) for r in done]) for n in names]
    scores = [float(r["score"]) for r in done]
    dimensions.append({"label": objective, "values": scores})
    trace = go.Parcoords(dimensions=dimensions, line={"color": scores, "colorscale": "Viridis",
                                                      "showscale": bool(scores)})
    # The axis names sit above the plot area: the title goes higher still (y in the top margin) to clear them.
    layout = {"height": 340, "margin": {"l": 70, "r": 40, "t": 80, "b": 30},
              "title": {"text": f"{len(done)} finished trials" if done else "no finished trials yet",
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
    traces = [go.Scatter(x=numbers, y=[r["score"] for r in done], mode="markers", name="trial"),
              go.Scatter(x=numbers, y=best, mode="lines", line={"shape": "hv"}, name="best so far")]
    layout = {"height": 260, "margin": {"l": 50, "r": 20, "t": 30, "b": 40}, "xaxis": {"title": {"text": "trial"}},
              "yaxis": {"title": {"text": objective}}, "legend": {"orientation": "h", "y": -0.3}}
    return figure_widget(data=traces, layout=layout)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.4f}"
    return html.escape(str(value))


def trials_table_html(rows: list[dict], names: list[str], objective: str, best_number: Optional[int]) -> str:
    if not rows:
        return "<i>No trials yet.</i>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["#", "status", *names, objective, "time", "trained on"])
    body = []
    for row in sorted(rows, key=lambda r: r["number"]):
        status = row.get("status", "")
        if status == "RUNNING" and row.get("epochs"):
            status = f"epoch {row.get('epoch', 0)}/{row['epochs']}"
        values = [_cell(row["hyperparameters"].get(n, "")) for n in names]
        score = _cell(row["score"]) if row.get("score") is not None else ""
        elapsed = f"{row['elapsed']:.0f}s" if row.get("elapsed") else ""
        style = " style='font-weight:600;background:#eef7ee'" if row["number"] == best_number else ""
        cells = [str(row["number"]), html.escape(status), *values, score, elapsed, html.escape(row.get("path", ""))]
        body.append(f"<tr class='lepton-trial-row'{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f"<table class='lepton-trials'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
