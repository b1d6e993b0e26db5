"""The Update step's panel: "Update with new data" – fine-tune a finished run on new data with replay, and show the
forgetting meter.

Choose a finished run (pictures, sounds, texts or a table), the new data (a built-in dataset of the same
kind, usually with some of its classes, or the path of your own data: a folder of class folders, a .zip or a
.csv for pictures; a folder of .txt files per class or a .csv for texts; a .csv with the run's columns for a
table) and the replay size, press "Check new data" (it
loads the data and shows its classes and counts; Update stays disabled until this very choice was
checked, so no update trains on data nobody looked at), then press Update. The update runs in
the Runner's worker thread (Stop works between batches; a stopped update leaves no finished version) and
its epochs reach the Session like a training run's. When it finishes, the panel shows the new version's
run id and the forgetting meter as a bar chart: old-data accuracy before -> after, new-data accuracy, and
with "compare" the same bars for the no-replay variant.

For a built-in dataset the classes box is pre-filled with the dataset's classes the chosen run does not
know yet, so the common case (train on some classes, then add the others) is one click.

The meter and the version's summary are drawn by ``meter.py``.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = UpdatePanel(session, Runner(session, runs_dir="/tmp/lepton-doc-empty-runs"))
    >>> panel.update_button.disabled, panel.replay.value
    (True, 200)
    >>> panel.check_button.click(); panel.wait(60)   # shows the new data's classes and counts  # doctest: +SKIP
    True
    >>> panel.update_button.click()          # doctest: +SKIP
    >>> panel.runner.wait(); panel.meter is not None, panel.version_id   # doctest: +SKIP
    (True, '20260101-120500-tiny-v2-1a2b3c')
"""

from __future__ import annotations

import html
from typing import Optional

import ipywidgets as w

from lepton_widgets.config import ConfigError
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data import get_dataset, list_datasets
from lepton_widgets.core.runs.store import RunRecord, run_label
from lepton_widgets.core.tasks import task_for_run, task_named
from lepton_widgets.core.update.incremental import DEFAULT_REPLAY, new_data_config, update_info, update_run
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels._background import Latest
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.update.meter import meter_figure, version_html
from lepton_widgets.state.runner import BusyError

PATH_CHOICE = "path"
JOB = "update"
_WIDE = {"description_width": "120px"}
#: The engine's words for a run's examples (``Task.sample_words``), shown in the reader's language.
SAMPLE_WORDS = {"images": N_("images"), "texts": N_("texts"), "rows": N_("rows"), "": N_("samples")}
#: The engine's description of the own data each kind of run takes (``Updater.user_data_words``).
USER_DATA_WORDS = {
    "a folder with one subfolder per class, a .zip of such a folder or a .csv with path,label columns": N_(
        "a folder with one subfolder per class, a .zip of such a folder or a .csv with path,label columns"),
    "a folder with one subfolder of .txt files per class or a .csv with text and label columns": N_(
        "a folder with one subfolder of .txt files per class or a .csv with text and label columns"),
    "a .csv table with the run's columns": N_("a .csv table with the run's columns"),
}


def _engine_words(table: dict, words: str) -> str:
    """Words the engine gives (English), in the reader's language when the catalogue knows them."""
    return _(table[words]) if words in table else words


def _layout() -> w.Layout:
    """A Layout of its own for each control: a shared Layout is one model in the browser, so hiding one
    control (``layout.display = "none"``) would hide every control that shares it."""
    return w.Layout(width="460px")


