"""Train panel: training settings, Train / Stop, progress, live loss and accuracy curves, readable errors.

Every control is linked to a Session trait, so what is set here is what ``session.to_config()`` (and the
Code panel) shows. Train calls ``runner.train()``, which returns at once: training runs in the Runner's
worker thread and its events arrive here as Session trait changes (history, progress, status, message),
from that thread. The curves are a Plotly ``FigureWidget`` built with its four traces in the constructor
(under Voilà, changes made before a FigureWidget is first displayed never reach the browser) and then
only have their x/y replaced, inside ``batch_update()`` so one epoch is one message.
Training curves are dashed and validation curves solid, each metric's pair on one chart (as in the
"Compare runs" view below them, :mod:`lepton_widgets.panels.compare_curves`, which draws finished runs together).
The adversarial-training toggles (attack, epsilon, share of each batch) are Session traits like the rest;
epsilon and share are greyed out while the attack is off.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
    >>> panel = TrainPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-runs"))
    >>> panel.controls["epochs"].value = 2
    >>> session.epochs
    2
    >>> panel.train_button.click()          # doctest: +SKIP
    >>> # ...returns at once; the run trains in the worker thread and the curves grow per epoch
    >>> [trace.name for trace in panel.curves.data]
    ['training loss', 'validation loss', 'training accuracy', 'validation accuracy']
"""

from __future__ import annotations

import html

import ipywidgets as w
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lepton_widgets.panels.figures import figure_widget
from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.runs.store import RUN_NAME_MAX, check_run_name
from lepton_widgets.i18n import N_, _
from lepton_widgets.i18n.glossary import entry
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.compare_curves import CompareRunsView
from lepton_widgets.panels.glossary import words_used_here
from lepton_widgets.state.runner import BusyError, phase_label, task_label

#: (history key, trace name, subplot column, dashed); data[0] is the training loss. Training is dashed and
#: validation solid, as in the Compare runs view.
CURVES = (("loss", N_("training loss"), 1, True), ("val_loss", N_("validation loss"), 1, False),
          ("accuracy", N_("training accuracy"), 2, True), ("val_accuracy", N_("validation accuracy"), 2, False))

#: Session status -> words (the status values stay as they are: CSS classes and tests use them).
STATUS_WORDS = {"idle": N_("ready"), "preparing": N_("preparing"), "waiting": N_("waiting"), "running": N_("training"),
                "evaluating": N_("evaluating"), "stopping": N_("stopping"), "finished": N_("finished"),
                "failed": N_("failed"), "cancelled": N_("stopped"), "damaged": N_("damaged"),
                "interrupted": N_("interrupted")}

#: The glossary terms this step uses (the "Words used here" line).
TERMS_USED = ["epoch", "learning_rate", "batch_size", "dropout", "l2", "early_stopping", "fine_tuning", "head",
              "validation", "overfitting", "loss", "accuracy", "adversarial", "run"]


def status_word(status: str) -> str:
    """A run or Session status in words, in the current language (unknown ones as they are)."""
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def _meaning(key: str) -> str:
    """The glossary's plain-words meaning of ``key``: the tooltip of the control that sets it."""
    return entry(key)[1]

_WIDE = {"description_width": "150px"}


def _layout() -> w.Layout:
    """A Layout of its own for each control: a shared Layout is one model in the browser, so hiding one
    control (``layout.display = "none"``) would hide every control that shares it."""
    return w.Layout(width="330px")


