"""Fusion panel: pick finished runs and a method, Fuse, and see the members against the fused model.

The run list holds the finished runs of the run store and refreshes when ``session.runs_version`` changes
(the Runner bumps it when a run starts or ends) or on Refresh. Choosing runs or a method checks them at once
(``core.fusion.fuse.check_compatible``, which reads only the runs' configs) and says plainly what differs when they
cannot be fused that way; the Fuse button is enabled only for a valid choice. Fuse runs in the Runner's
worker thread (``runner.submit``), so the widgets stay responsive; when it ends, the fused run becomes the
current run (the Evaluate panel shows it) and this panel shows a bar chart of validation and test accuracy,
members next to the fused model, and a table with the log-losses and the ensemble weights or soup membership.

The chart is a new ``FigureWidget`` per result, built complete in its constructor, because under Voilà changes
made to a FigureWidget before it is first displayed never reach the browser.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = FusionPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-empty-runs"))
    >>> panel.method.value, panel.fuse_button.disabled
    ('ensemble', True)
    >>> panel.select.value = ("run-a", "run-b")    # doctest: +SKIP
    >>> panel.fuse_button.click()                  # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.fusion.fuse import check_compatible, comparison_frame, fusion_info
from lepton_widgets.core.fusion.methods import METHODS
from lepton_widgets.core.runs.store import RunRecord, run_label
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.state.runner import BusyError

PLACEHOLDER = N_("Fuse runs to compare the members with the fused model here.")
LABELS = {"ensemble": N_("Ensemble (optimised weights)"), "uniform-soup": N_("Uniform soup"),
          "greedy-soup": N_("Greedy soup"), "distill": N_("Distill the ensemble")}
#: What each method does, in plain words (the engine's ``DESCRIPTIONS``, for the person choosing).
ABOUT = {
    "ensemble": N_("Several models vote together: their answers are averaged, with weights chosen on the "
                   "validation set."),
    "uniform-soup": N_("The models' weights are averaged into one model (they must share architecture and "
                       "starting weights)."),
    "greedy-soup": N_("Models are added to a weight average one by one, as long as validation accuracy does "
                      "not drop."),
    "distill": N_("One small model is trained to copy the ensemble's answers (it learns from their soft "
                  "labels)."),
}
#: Roles in the members-vs-fused table and chart; a fused row's role is its method.
#: (The methods keep their engine names in English: the CLI and the run names use them.)
ROLES = {"member": N_("member"), "best member": N_("best member"), "ensemble": N_("ensemble"),
         "uniform-soup": N_("uniform-soup"), "greedy-soup": N_("greedy-soup"), "distill": N_("distill")}
#: How a fusion that made no model ended.
ENDINGS = {"failed": N_("failed"), "cancelled": N_("cancelled")}
#: Column headers of the members-vs-fused table.
COLUMNS = {"run_id": N_("run"), "role": N_("role"), "weight": N_("weight"), "val_accuracy": N_("val acc"),
           "val_log_loss": N_("val log-loss"), "test_accuracy": N_("test acc"),
           "test_log_loss": N_("test log-loss")}


def comparison_figure(frame: pd.DataFrame) -> go.FigureWidget:
    """Grouped bars: validation and test accuracy of each member and of the fused model (last)."""
    labels = [_short(row.run_id, row.role) for row in frame.itertuples()]
    colors = ["#2ca02c" if role not in ("member", "best member") else "#9aa5b1" for role in frame["role"]]
    fig = go.Figure([
        go.Bar(name=_("val accuracy"), x=labels, y=frame["val_accuracy"].tolist(),
               marker={"color": colors, "pattern": {"shape": "/"}}, text=[f"{v:.3f}" for v in frame["val_accuracy"]],
               textposition="outside"),
        go.Bar(name=_("test accuracy"), x=labels, y=frame["test_accuracy"].tolist(), marker={"color": colors},
               text=[f"{v:.3f}" for v in frame["test_accuracy"]], textposition="outside"),
    ])
    low = float(min(frame["val_accuracy"].min(), frame["test_accuracy"].min()))
    fig.update_layout(barmode="group", height=320, margin={"l": 50, "r": 20, "t": 40, "b": 80},
                      yaxis={"title": _("accuracy"), "range": [max(0.0, low - 0.1), 1.02]},
                      title={"text": _("members vs fused (hatched: validation, solid: test)"), "font": {"size": 13}},
                      legend={"orientation": "h", "y": -0.35})
    return figure_widget(fig)


def _short(run_id: str, role: str) -> str:
    # Run ids start with a 16-character timestamp: the name and suffix tell runs apart in a chart.
    label = run_id[16:] if len(run_id) > 16 else run_id
    return f"{label} ({_role(role)})" if role not in ("member",) else label


def _role(role: str) -> str:
    return _(ROLES[role]) if role in ROLES else role


def comparison_html(frame: pd.DataFrame) -> str:
    table = frame.assign(role=[_role(role) for role in frame["role"]])
    table = table.rename(columns={key: _(label) for key, label in COLUMNS.items()})
    return table.to_html(index=False, na_rep="", border=0, float_format=lambda v: f"{v:.3f}",
                         classes="lepton-fusion-table")


class FusionPanel(Panel):
    """Fuse finished runs: run list, method, name, Fuse / Stop, message, chart and table.

    Key widgets: ``select`` (SelectMultiple of finished run ids), ``method`` (Dropdown of ``METHODS``),
    ``name`` (Text, optional), ``fuse_button`` (lepton-fuse-button), ``message`` (HTML: what is wrong or
    what happened), ``figure`` (the current chart, None until a fused run is shown), ``table`` (HTML).
    ``record`` is the fused run shown.
    """

    title = "Fusion"

    def build(self) -> w.Widget:
        self.frame = pd.DataFrame()
        self.record: Optional[RunRecord] = None
        self.figure: Optional[go.FigureWidget] = None
        self._refreshing = False
        self.select = w.SelectMultiple(options=[], rows=8, description=_("Runs"), layout=w.Layout(width="620px"))
        self.method = w.Dropdown(options=[(_(LABELS[m]), m) for m in METHODS], value="ensemble",
                                  description=_("Method"))
        self.about = w.HTML()
        self.name = w.Text(value="", placeholder=_("default: method-of-N"), description=_("Name"))
        self.fuse_button = w.Button(description=_("Fuse"), button_style="primary", disabled=True,
                                    tooltip=_("Combine the selected runs into a new run"))
        self.fuse_button.add_class("lepton-fuse-button")
        self.stop_button = w.Button(description=_("Stop"), disabled=True,
                                    tooltip=_("Stop fusing after this batch"))
        self.refresh_button = w.Button(description=_("Refresh"), tooltip=_("Look again for finished runs"))
        self.message = w.HTML()
        self.table = w.HTML()
        self.figure_box = w.Box([w.HTML(f"<i>{html.escape(_(PLACEHOLDER))}</i>")])

        self.select.observe(self._on_choice, names="value")
        self.method.observe(self._on_choice, names="value")
        self.fuse_button.on_click(lambda _b: self.fuse())
        self.stop_button.on_click(lambda _b: self.runner.stop())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.session.observe(lambda _c: self.refresh(), names="runs_version")
        self.session.observe(self._on_status, names="status")
        self.session.observe(lambda _c: self._update_buttons(), names="busy")
        self.refresh()
        controls = w.VBox([self.method, self.about, self.name,
                           w.HBox([self.fuse_button, self.stop_button, self.refresh_button])])
        intro = w.HTML("<div style='font-size:13px'>" + _(
            "Combine finished runs into one model: an {ensemble} lets them vote, a soup averages their "
            "weights. The {validation} chooses how; the {test} measures the result.").format(
            ensemble=term("ensemble"), validation=term("validation"), test=term("test_set")) + "</div>")
        return w.VBox([intro, w.HBox([self.select, controls]), self.message, self.figure_box, self.table,
                       words_used_here(["ensemble", "validation", "test_set", "accuracy", "loss"])])

    # --- runs and choice ---------------------------------------------------------------------------

    @property
    def run_ids(self) -> list[str]:
        """Finished runs that can be chosen, oldest first."""
        return [] if self.frame.empty else list(self.frame["run_id"])

    def refresh(self) -> None:
        """Re-read the run store; keeps the selection of runs that are still there."""
        frame = self.runner.store.frame(include_incomplete=False)
        self.frame = frame[frame["status"] == "finished"].reset_index(drop=True) if not frame.empty else frame
        options = [(self._label(row), row["run_id"]) for _, row in self.frame.iloc[::-1].iterrows()]
        keep = tuple(run_id for run_id in self.select.value if run_id in self.run_ids)
        self._refreshing = True  # new options reset the value: check the choice once, at the end
        try:
            self.select.options = options
            self.select.value = keep
        finally:
            self._refreshing = False
        self._on_choice()

    @staticmethod
    def _label(row: pd.Series) -> str:
        accuracy = row.get("accuracy")
        score = (_(", test acc {accuracy}").format(accuracy=f"{accuracy:.3f}")
                 if isinstance(accuracy, float) and accuracy == accuracy else "")
        return run_label(row, f"{row.get('backbone')}{score}")

    def _records(self) -> list[RunRecord]:
        return [self.runner.store.open(run_id) for run_id in self.select.value]

    def problem(self) -> Optional[str]:
        """Why the current choice cannot be fused (None when it can)."""
        if len(self.select.value) < 2:
            return _("Select two or more finished runs (Ctrl/Shift-click).")
        try:
            check_compatible(self._records(), self.method.value)
        except (ValueError, FileNotFoundError) as error:
            return str(error)
        return None

    def _on_choice(self, _change=None) -> None:
        if self._refreshing:
            return
        self.about.value = f"<small>{html.escape(_(ABOUT[self.method.value]))}</small>"
        problem = self.problem()
        if problem is None:
            self.message.value = html.escape(_(
                "Ready: {method} of {count} runs (the validation set picks weights and members; the test set "
                "measures the result).").format(method=_role(self.method.value), count=len(self.select.value)))
        elif len(self.select.value) >= 2:
            self._say(_("Cannot fuse these runs: {problem}").format(problem=problem))
        else:
            self.message.value = html.escape(problem)
        self._update_buttons()

    def _update_buttons(self) -> None:
        fusing = self.session.busy and self.session.job == "fuse"
        self.fuse_button.disabled = self.session.busy or self.problem() is not None
        self.stop_button.disabled = not fusing

    def _say(self, text: str) -> None:
        self.message.value = f"<span style='color:#b00020'>{html.escape(text)}</span>"

    # --- fusing ------------------------------------------------------------------------------------

    def fuse(self):
        """Start fusing the selected runs in the worker thread (what the Fuse button does); returns the
        thread, or None with the reason in ``message`` when the choice is not valid or a job is running."""
        problem = self.problem()
        if problem is not None:
            self._say(_("Cannot fuse these runs: {problem}").format(problem=problem))
            return None
        records, method = self._records(), self.method.value
        name = self.name.value.strip() or None
        store = self.runner.store

        def work(job: Job):
            from lepton_widgets.core.fusion.fuse import fuse  # the engine imports TensorFlow: in the worker

            return fuse(records, method, store=store, name=name, job=job)

        def done(record: RunRecord) -> None:
            session = self.session
            session.status = record.status
            session.current_run = record.run_id
            session.runs_version += 1
            if record.status == "finished":
                session.evaluation = record.evaluation
                self.show(record)
                gain = fusion_info(record)["gain_over_best_member"]
                session.message = _("{method}: val accuracy {val}, test accuracy {test} vs the best member").format(
                    method=_role(method), val=f"{gain['val_accuracy']:+.3f}", test=f"{gain['test_accuracy']:+.3f}")
                self.message.value = _("Fused run {run}: {summary}.").format(
                    run=f"<code>{html.escape(record.run_id)}</code>", summary=html.escape(session.message))
            else:
                self.message.value = html.escape(_("Fusion {status}; no fused model.").format(
                    status=_(ENDINGS[record.status]) if record.status in ENDINGS else record.status))

        try:
            thread = self.runner.submit("fuse", work, done)
        except BusyError as error:
            self._say(str(error))
            return None
        self.message.value = html.escape(_("Fusing {count} runs ({method})...").format(count=len(records),
                                                                                     method=_role(method)))
        self._update_buttons()
        return thread

    def _on_status(self, change) -> None:
        if self.session.job != "fuse":
            return
        if change["new"] == "failed":
            self._say(_("Fusion failed: {error}").format(error=self.session.last_error))
        elif change["new"] == "cancelled":
            self.message.value = _("Fusion stopped; nothing was fused.")
        self._update_buttons()

    def show(self, record: RunRecord) -> None:
        """Show a fused run's members vs fused chart and table."""
        frame = comparison_frame(record)
        self.record = record
        old, self.figure = self.figure, comparison_figure(frame)
        self.figure_box.children = [self.figure]
        self.table.value = comparison_html(frame)
        if old is not None:
            old.close()  # its comm is no longer needed once it left the page
