"""The Update step's result view: a version's summary and its forgetting meter as grouped bars.

The meter is a new ``FigureWidget`` per result, built complete in its constructor and swapped into the
panel (under Voilà, changes made to a FigureWidget before it is first displayed never reach the browser).

Example:
    >>> info = {"meter": {"old_before": 0.9, "old_after": 0.8, "new_after": 0.7, "forgetting": -0.1}}
    >>> [label for label, _value in meter_bars(info)]
    ['old data: before', 'old data: after', 'new data: after']
"""

from __future__ import annotations

import html
from typing import Optional

import plotly.graph_objects as go

from lepton_widgets.i18n import _
from lepton_widgets.panels.figures import figure_widget

#: Bar colours: with replay, without replay.
COLOURS = ("#1f77b4", "#d62728")


def meter_bars(info: dict) -> list[tuple[str, Optional[float]]]:
    """(bar label, accuracy) of one ``update.json``'s meter, in the order they are drawn."""
    meter = info.get("meter") or {}
    bars = [(_("old data: before"), meter.get("old_before")), (_("old data: after"), meter.get("old_after"))]
    if meter.get("new_before") is not None:
        bars.append((_("new data: before"), meter.get("new_before")))
    bars.append((_("new data: after"), meter.get("new_after")))
    return bars


def meter_figure(info: dict) -> go.FigureWidget:
    """The forgetting meter of a version (and of its no-replay comparison, if any) as grouped bars."""
    used = info["replay"]["used"]
    variants = [(_("replay {count}").format(count=used) if used else _("no replay"), info)]
    compare = info.get("compare")
    if compare:
        variants.append((_("no replay"), {"meter": compare["meter"]}))
    labels = [label for label, _value in meter_bars(info)]
    traces = []
    for (name, variant), colour in zip(variants, COLOURS):
        values = dict(meter_bars(variant))
        y = [values.get(label) for label in labels]
        traces.append(go.Bar(x=labels, y=y, name=name, marker_color=colour,
                             text=[f"{v:.2f}" if v is not None else "" for v in y], textposition="outside",
                             hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>"))
    meter = info["meter"]
    title = _("forgetting meter: old data {before} → {after} (forgetting {forgetting})").format(
        before=f"{meter['old_before']:.2f}", after=f"{meter['old_after']:.2f}",
        forgetting=f"{meter['forgetting']:+.2f}")
    if compare:
        title += _("; without replay {forgetting}").format(forgetting=f"{compare['meter']['forgetting']:+.2f}")
    fig = go.Figure(data=traces, layout={
        "title": {"text": title, "font": {"size": 13}}, "barmode": "group", "height": 340,
        "yaxis": {"title": _("test accuracy"), "range": [0, 1.12]}, "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
        "legend": {"orientation": "h", "y": -0.15}})
    return figure_widget(fig)


def version_html(record, info: dict) -> str:
    """A version's run id, parent, added classes, accuracy, no-replay variant and warnings, as HTML lines."""
    added = info["classes"]["added"]
    version = "<b>" + html.escape(_("Version {number}").format(number=info["version"])) + "</b>"
    accuracy = f"{record.metrics.get('accuracy', float('nan')):.3f}"
    lines = [_("{version} of {parent}: run {run}").format(
                 version=version, parent=f"<code>{html.escape(info['parent'])}</code>",
                 run=f"<code>{html.escape(record.run_id)}</code>"),
             html.escape(_("classes added: {classes}; test accuracy on old + new data {accuracy}").format(
                 classes=", ".join(added) or _("none"), accuracy=accuracy))]
    if info.get("compare"):
        lines.append(_("no-replay variant: run {run}").format(
            run=f"<code>{html.escape(info['compare']['run_id'])}</code>"))
    lines += [f"<span style='color:#b26b00'>{html.escape(text)}</span>" for text in info.get("warnings", [])]
    return "<br>".join(lines)