def _controls() -> dict[str, w.ValueWidget]:
    """One control per training setting, keyed by the Session trait it edits. Ranges are at least as wide
    as what the config accepts, so a loaded config is never clamped by a widget."""
    return {
        "epochs": w.BoundedIntText(min=1, max=1000, description=_("Epochs (head)"), tooltip=_meaning("epoch"),
                                   style=_WIDE, layout=_layout()),
        "fine_tune_epochs": w.BoundedIntText(min=0, max=1000, description=_("Fine-tune epochs"),
                                             tooltip=_meaning("fine_tuning"), style=_WIDE, layout=_layout()),
        "learning_rate": w.FloatLogSlider(min=-7, max=-0.01, step=0.1, readout_format=".1e",
                                          description=_("Learning rate"), tooltip=_meaning("learning_rate"),
                                          style=_WIDE, layout=_layout()),
        "batch_size": w.BoundedIntText(min=1, max=8192, description=_("Batch size"), tooltip=_meaning("batch_size"),
                                       style=_WIDE, layout=_layout()),
        "l2": w.BoundedFloatText(min=0.0, max=100.0, step=1e-4, description=_("L2 penalty (head)"),
                                 tooltip=_meaning("l2"), style=_WIDE, layout=_layout()),
        "dropout": w.FloatSlider(min=0.0, max=0.95, step=0.05, description=_("Dropout (head)"),
                                 tooltip=_meaning("dropout"), style=_WIDE, layout=_layout()),
        "head_units": w.BoundedIntText(min=0, max=65536, description=_("Hidden units (0 = none)"),
                                       tooltip=_("Size of an extra hidden layer in the head; 0 adds none"),
                                       style=_WIDE, layout=_layout()),
        "early_stopping_patience": w.BoundedIntText(min=0, max=1000, description=_("Early stop (0 = off)"),
                                                    tooltip=_meaning("early_stopping"), style=_WIDE,
                                                    layout=_layout()),
        "seed": w.IntText(description=_("Seed"), tooltip=_("The same seed gives the same run again"), style=_WIDE,
                          layout=_layout()),
        # Adversarial training (core/tasks/image/adversarial.py): epsilon is on pixels scaled to [0, 1].
        "adversarial": w.Dropdown(options=[(_("off"), "none"), ("FGSM", "fgsm"), ("PGD", "pgd")],
                                  description=_("Adversarial training"), tooltip=_meaning("adversarial"),
                                  style=_WIDE, layout=_layout()),
        "adversarial_epsilon": w.BoundedFloatText(min=0.0, max=1.0, step=0.005, description=_("Attack strength ε"),
                                                  tooltip=_("How far each pixel may be pushed (pixels in [0, 1]); "
                                                            "8/255 is about 0.031"),
                                                  style=_WIDE, layout=_layout()),
        "adversarial_ratio": w.BoundedFloatText(min=0.0, max=1.0, step=0.05, description=_("Share attacked"),
                                                tooltip=_("Fraction of each batch replaced by attacked images"),
                                                style=_WIDE, layout=_layout()),
    }


