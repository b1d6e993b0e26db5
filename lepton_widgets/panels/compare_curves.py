"""Compare runs: the training and validation curves of several finished runs on one chart.

This is how overfitting is taught: for each chosen run, its training curve (dashed) and its validation curve
(solid) of one metric (loss or accuracy), one colour per run, legend "name · training" / "name · validation".
The runs and their per-epoch history come from the run store (``RunRecord.history``, one dict per epoch:
``epoch``, ``phase``, ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``); the list of runs refreshes when
``session.runs_version`` changes (the Runner bumps it when a run starts and ends).

The chart is a new ``FigureWidget`` per choice, built complete in its constructor (under Voilà, changes made
to a FigureWidget before it is first displayed never reach the browser); before anything is chosen a short
sentence stands in its place, so an empty page loads no chart.

Example:
    >>> from lepton_widgets.core.runs.store import RunStore
    >>> from lepton_widgets.state import Session
    >>> view = CompareRunsView(Session(), RunStore("/tmp/lepton-doc-empty-runs"))
    >>> view.select.options, view.figure
    ((), None)
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import plotly.graph_objects as go

from lepton_widgets.core.runs.store import RunRecord, RunStore, run_label, run_name
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.panels.glossary import term

#: One colour per chosen run, in the order chosen.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
#: The metrics offered: value (the training key; validation adds ``val_``) -> its words.
METRICS = {"loss": N_("loss"), "accuracy": N_("accuracy")}
PLACEHOLDER = N_("Choose one or more finished runs above to draw their curves on one chart.")
NO_RUNS = N_("No finished runs yet: train one (or two, with different settings) to compare them here.")


def run_curves(record: RunRecord, metric: str) -> dict:
    """``{"epochs", "training", "validation"}`` of ``record``'s stored history for ``metric``."""
    history = record.history
    return {"epochs": [row.get("epoch") for row in history],
            "training": [row.get(metric) for row in history],
            "validation": [row.get(f"val_{metric}") for row in history]}


def legend_names(name: str) -> tuple[str, str]:
    """The legend entries of one run: ("name · training", "name · validation") in the current language."""
    return (_("{name} · training").format(name=name), _("{name} · validation").format(name=name))


def compare_figure(runs: list[tuple[str, dict]], metric: str) -> go.FigureWidget:
    """One chart: for each ``(name, run_curves(...))``, training dashed and validation solid, in one colour."""
    traces = []
    for i, (name, curves) in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        for (label, dash), key in zip(((legend_names(name)[0], "dash"), (legend_names(name)[1], "solid")),
                                      ("training", "validation")):
            traces.append(go.Scatter(
                x=curves["epochs"], y=curves[key], name=label, legendgroup=name, mode="lines+markers",
                line={"color": colour, "dash": dash},
                hovertemplate=_("epoch") + " %{x}<br>%{y:.4f}<extra>" + html.escape(label) + "</extra>"))
    layout = go.Layout(
        height=340, margin={"l": 55, "r": 20, "t": 40, "b": 40},
        title={"text": _("Training (dashed) and validation (solid) {metric} per epoch").format(
            metric=_(METRICS[metric])), "font": {"size": 13}},
        xaxis={"title": _("epoch"), "rangemode": "tozero", "dtick": 1},
        yaxis={"title": _(METRICS[metric]), **({"range": [0, 1.02]} if metric == "accuracy" else {})},
        legend={"orientation": "v"})
    return figure_widget(go.Figure(data=traces, layout=layout))


class CompareRunsView:
    """Choose finished runs and a metric; their training and validation curves share one chart.

    Key widgets: ``widget`` (lepton-compare-runs), ``select`` (SelectMultiple of run ids, labelled by the runs'
    names), ``metric`` (``"loss"`` or ``"accuracy"``), ``figure`` (the current FigureWidget, or None while
    nothing is chosen).
    """

    def __init__(self, session, store: RunStore) -> None:
        self.session, self.store = session, store
        self.records: dict[str, RunRecord] = {}
        self.figure: Optional[go.FigureWidget] = None
        self._refreshing = False
        title = html.escape(_("Compare runs"))
        self.heading = w.HTML(f"<h4 style='margin:8px 0 4px 0'>{title}</h4>"
                              f"<div style='font-size:12px;color:#555'>"
                              + _("Each {run} draws its {training} curve dashed and its {validation} curve solid "
                                  "in one colour. When the training curve keeps improving while the validation "
                                  "curve stalls or gets worse, the model is {overfitting}.").format(
                                      run=term("run"), training=html.escape(_("training")),
                                      validation=term("validation"), overfitting=term("overfitting"))
                              + "</div>")
        self.select = w.SelectMultiple(options=[], rows=5, description=_("Runs"),
                                       tooltip=_("Hold Ctrl (or Cmd) to choose several runs"),
                                       layout=w.Layout(width="460px"))
        self.metric = w.ToggleButtons(options=[(_(label), value) for value, label in METRICS.items()],
                                      value="loss", description=_("Show"),
                                      tooltips=[_("How wrong the model is; lower is better"),
                                                _("The share of examples it gets right; higher is better")],
                                      style={"button_width": "90px"})
        self.refresh_button = w.Button(description=_("Refresh"), tooltip=_("Read the list of runs again"))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.message = w.HTML()
        self.figure_box = w.Box([w.HTML(f"<i>{html.escape(_(PLACEHOLDER))}</i>")])
        self.select.observe(self._redraw, names="value")
        self.metric.observe(self._redraw, names="value")
        session.observe(lambda _c: self.refresh(), names="runs_version")
        self.widget = w.VBox([self.heading, w.HBox([self.select, w.VBox([self.metric, self.refresh_button])]),
                              self.message, self.figure_box])
        self.widget.add_class("lepton-compare-runs")
        self.refresh()

    def refresh(self) -> None:
        """Re-read the finished runs (those with a history), newest first; keeps the runs still there chosen."""
        records = [record for record in self.store.runs(include_incomplete=False)
                   if record.status == "finished" and record.history]
        self.records = {record.run_id: record for record in records}
        options = [(run_label(record), record.run_id) for record in reversed(records)]
        before = tuple(self.select.value)
        keep = tuple(run_id for run_id in before if run_id in self.records)
        self._refreshing = True  # new options reset the value: draw once at the end
        try:
            self.select.options = options
            self.select.value = keep
        finally:
            self._refreshing = False
        self.message.value = "" if records else f"<i>{html.escape(_(NO_RUNS))}</i>"
        if keep != before or (self.figure is None and keep):
            self._redraw()

    def _names(self, run_ids) -> list[str]:
        """Each chosen run's name; a name two chosen runs share gets the end of its run id to tell them apart."""
        names = [run_name(self.records[run_id]) or run_id for run_id in run_ids]
        return [f"{name} ({run_id[-6:]})" if names.count(name) > 1 else name for name, run_id in zip(names, run_ids)]

    def _redraw(self, _change=None) -> None:
        if self._refreshing:
            return
        chosen = [run_id for run_id in self.select.value if run_id in self.records]
        runs = [(name, run_curves(self.records[run_id], self.metric.value))
                for name, run_id in zip(self._names(chosen), chosen)]
        old, self.figure = self.figure, compare_figure(runs, self.metric.value) if runs else None
        self.figure_box.children = [self.figure if self.figure is not None
                                    else w.HTML(f"<i>{html.escape(_(PLACEHOLDER))}</i>")]
        if old is not None:
            old.close()  # its comm is no longer needed once it left the page
