"""Search panel: which hyper-parameters to search and over what, Start / Stop, live trials, Use best.

The search settings are the Session's ``tuner`` trait (``TunerConfig`` fields); the controls edit it and
follow it. Start adds it as the ``tuner`` section of ``session.to_config()`` and runs
``core.search.tuner.run_search`` through ``runner.submit``, so the search runs in the Runner's worker thread
and Stop is the Runner's stop event. The search's events become Session traits (``search``, ``trials``,
``best_trial``, ``message``) from that thread; the table and figures follow those traits. Running the
same settings again resumes the search (the status line says so); changed settings start a new one.

Use best puts the best trial's RunConfig into the Session (``session.load_config``), so every other
panel shows it, and starts a normal training run: it lands in the run store like any run.

Both figures are rebuilt as new ``FigureWidget``\\ s with their data in the constructor and swapped into
their boxes, because under Voilà changes made to a FigureWidget before it is first displayed never
reach the browser (and this panel may be drawn before or after a search has data).

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
    >>> panel = TunerPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-runs"))
    >>> panel.space["dropout"].search.value = True
    >>> panel.space["dropout"].widget.value = (0.1, 0.4)
    >>> session.tuner["dropout"]
    [0.1, 0.4]
    >>> panel.start_button.click()          # doctest: +SKIP
    >>> # ...returns at once; trials fill panel.table, panel.parallel and panel.best_curve as they end
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Optional

import ipywidgets as w

from lepton_widgets.config import ConfigError, RunConfig, TunerConfig
from lepton_widgets.core.base.events import Event
from lepton_widgets.core.tasks import task_for_dataset
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel, syncing
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.tuner.charts import best_curve_figure, finished_trials, parallel_figure, trials_table_html
from lepton_widgets.panels.tuner.space import offer, space_rows
from lepton_widgets.panels.tuner.trials import apply_search_event
from lepton_widgets.state.runner import BusyError

_WIDE = {"description_width": "120px"}
#: What the panel searches when the Session has no search settings yet: a quick head search.
DEFAULT_SETTINGS = {"max_trials": 10, "learning_rate": [1e-4, 1e-2], "dropout": [0.0, 0.5]}
#: The search methods (KerasTuner's tuners) in words.
ALGORITHMS = [(N_("Random search"), "random"), (N_("Bayesian optimisation"), "bayesian"),
              (N_("Hyperband (many short trials, the best go on)"), "hyperband")]
#: The objectives (``TunerConfig.OBJECTIVES``) in plain words.
OBJECTIVE_WORDS = {"val_accuracy": N_("validation accuracy"), "val_loss": N_("validation loss (lower is better)")}
#: The glossary terms the Search step uses (its "Words used here" line).
TERMS = ["search", "validation", "learning_rate", "dropout", "l2", "batch_size", "frozen_depth", "augmentation",
         "epoch"]


class TunerPanel(Panel):
    """The Search step: search settings, Start / Stop, live trials table, parallel coordinates, best curve.

    Key widgets (and their CSS classes): ``start_button`` (lepton-tuner-start), ``stop_button``
    (lepton-tuner-stop), ``use_best_button`` (lepton-use-best), ``table`` (lepton-trials-table),
    ``parallel`` (lepton-parallel) and ``best_curve`` (lepton-best-curve); ``space[name]`` holds each
    hyper-parameter's "search it" checkbox (``.search``) and its choices or range (``.widget``).

    Example:
        >>> from lepton_widgets.state import Runner, Session
        >>> session = Session()
        >>> panel = TunerPanel(session, Runner(session))
        >>> session.tuner = {"max_trials": 4, "batch_size": [16, 32]}
        >>> panel.max_trials.value, panel.space["batch_size"].search.value, panel.space["dropout"].search.value
        (4, True, False)
    """

    title = "Search"

    def build(self) -> w.Widget:
        session = self.session
        self.space = space_rows()
        self.algorithm = w.Dropdown(options=[(_(label), value) for label, value in ALGORITHMS],
                                    description=_("Method"), style=_WIDE,
                                    tooltip=_("How the next settings to try are picked"))
        self.max_trials = w.BoundedIntText(value=10, min=1, max=10000, description=_("Max trials"), style=_WIDE,
                                           tooltip=_("How many combinations of settings to try at most"),
                                           layout=w.Layout(width="220px"))
        self.max_trials.add_class("lepton-tuner-max-trials")
        self.epochs = w.BoundedIntText(value=0, min=0, max=1000, description=_("Epochs/trial"), style=_WIDE,
                                       tooltip=_("head epochs per trial; 0 = the Train step's epochs"),
                                       layout=w.Layout(width="220px"))
        self.objective = w.Dropdown(options=[(_(OBJECTIVE_WORDS.get(o, o)), o) for o in TunerConfig.OBJECTIVES],
                                    description=_("Objective"), style=_WIDE,
                                    tooltip=_("The validation score that decides which trial is best"))
        self._settings = [self.algorithm, self.max_trials, self.epochs, self.objective]
        for control in self._settings + [c for row in self.space.values() for c in (row.search, row.widget)]:
            for child in getattr(control, "children", ()) or (control,):
                child.observe(self._controls_changed, names="value")

        self.start_button = w.Button(description=_("Start search"), button_style="success",
                                     tooltip=_("Search (resumes the same search if it was stopped)"))
        self.start_button.add_class("lepton-tuner-start")
        self.start_button.on_click(self._on_start)
        self.stop_button = w.Button(description=_("Stop"), button_style="danger", disabled=True,
                                    tooltip=_("Stop after this batch; Start resumes"))
        self.stop_button.add_class("lepton-tuner-stop")
        self.stop_button.on_click(self._on_stop)
        self.use_best_button = w.Button(description=_("Use best"), button_style="info", disabled=True,
                                        tooltip=_("Load the best trial's settings and train it as a normal run"))
        self.use_best_button.add_class("lepton-use-best")
        self.use_best_button.on_click(self._on_use_best)
        self.status = w.HTML()
        self.status.add_class("lepton-tuner-status")
        # What a resume rolled back after an interruption: kept in view, not overwritten by trial messages.
        self.repairs = w.HTML()
        self.repairs.add_class("lepton-search-repairs")

        self.table = w.HTML()
        self.table.add_class("lepton-trials-table")
        self.parallel_box, self.best_curve_box = w.Box(), w.Box()
        self.parallel = self.best_curve = None
        self._drawn: Optional[tuple] = None

        self._syncing = False
        if not session.tuner:
            session.tuner = dict(DEFAULT_SETTINGS)
        self._offer_for_task()
        session.observe(self._offer_for_task, names="dataset")
        self._show_settings()
        session.observe(self._show_settings, names="tuner")
        session.observe(self._show_trials, names=["trials", "search"])
        session.observe(self._show_repairs, names="search")
        self._show_repairs()
        session.observe(self._show_status, names=["status", "message", "busy", "best_trial", "job"])
        self._show_trials()
        self._show_status()

        intro = w.HTML("<div>" + _(
            "A {search} trains several short models, each with other settings, and keeps the one that scores "
            "best on the {validation}. Tick the settings to vary and give each its choices or range.").format(
            search=term("search"), validation=term("validation")) + "</div>")
        space = w.VBox([w.HTML("<b>" + html.escape(_("Search over")) + "</b> "
                               + html.escape(_("(tick what varies; the rest comes from the other steps)"))),
                        *[row.box for row in self.space.values()],
                        w.HTML("<b>" + html.escape(_("Budget")) + "</b>"), *self._settings],
                       layout=w.Layout(min_width="430px"))
        live = w.VBox([w.HBox([self.start_button, self.stop_button, self.use_best_button]), self.status,
                       self.repairs, self.table, self.parallel_box, self.best_curve_box],
                      layout=w.Layout(flex="1 1 auto"))
        return w.VBox([intro, words_used_here(TERMS), w.HBox([space, live])])

    # --- settings <-> Session ----------------------------------------------------------------------------

    def read_settings(self) -> dict[str, Any]:
        """The controls as ``TunerConfig`` fields (raises ``ValueError`` on unreadable text)."""
        settings = {"algorithm": self.algorithm.value, "max_trials": int(self.max_trials.value),
                    "objective": self.objective.value, "epochs": int(self.epochs.value) or None}
        settings.update({name: row.read() for name, row in self.space.items()})
        return {k: v for k, v in settings.items() if v is not None}

    def _controls_changed(self, _change=None) -> None:
        if self._syncing:
            return
        try:
            settings = self.read_settings()
        except ValueError as error:
            self.status.value = ("<span style='color:#b00020'>" + html.escape(
                _("cannot read the search settings: {error}").format(error=error)) + "</span>")
            return
        with syncing(self):
            self.session.tuner = settings

    def _show_settings(self, _change=None) -> None:
        if self._syncing:
            return
        settings = {**dataclasses.asdict(TunerConfig()), **(self.session.tuner or {})}
        with syncing(self):
            self.algorithm.value, self.objective.value = settings["algorithm"], settings["objective"]
            self.max_trials.value, self.epochs.value = settings["max_trials"], settings["epochs"] or 0
            for name, row in self.space.items():
                row.write(settings.get(name))

    def _offer_for_task(self, _change=None) -> None:
        """Offer what the dataset's task can search (texts: word policies; tables: network width and depth);
        settings it cannot search are dropped, so Start never meets a refusal the form could have avoided."""
        task = task_for_dataset(self.session.dataset)
        with syncing(self):
            offer(self.space, task)
        settings = dict(self.session.tuner or {})
        kept = {k: v for k, v in settings.items() if k not in self.space or k in task.search_fields}
        if kept.get("augment"):
            kept["augment"] = [p for p in kept["augment"] if p in task.search_policies] or None
        kept = {k: v for k, v in kept.items() if v is not None}
        if kept != settings:
            self.session.tuner = kept

    def search_config(self) -> RunConfig:
        """The Session's run settings with the search settings as its ``tuner`` section."""
        raw = self.session.to_config().to_dict()
        raw["tuner"] = dict(self.session.tuner or {})
        cfg = RunConfig.from_dict(raw)
        if not cfg.tuner.searched():
            raise ConfigError(_("tick at least one hyper-parameter to search"))
        return cfg

    # --- actions -----------------------------------------------------------------------------------------

    def _on_start(self, _button=None) -> None:
        session = self.session
        try:
            cfg = self.search_config()
            if self.runner.busy:
                raise BusyError(_("'{job}' is still running; press Stop or wait for it").format(job=session.job))
        except (ConfigError, BusyError) as error:
            session.last_traceback = ""
            session.last_error = str(error)
            session.message = _("cannot start: {error}").format(error=error)
            return
        session.trials, session.best_trial, session.search = [], {}, {}
        runs_dir = self.runner.store.root

        def work(job):
            from lepton_widgets.core.search.tuner import run_search  # TensorFlow loads in the worker, not on a click

            return run_search(cfg, job, runs_dir=runs_dir)

        def done(result) -> None:
            best = result.best
            if best is not None:
                session.best_trial = {**best, "config": result.best_config().to_dict()}

        self.runner.submit("search", work, done, sink=self.on_event)

    def _on_stop(self, _button=None) -> None:
        self.runner.stop()

    def _on_use_best(self, _button=None) -> None:
        best = self.session.best_trial
        if not best.get("config"):
            return
        try:
            self.session.load_config(RunConfig.from_dict(best["config"]))
            self.runner.train()
        except (ConfigError, BusyError) as error:
            self.session.last_error = str(error)
            self.session.message = _("cannot start: {error}").format(error=error)

    # --- search events -> Session (worker thread) -----------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Event sink of the search: search events become Session traits, the rest go to the Runner."""
        if not apply_search_event(self.session, event):
            self.runner.on_event(event)  # data checks and feature extraction: progress and messages

    # --- Session -> widgets (may run in the worker thread) ----------------------------------------------------

    def _names(self) -> list[str]:
        searched = (self.session.search or {}).get("searched")
        if searched:
            return list(searched)
        return [n for n in self.space if (self.session.tuner or {}).get(n) is not None]

    def _objective(self) -> str:
        return (self.session.tuner or {}).get("objective", TunerConfig.objective)

    def _show_trials(self, _change=None) -> None:
        rows, names, objective = list(self.session.trials), self._names(), self._objective()
        done = finished_trials(rows)
        pick = max if objective.endswith("accuracy") else min
        best = pick(done, key=lambda r: r["score"])["number"] if done else None
        self.table.value = trials_table_html(rows, names, objective, best)
        drawn = (tuple(names), objective, tuple((r["number"], r["score"]) for r in done))
        if drawn == self._drawn:
            return  # an epoch ended: the figures only show finished trials
        self._drawn = drawn
        if not done:  # no chart before the first finished trial (see RunsPanel: charts cost page start-up)
            for attribute, box in (("parallel", self.parallel_box), ("best_curve", self.best_curve_box)):
                old = getattr(self, attribute)
                setattr(self, attribute, None)
                box.children = ()
                if old is not None:
                    old.close()
            return
        for attribute, box, figure in (("parallel", self.parallel_box, parallel_figure(rows, names, objective)),
                                       ("best_curve", self.best_curve_box, best_curve_figure(rows, objective))):
            figure.add_class(f"lepton-{attribute.replace('_', '-')}")
            old = getattr(self, attribute)
            setattr(self, attribute, figure)
            box.children = (figure,)
            if old is not None:
                old.close()

    def _show_repairs(self, _change=None) -> None:
        repairs = (self.session.search or {}).get("repairs") or []
        self.repairs.value = "".join(f"<div style='color:#8a6d00'>&#9888; {html.escape(line[:1].upper() + line[1:])}"
                                     f"</div>" for line in repairs)

    def _show_status(self, _change=None) -> None:
        session = self.session
        searching = session.busy and session.job == "search"
        self.start_button.disabled = session.busy
        self.stop_button.disabled = not searching or session.status == "stopping"
        self.use_best_button.disabled = session.busy or not session.best_trial.get("config")
        text = html.escape(session.message) if (session.job == "search" or not session.busy) else ""
        colour = {"failed": "#b00020", "finished": "#1b7f3b", "cancelled": "#8a6d00"}.get(session.status, "#555")
        said = html.escape(_(session.status)) if session.status else ""
        self.status.value = f"<span style='color:{colour}'><b>{said}</b></span> {text}"