def curves_figure(history: list[dict]) -> go.FigureWidget:
    """Loss and accuracy, train and val, per epoch; built complete in the constructor (see module doc)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("loss"), _("accuracy")), horizontal_spacing=0.12)
    for key, label, col, dashed in CURVES:
        name = _(label)
        fig.add_trace(go.Scatter(
            x=[row.get("epoch") for row in history], y=[row.get(key) for row in history],
            text=_phases(history), name=name, mode="lines+markers",
            line={"color": "#1f77b4" if col == 1 else "#2ca02c", "dash": "dash" if dashed else "solid"},
            hovertemplate=_("epoch") + " %{x} (%{text})<br>%{y:.4f}<extra>" + html.escape(name) + "</extra>"),
            row=1, col=col)
    fig.update_xaxes(title_text=_("epoch"), rangemode="tozero")
    fig.update_layout(height=320, margin={"l": 50, "r": 20, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return figure_widget(fig)


def _phases(history) -> list[str]:
    return [phase_label(str(row.get("phase", ""))) for row in history]


def draw_history(curves, history) -> None:
    """Put ``history`` (one dict per epoch, the Session's) on a :func:`curves_figure` in one update."""
    rows = list(history)
    epochs = [row.get("epoch") for row in rows]
    phases = _phases(rows)
    with curves.batch_update():
        for trace, (key, *_rest) in zip(curves.data, CURVES):
            trace.x, trace.y, trace.text = epochs, [row.get(key) for row in rows], phases


def _progress_words(task: str) -> str:
    """The progress bar's label: "epoch 3" or an engine task, in words."""
    if task.startswith("epoch "):
        return _("epoch {epoch}").format(epoch=task[len("epoch "):])
    return task_label(task)


class TrainPanel(Panel):
    """Training settings and the live view of a training run.

    Key widgets (also reachable by CSS class in the browser): ``train_button`` (lepton-train-button),
    ``stop_button`` (lepton-stop-button), ``progress`` (lepton-progress), ``status`` (lepton-status),
    ``curves`` (lepton-curves, a FigureWidget) and ``error`` (lepton-error: message + traceback Accordion).

    Example:
        >>> from lepton_widgets.state import Runner, Session
        >>> session = Session()
        >>> panel = TrainPanel(session, Runner(session))
        >>> session.dropout = 0.5; panel.controls["dropout"].value
        0.5
    """

    title = N_("Train")

    def build(self) -> w.Widget:
        session = self.session
        self.controls = _controls()
        for trait, control in self.controls.items():
            w.link((session, trait), (control, "value"))
        # The run's name, shown in every list of runs; "run" (the default) becomes "<dataset>-<backbone>".
        self.name = w.Text(description=_("Run name"), placeholder=_("e.g. Anna digits 1"), style=_WIDE,
                           layout=_layout(),
                           tooltip=_("Letters, digits, spaces, - _ . (at most {count})").format(count=RUN_NAME_MAX))
        self.name.add_class("lepton-run-name")
        w.link((session, "name"), (self.name, "value"))
        self.name_note = w.HTML()
        self.name_note.add_class("lepton-run-name-note")
        session.observe(self._on_name, names="name")
        self.adversarial_note = w.HTML(layout=w.Layout(margin="0 0 0 12px"))
        self.adversarial_note.add_class("lepton-adversarial-note")
        session.observe(self._on_adversarial, names=["adversarial", "adversarial_epsilon", "adversarial_ratio"])
        self._on_adversarial()

        self.train_button = w.Button(description=_("Train"), button_style="success", tooltip=_("Train a new run"))
        self.train_button.add_class("lepton-train-button")
        self.train_button.on_click(self._on_train)
        self.stop_button = w.Button(description=_("Stop"), button_style="danger",
                                    tooltip=_("Stop after this batch"), disabled=True)
        self.stop_button.add_class("lepton-stop-button")
        self.stop_button.on_click(self._on_stop)

        self.progress = w.IntProgress(min=0, max=1, value=0, description="", style={"description_width": "90px"},
                                      layout=w.Layout(width="420px"))
        self.progress.add_class("lepton-progress")
        self.status = w.HTML()
        self.status.add_class("lepton-status")
        # Settings that will not learn (a frozen random backbone): said before anyone waits for a run.
        self.warnings = w.HTML()
        self.warnings.add_class("lepton-run-warnings")
        session.observe(self._on_warnings, names="run_warnings")
        self._on_warnings()

        self.curves = curves_figure(list(session.history))
        self.curves.add_class("lepton-curves")

        self.error_message = w.HTML()
        self.traceback = w.HTML()
        self.error_details = w.Accordion(children=[self.traceback], titles=(_("Details (traceback)"),),
                                         selected_index=None)
        self.error = w.VBox([self.error_message, self.error_details])
        self.error.add_class("lepton-error")

        session.observe(self._on_history, names="history")
        session.observe(self._on_progress, names="progress")
        session.observe(self._on_status, names=["status", "message", "busy"])
        session.observe(self._on_error, names=["last_error", "last_traceback"])
        self._on_progress()
        self._on_status()
        self._on_error()
        self._on_name()

        # Finished runs' training and validation curves together (issue 16), below the live view.
        self.compare = CompareRunsView(session, self.runner.store)
        self.words_used = words_used_here(TERMS_USED)

        settings = w.VBox([self.name, self.name_note, *self.controls.values(), self.adversarial_note],
                          layout=w.Layout(min_width="340px"))
        live = w.VBox([self.warnings, w.HBox([self.train_button, self.stop_button]), self.progress, self.status,
                       self.curves,
                       self.error], layout=w.Layout(flex="1 1 auto"))
        return w.VBox([self.words_used, w.HBox([settings, live]), self.compare.widget])

    # --- actions ----------------------------------------------------------------------------------

    def _on_train(self, _button=None) -> None:
        try:
            self.runner.train()
        except (ConfigError, BusyError) as error:
            # Raised before any thread starts: say what is wrong here, the run never began.
            self.session.last_traceback = ""
            self.session.last_error = str(error)
            self.session.message = _("cannot start: {error}").format(error=error)

    def _on_stop(self, _button=None) -> None:
        self.runner.stop()

    # --- Session -> widgets (may run in the worker thread) ------------------------------------------

    def _on_adversarial(self, _change=None) -> None:
        """Epsilon and share only matter with an attack chosen; say what they mean in pixel terms."""
        session = self.session
        off = session.adversarial == "none"
        self.controls["adversarial_epsilon"].disabled = off
        self.controls["adversarial_ratio"].disabled = off
        self.adversarial_note.value = "" if off else "<small>{}</small>".format(html.escape(
            _("{attack} at ε = {epsilon} (≈ {pixels}/255 per pixel) on {share} of each batch; no feature cache, "
              "so training is slower.").format(attack=session.adversarial.upper(),
                                               epsilon=f"{session.adversarial_epsilon:g}",
                                               pixels=f"{session.adversarial_epsilon * 255:.1f}",
                                               share=f"{session.adversarial_ratio:.0%}")))

    def _on_warnings(self, _change=None) -> None:
        self.warnings.value = "".join(
            f'<div style="color:#b45309;font-weight:bold">&#9888; {html.escape(text)}</div>'
            for text in self.session.run_warnings)

    def _on_history(self, _change=None) -> None:
        draw_history(self.curves, self.session.history)

    def _on_progress(self, _change=None) -> None:
        progress = self.session.progress or {}
        total, done = int(progress.get("total") or 0), int(progress.get("done") or 0)
        self.progress.max = max(total, 1)  # max first: value is clamped to the old max otherwise
        self.progress.value = min(done, self.progress.max)
        self.progress.description = _progress_words(str(progress.get("task", "")))[:14]

    def _name_problem(self) -> str:
        if self.session.name == RunConfig.name:
            return ""  # the default: the Runner names the run after its data and backbone
        try:
            check_run_name(self.session.name)
        except ValueError as error:
            return str(error)
        return ""

    def _on_name(self, _change=None) -> None:
        problem = self._name_problem()
        self.name_note.value = f"<small style='color:#b00020'>{html.escape(problem)}</small>" if problem else ""
        self._on_status()

    def _on_status(self, _change=None) -> None:
        session = self.session
        busy = session.busy
        self.train_button.disabled = busy or bool(self._name_problem())
        self.stop_button.disabled = not busy or session.status == "stopping"
        self.status.value = (f"<span class='lepton-status-{session.status}'><b>{html.escape(status_word(session.status))}"
                             f"</b></span> {html.escape(session.message)}")

    def _on_error(self, _change=None) -> None:
        error, trace = self.session.last_error, self.session.last_traceback
        label = html.escape(_("Error:"))
        self.error_message.value = (f"<span style='color:#b00020'><b>{label}</b> "
                                    f"{html.escape(error)}</span>") if error else ""
        self.traceback.value = f"<pre style='white-space:pre-wrap;font-size:11px'>{html.escape(trace)}</pre>"
        self.error_details.layout.display = None if trace else "none"
        self.error.layout.display = None if error else "none"