class UpdatePanel(Panel):
    """The "Update with new data" action and its forgetting meter.

    Key widgets: ``run_choice`` (finished runs), ``data_choice`` (built-in datasets or ``path``), ``path``,
    ``classes`` (comma-separated, empty: all), ``check_button`` and ``checked`` (the new data's classes and
    counts; Update is enabled only for the choice checked last), ``replay`` (slider), ``epochs`` (0: the
    run's), ``compare``,
    ``update_button`` (lepton-update-button), ``stop_button``, ``status``, ``result`` (HTML with the version's
    run id), ``meter_box`` (lepton-update-meter; holds ``meter``, the chart) and ``error``.
    ``version_id`` is the run id of the last version made here.
    """

    title = "Update"

    def build(self) -> w.Widget:
        self.meter = None  # the shown version's forgetting meter (a FigureWidget)
        self.version_id: Optional[str] = None
        self._mine = False  # whether the Session's current job was started here
        self._refreshing = False
        self._checks = Latest()
        self._checked_key: Optional[tuple] = None  # the choice whose new data was last checked and shown

        self.run_choice = w.Dropdown(description=_("Finished run"), style=_WIDE, layout=_layout())
        self.data_choice = w.Dropdown(options=self._data_options(None), description=_("New data"), style=_WIDE,
                                      layout=_layout())
        self.path = w.Text(description=_("Path"), placeholder=_("your own data (see the hint)"), style=_WIDE,
                           layout=_layout())
        self.classes = w.Text(description=_("Classes"), placeholder=_("comma-separated; empty: every class"),
                              style=_WIDE, layout=_layout())
        self.hint = w.HTML()
        self.replay = w.IntSlider(value=DEFAULT_REPLAY, min=0, max=2000, step=10,
                                  description=_("Old examples replayed"), style=_WIDE, layout=_layout())
        self.replay.tooltip = _("How many examples of the old data are shown again while learning the new "
                                "data, so the model does not forget them")
        self.epochs = w.BoundedIntText(value=0, min=0, max=1000, description=_("Epochs (0: the run's)"),
                                       style=_WIDE, layout=_layout())
        self.compare = w.Checkbox(value=False, description=_("also train without replay (compare)"), indent=False)

        self.check_button = w.Button(description=_("Check new data"),
                                     tooltip=_("Load the new data and show its classes and counts before "
                                               "updating"))
        self.check_button.add_class("lepton-update-check-button")
        self.check_button.on_click(lambda _b: self.check())
        self.checked = w.HTML()
        self.checked.add_class("lepton-update-checked")
        self.update_button = w.Button(description=_("Update"), button_style="success", disabled=True,
                                      tooltip=_("Fine-tune the run on the checked new data as a new version"))
        self.update_button.add_class("lepton-update-button")
        self.update_button.on_click(self._on_update)
        self.stop_button = w.Button(description=_("Stop"), button_style="danger", disabled=True,
                                    tooltip=_("Stop after this batch (no version is kept)"))
        self.stop_button.on_click(lambda _b: self.runner.stop())
        self.status = w.HTML()
        self.result = w.HTML()
        self.result.add_class("lepton-update-result")
        self.error = w.HTML()
        self.error.add_class("lepton-error")
        self.meter_box = w.Box()
        self.meter_box.add_class("lepton-update-meter")

        self.run_choice.observe(self._on_choice, names="value")
        self.data_choice.observe(self._on_choice, names="value")
        self.path.observe(self._forget_check, names="value")
        self.classes.observe(self._forget_check, names="value")
        self.session.observe(lambda _c: self.refresh_runs(), names="runs_version")
        self.session.observe(self._on_status, names=["status", "message", "busy", "last_error"])
        self.refresh_runs()
        self._on_choice()
        self._on_status()

        settings = w.VBox([self.run_choice, self.data_choice, self.path, self.classes, self.hint,
                           self.check_button, self.checked, self.replay, self.epochs, self.compare])
        live = w.VBox([w.HBox([self.update_button, self.stop_button]), self.status, self.error, self.result,
                       self.meter_box])
        intro = w.HTML("<div style='font-size:13px'>" + _(
            "Teach a finished run new examples or new classes ({update}): it keeps replaying some old examples "
            "so it does not forget them, and the bars below show how much it forgot.").format(
            update=term("incremental_update")) + "</div>")
        return w.VBox([intro, settings, live, words_used_here(["incremental_update", "fine_tuning", "epoch",
                                                               "test_set", "accuracy"])])

    # --- choices ---------------------------------------------------------------------------------------

    def refresh_runs(self) -> None:
        """Re-read the finished runs with a model; keeps the choice when it still exists."""
        runs = [r for r in self.runner.store.runs(include_incomplete=False)
                if r.status == "finished" and r.model_path.exists()]
        options = [(self._label(r), r.run_id) for r in reversed(runs)]
        ids = [run_id for _label, run_id in options]
        before = self.run_choice.value
        keep = before if before in ids else None
        if keep is None and self.session.current_run in ids:
            keep = self.session.current_run
        self._refreshing = True  # new options move the value about: react once, to the final choice
        try:
            self.run_choice.options = options
            self.run_choice.value = keep if keep is not None else (ids[0] if ids else None)
        finally:
            self._refreshing = False
        if self.run_choice.value != before:
            self._on_choice()  # only a different run re-fills the classes the user may have typed
        self._on_status()

    @staticmethod
    def _data_options(parent: Optional[RunRecord]) -> list[tuple[str, str]]:
        """The built-in datasets of the run's kind of data, then "your own data"."""
        task = task_for_run(parent) if parent is not None else task_named(None)  # no run yet: the default kind
        builtin = list_datasets(modality=task.name, include_user=False)
        return [(name, name) for name in builtin] + [(_("your own data (path below)"), PATH_CHOICE)]

    @staticmethod
    def _label(record: RunRecord) -> str:
        names = record.class_names
        version = update_info(record).get("version")
        tag = f"v{version}, " if version else ""
        accuracy = record.metrics.get("accuracy")
        score = _(", acc {accuracy}").format(accuracy=f"{accuracy:.2f}") if isinstance(accuracy, float) else ""
        return run_label(record, tag + _("{count} classes").format(count=len(names)) + score)

    def _parent(self) -> Optional[RunRecord]:
        if self.run_choice.value is None:
            return None
        try:
            return self.runner.store.open(self.run_choice.value)
        except FileNotFoundError:
            return None

    def _on_choice(self, _change=None) -> None:
        """Show the path box for bring-your-own data; pre-fill the classes the run does not know yet."""
        if self._refreshing:
            return
        parent = self._parent()
        options = self._data_options(parent)
        if options != list(self.data_choice.options):  # another kind of run: its kind of data
            self._refreshing = True
            try:
                before = self.data_choice.value
                self.data_choice.options = options
                values = [value for _label, value in options]
                self.data_choice.value = before if before in values else values[0]
            finally:
                self._refreshing = False
        is_path = self.data_choice.value == PATH_CHOICE
        self.path.layout.display = None if is_path else "none"
        known = parent.class_names if parent is not None else []
        hint = (_("The run knows: {classes}.").format(classes=", ".join(known)) if known
                else _("No finished run yet: train one first."))
        if parent is not None and is_path:
            words = _engine_words(USER_DATA_WORDS, task_for_run(parent).updater(parent).user_data_words)
            hint += " " + _("Your own data: {what}.").format(what=words)
        if not is_path and self.data_choice.value:
            available = list(get_dataset(self.data_choice.value).class_names)
            if available:
                self.classes.value = ",".join(name for name in available if name not in known)
                hint += " " + _("{dataset} has: {classes}.").format(dataset=self.data_choice.value,
                                                                    classes=", ".join(available))
        self.hint.value = f"<span style='font-size:12px;color:#555'>{html.escape(hint)}</span>"
        self._forget_check()

    # --- checking the new data -------------------------------------------------------------------------

    def _choice_key(self) -> tuple:
        """What a check is valid for: the run, the data, the path (if used) and the classes."""
        is_path = self.data_choice.value == PATH_CHOICE
        return (self.run_choice.value, self.data_choice.value, self.path.value.strip() if is_path else "",
                self.classes.value.strip())

    def _forget_check(self, _change=None) -> None:
        """A changed choice must be checked again before Update can use it."""
        if self._checked_key is not None and self._checked_key != self._choice_key():
            self._checked_key = None
            self.checked.value = ""
        self._on_status()

    def check(self) -> None:
        """What "Check new data" does: load the new data in a thread and show its classes and counts.
        Update is enabled once this very choice has been shown."""
        self._checked_key = None
        self._on_status()
        try:
            parent, data_cfg = self.new_data()
        except ConfigError as error:
            self.checked.value = ""
            self.error.value = _error_html(_("cannot check the new data: {error}").format(error=error))
            return
        self.error.value = ""
        self.checked.value = "<i>" + html.escape(_("Loading the new data to check it...")) + "</i>"
        key = self._choice_key()
        updater = task_for_run(parent).updater(parent)
        self._checks.request(lambda: updater.prepare(data_cfg, parent.config.seed, Job(), min_classes=1),
                             lambda prepared: self._show_check(key, parent, prepared),
                             lambda error: self._check_failed(key, error))

    def _show_check(self, key: tuple, parent: RunRecord, prepared) -> None:
        if key != self._choice_key():
            return  # the choice moved on while it loaded
        known = list(parent.class_names)
        counts = prepared.report.class_counts
        added = [name for name in prepared.class_names if name not in known]
        listed = ", ".join(f"{html.escape(name)} ({counts.get(name, 0)})" for name in prepared.class_names)
        samples = _engine_words(SAMPLE_WORDS, task_for_run(parent).sample_words)
        adds = ((_("adds 1 class: {names}") if len(added) == 1 else _("adds {count} classes: {names}")).format(
                    count=len(added), names=html.escape(", ".join(added))) if added
                else html.escape(_("adds no class (more {samples} of classes the run knows)").format(
                    samples=samples)))
        lines = ["<b>" + html.escape(_("New data checked:")) + "</b> "
                 + _("{count} {samples} in {classes} classes: {listed}; {adds}.").format(
                     count=len(prepared.table), samples=html.escape(samples), classes=len(prepared.class_names),
                     listed=listed, adds=adds)]
        lines += [f"<span style='color:#b26b00'>{html.escape(text)}</span>" for text in prepared.report.warnings]
        self.checked.value = "<br>".join(lines)
        self._checked_key = key
        self._on_status()

    def _check_failed(self, key: tuple, error: Exception) -> None:
        if key != self._choice_key():
            return
        self.checked.value = ""
        self.error.value = _error_html(_("cannot use the new data: {error}").format(error=error))

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until a running check of the new data has ended (tests, scripts)."""
        return self._checks.wait(timeout)

    def new_data(self):
        """The DataConfig the controls describe (``ConfigError`` says what is wrong)."""
        parent = self._parent()
        if parent is None:
            raise ConfigError(_("choose a finished run to update (train one first)"))
        source = self.path.value.strip() if self.data_choice.value == PATH_CHOICE else self.data_choice.value
        if not source:
            raise ConfigError(_("give the path of a folder of class folders, a .zip or a .csv"))
        classes = [c.strip() for c in self.classes.value.split(",") if c.strip()] or None
        return parent, new_data_config(source, parent, classes)

    # --- actions ---------------------------------------------------------------------------------------

    def _on_update(self, _button=None) -> None:
        session = self.session
        try:
            if self.runner.busy:
                raise BusyError(_("'{job}' is still running; press Stop or wait for it").format(job=session.job))
            if self._checked_key is None or self._checked_key != self._choice_key():
                raise ConfigError(_("check the new data first (Check new data shows what the update will use)"))
            parent, data_cfg = self.new_data()
        except (ConfigError, BusyError) as error:
            self.error.value = _error_html(_("cannot start: {error}").format(error=error))
            return
        replay, epochs, compare = self.replay.value, self.epochs.value or None, self.compare.value
        self.error.value = ""
        self.result.value = ""
        session.history, session.evaluation, session.selected_cell = [], {}, None
        runner = self.runner

        def work(job: Job):
            return update_run(parent, data_cfg, replay=replay, epochs=epochs, compare=compare, store=runner.store,
                              job=job)

        def done(record: RunRecord):
            session.status = record.status
            session.current_run = record.run_id
            session.runs_version += 1
            if record.status != "finished":
                session.message = _("update stopped: no new version was kept")
                return
            session.evaluation = record.evaluation
            self.show_version(record)
            meter = update_info(record)["meter"]
            session.message = _("old data {before} -> {after}, new data {new}").format(
                before=f"{meter['old_before']:.3f}", after=f"{meter['old_after']:.3f}", new=f"{meter['new_after']:.3f}")

        self._mine = True
        try:
            runner.submit(JOB, work, done)
        except BusyError as error:  # a job started between the busy check above and this click
            self._mine = False
            self.status.value = _error_html(str(error))

    def show_version(self, record: RunRecord) -> None:
        """Show a version's run id and its forgetting meter (also for a version made elsewhere)."""
        info = update_info(record)
        if not info:
            self.result.value = _error_html(_("run {run} was not made by an update").format(run=record.run_id))
            return
        self.version_id = record.run_id
        self.result.value = version_html(record, info)
        old, self.meter = self.meter, meter_figure(info)
        self.meter_box.children = [self.meter]
        if old is not None:
            old.close()

    # --- Session -> widgets (may run in the worker thread) -----------------------------------------------

    def _on_status(self, _change=None) -> None:
        session = self.session
        if session.job != JOB:
            self._mine = False  # another panel's job: its status and errors are shown there
        busy = session.busy
        checked = self._checked_key is not None and self._checked_key == self._choice_key()
        self.update_button.disabled = busy or self.run_choice.value is None or not checked
        self.check_button.disabled = busy or self.run_choice.value is None
        self.stop_button.disabled = not (busy and self._mine) or session.status == "stopping"
        if not self._mine:
            return
        self.status.value = (f"<span class='lepton-status-{session.status}'><b>{html.escape(_status(session.status))}"
                             f"</b></span> {html.escape(session.message)}")
        if session.status == "failed" and session.last_error:
            self.error.value = _error_html(session.last_error)


def _error_html(text: str) -> str:
    return "<span style='color:#b00020'><b>" + html.escape(_("Error:")) + f"</b> {html.escape(text)}</span>"


#: The Session's status words, as this panel shows them.
STATUS_WORDS = {"idle": N_("idle"), "preparing": N_("preparing"), "waiting": N_("waiting"), "running": N_("running"),
                "evaluating": N_("evaluating"), "stopping": N_("stopping"),
                "finished": N_("finished"), "failed": N_("failed"), "cancelled": N_("cancelled")}


def _status(status: str) -> str:
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status
