"""The Auto step: choose the data, a time budget and a goal, press Start, and get a checked model with its card.

The data part is the Data step's own (the dataset list, path and upload of ``panels/dataset``), bound to the
same Session traits, so choosing data here chooses it everywhere. Start runs
``core.auto.pipeline.run_auto`` in the Runner's worker thread (``runner.submit("auto", ...)``); Stop is the
Runner's stop, and what finished stays usable (pressing Start again resumes).

While Auto runs, its events become this panel's :class:`~lepton_widgets.panels.auto.progress.AutoProgress`
(stage list and leaderboard), the runs' epoch events go on to the Runner (``session.history``: the live
curves here and in the Train step), and a search's events become the Search step's trials.

At the end it shows the likely mislabelled examples with "Exclude these and run again" (Auto resumes and
trains again only what depends on those examples; the runs record them in ``data.exclude``) and "Keep them",
the chosen model's card, and "Open in the expert steps", which loads the chosen run's settings into the Session
so every other step shows it. Errors show as Auto's own plain sentences, never as a traceback.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session(dataset="digits", max_per_class=20)
    >>> panel = AutoPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-runs"))
    >>> panel.budget.value, panel.goal.value
    (5, 'accuracy')
    >>> panel.budget.value = 1; panel.goal.value = "fast"
    >>> panel.request()["budget"], panel.request()["goal"]
    (60, 'fast')
    >>> panel.start_button.click()          # doctest: +SKIP
    >>> runner.wait(); panel.state.result.status    # doctest: +SKIP
    'finished'
"""

from __future__ import annotations

import dataclasses
import html
import time
from typing import Optional

import ipywidgets as w

from lepton_widgets.config import ConfigError
from lepton_widgets.core.auto.leaderboard import best_entry
from lepton_widgets.core.base.events import Event
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks import task_for_dataset
from lepton_widgets.core.tasks.autokit import GOALS
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.auto.card import card_html
from lepton_widgets.panels.auto.issues import issue_cards, issues_summary
from lepton_widgets.panels.auto.leaderboard import leaderboard_figure, leaderboard_html
from lepton_widgets.panels.auto.progress import AutoProgress, apply_auto_event
from lepton_widgets.panels.auto.stages import stages_html
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.glossary import term, words_used_here
from lepton_widgets.panels.dataset.settings import DataSettings
from lepton_widgets.panels.dataset.upload import UploadView
from lepton_widgets.panels.style import alert_box, caution_box, note_box, ok_box
from lepton_widgets.panels.train import curves_figure, draw_history
from lepton_widgets.panels.tuner.trials import apply_search_event
from lepton_widgets.state.runner import BusyError

JOB = "auto"
_STYLE = {"description_width": "150px"}
#: The goals as buttons, in plain words (their longer description is ``autokit.GOALS``).
GOAL_BUTTONS = [(N_("Most accurate"), "accuracy"), (N_("Small"), "small"), (N_("Fast"), "fast")]
STATUS_WORDS = {"finished": N_("Auto finished"), "cancelled": N_("Auto stopped"),
                "failed": N_("Auto could not finish")}
#: The glossary terms the Auto step uses (its "Words used here" line).
TERMS = ["validation", "test_set", "label_issues", "class_weight", "logme", "search", "fine_tuning", "ensemble",
         "export"]
#: The Data step's upload message names its own button; here the next button is Start.
CHECK_DATA = "Press <b>Check data</b> to validate it."
START_NOW = N_("Press <b>Start</b> when ready.")


def _bold(text: str) -> str:
    """``text`` (plain words) in bold, escaped."""
    return f"<b>{html.escape(text)}</b>"


def _rename_classes(widgets, prefix: str = "lepton-auto-") -> None:
    """The Data step's widgets reused here get classes of their own: the page has both, and a test or a style
    that means the Data step's dropdown must find one element, not two."""
    for widget in widgets:
        for css in list(widget._dom_classes):
            if css.startswith("lepton-") and not css.startswith(prefix):
                widget.remove_class(css)
                widget.add_class(prefix + css.removeprefix("lepton-"))


class AutoPanel(Panel):
    """Data, budget, goal, Start / Stop; the stages, leaderboard and curves live; the examples to check, the
    model card and "Open in the expert steps" at the end.

    Key widgets (and their CSS classes): ``budget`` (lepton-auto-budget), ``goal`` (lepton-auto-goal),
    ``start_button`` (lepton-auto-start), ``stop_button`` (lepton-auto-stop), ``stages`` (lepton-auto-stages),
    ``leaderboard`` (lepton-auto-leaderboard), ``curves`` (lepton-auto-curves), ``issues`` (lepton-auto-issues,
    with ``exclude_button`` lepton-auto-exclude and ``keep_button`` lepton-auto-keep), ``card``
    (lepton-auto-card) and ``open_button`` (lepton-auto-open). ``state`` holds the live progress and, at the
    end, the ``AutoResult`` (``state.result``).
    """

    title = "Auto"

    def build(self) -> w.Widget:
        session = self.session
        self.state = AutoProgress()
        self.state.reset()
        self._started: Optional[float] = None  # when Auto began (monotonic clock), for the time used so far
        self._choices: dict[str, str] = {}  # (data, goal) -> the label choice made for it: keep / exclude

        # The Data step's form and upload, bound to the same Session traits.
        self.data = DataSettings(session, _STYLE)
        self.uploads = UploadView(session)
        _rename_classes([self.data.dataset_select, self.data.dataset_info, self.data.path, self.data.test_path,
                         self.data.target, self.data.max_per_class, self.data.val_fraction,
                         self.data.test_fraction, self.uploads.upload, self.uploads.limit, self.uploads.message])

        self.uploads.message.observe(self._upload_words, "value")

        self.budget = w.IntSlider(value=5, min=1, max=60, step=1, description=_("Time budget (minutes)"),
                                  style=_STYLE, continuous_update=False, layout=w.Layout(width="480px"))
        self.goal = w.ToggleButtons(options=[(_(label), value) for label, value in GOAL_BUTTONS], value="accuracy",
                                    description=_("Goal"), style=_STYLE)
        self.goal_note = w.HTML()
        self.goal.observe(self._show_goal, "value")
        self._show_goal()

        self.start_button = w.Button(description=_("Start"), button_style="success", icon="play",
                                     tooltip=_("Find the best model for this data within the time budget"))
        self.stop_button = w.Button(description=_("Stop"), button_style="danger", icon="stop", disabled=True,
                                    tooltip=_("Stop now; what finished is kept, and Start resumes"))
        self.start_button.on_click(self._on_start)
        self.stop_button.on_click(self._on_stop)
        self.status = w.HTML()
        self.stages = w.HTML()
        self.leaderboard = w.HTML()
        self.leaderboard_box = w.Box()
        self.leaderboard_chart = None
        # Built with the page, like the Train step's: under Voilà a figure first shown mid-run may never update.
        self.curves = curves_figure(list(session.history))

        self.issues_text = w.HTML()
        self.issue_cards = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap"))
        self.exclude_button = w.Button(description=_("Exclude these and run again"), button_style="warning",
                                       layout=w.Layout(width="auto"),
                                       tooltip=_("Leave these examples out; Auto trains again what depends on them"))
        self.keep_button = w.Button(description=_("Keep them"), layout=w.Layout(width="auto"),
                                    tooltip=_("Their labels are right: keep using every example"))
        self.exclude_button.on_click(self._on_exclude)
        self.keep_button.on_click(self._on_keep)
        self.issue_buttons = w.HBox([self.exclude_button, self.keep_button])
        self.issues = w.VBox([w.HTML(_bold(_("Examples that look mislabelled"))
                                     + f" <small>({term('label_issues')})</small>"), self.issues_text, self.issue_cards,
                              self.issue_buttons])
        self.card = w.HTML()
        self.open_button = w.Button(description=_("Open in the expert steps"), button_style="info", disabled=True,
                                    layout=w.Layout(width="auto"),
                                    tooltip=_("Load the chosen model's settings into every other step"))
        self.open_button.on_click(self._on_open)
        self.open_message = w.HTML()
        self.results = w.VBox([self.issues, w.HTML(_bold(_("The chosen model"))), self.card,
                               w.HBox([self.open_button, self.open_message])])
        for widget, css in ((self.budget, "budget"), (self.goal, "goal"), (self.goal_note, "goal-note"),
                            (self.start_button, "start"), (self.stop_button, "stop"), (self.status, "status"),
                            (self.stages, "stages"), (self.leaderboard, "leaderboard"),
                            (self.leaderboard_box, "leaderboard-chart"), (self.curves, "curves"),
                            (self.issues, "issues"), (self.issues_text, "issues-text"),
                            (self.issue_cards, "issue-cards"), (self.exclude_button, "exclude"),
                            (self.keep_button, "keep"), (self.card, "card"), (self.open_button, "open"),
                            (self.open_message, "open-message"), (self.results, "results")):
            widget.add_class(f"lepton-auto-{css}")

        self.state.observe(self._show_stages, "stages")
        self.state.observe(self._show_leaderboard, "rows")
        self.state.observe(self._show_result, "result")
        session.observe(self._on_history, "history")
        session.observe(self._show_status, ["status", "message", "busy", "job"])
        self._show_stages()
        self._show_leaderboard()
        self._show_result()
        self._show_status()

        intro = w.HTML("<h3>" + html.escape(_("Auto")) + "</h3><div>" + _(
            "Choose your data, how long Auto may take and what matters most, then press <b>Start</b>. Auto checks "
            "the data, tries pretrained networks and settings, keeps the best model it can prove on validation "
            "data, exports it and explains every choice. The other steps let you do each part yourself.")
            + "</div>")
        words = words_used_here(TERMS)
        setup = w.VBox([self.data.box, w.HBox([self.uploads.upload, self.uploads.limit]), self.uploads.message,
                        self.data.split, self.budget, self.goal, self.goal_note,
                        w.HBox([self.start_button, self.stop_button])])
        live = w.VBox([self.status, self.stages, w.HTML(_bold(_("Leaderboard"))),
                       self.leaderboard, self.leaderboard_box,
                       w.HTML(_bold(_("Training curves of the model being made"))), self.curves])
        return w.VBox([intro, words, setup, live, self.results])

    # --- controls -> request -----------------------------------------------------------------------------

    def _upload_words(self, change) -> None:
        # The Data step's upload asks for its own button; here the next button is Start.
        # The English sentence as a whole; in any language, the button's name.
        text = change["new"].replace(CHECK_DATA, _(START_NOW)).replace(_bold(_("Check data")), _bold(_("Start")))
        if text != change["new"]:
            self.uploads.message.value = text

    def _show_goal(self, _change=None) -> None:
        words = _(GOALS[self.goal.value])
        self.goal_note.value = f"<small>{html.escape(words[:1].upper() + words[1:])}.</small>"

    def request(self, labels: Optional[str] = None) -> dict:
        """What Start passes to ``run_auto``: the Session's data (as a ``DataConfig``, without earlier
        exclusions: Auto makes that choice itself), budget in seconds, goal, label choice, seed, runs folder.
        ``ConfigError`` says what is missing from the data settings."""
        cfg = self.session.to_config()
        data = dataclasses.replace(cfg.data, exclude=None)
        goal = self.goal.value
        key = self._choice_key(data, goal)
        return {"data": data, "budget": int(self.budget.value) * 60, "goal": goal,
                "labels": labels or self._choices.get(key, "keep"), "seed": cfg.seed,
                "runs_dir": self.runner.store.root}

    @staticmethod
    def _choice_key(data, goal: str) -> str:
        return repr((dataclasses.asdict(data), goal))

    # --- actions -----------------------------------------------------------------------------------------

    def _on_start(self, _button=None, labels: Optional[str] = None) -> None:
        try:
            request = self.request(labels)
            task = task_for_dataset(request["data"].dataset)
            if not task.supports("auto"):
                raise ConfigError(_("Auto does not work on {data} yet: use the expert steps below").format(
                    data=_(task.words)))
            if self.runner.busy:
                raise BusyError(_("'{job}' is still running; press Stop or wait for it").format(
                    job=self.session.job))
        except (ConfigError, BusyError, ValueError) as error:
            self.status.value = alert_box(_bold(_("Cannot start:")) + " " + html.escape(str(error)))
            return
        self._choices[self._choice_key(request["data"], request["goal"])] = request["labels"]
        self.state.reset(labels=request["labels"])
        self._started = None
        self.open_message.value = ""
        self.session.history = []

        def work(job):
            # Imported here, in the worker: the engine imports TensorFlow, which must not freeze the widgets.
            from lepton_widgets.core.auto.pipeline import run_auto

            result = run_auto(request["data"], budget=request["budget"], goal=request["goal"],
                              labels=request["labels"], seed=request["seed"], runs_dir=request["runs_dir"], job=job)
            # The examples are drawn here, in the worker: pictures and sounds are read back from the data.
            cards = issue_cards(task, request["data"], request["seed"], result.label_issues)
            return result, cards

        def done(outcome) -> None:
            result, cards = outcome
            self._cards = cards
            self.state.result = result
            session = self.session
            session.runs_version += 1
            session.message = self._result_words(result)
            if result.status in ("failed", "cancelled"):
                session.status = result.status  # the Runner keeps a status it did not set itself

        try:
            self.runner.submit(JOB, work, done, sink=self.on_event)
        except BusyError as error:
            self.status.value = alert_box(_bold(_("Cannot start:")) + " " + html.escape(str(error)))

    def _on_stop(self, _button=None) -> None:
        self.runner.stop()

    def _on_exclude(self, _button=None) -> None:
        self.keep_button.disabled = self.exclude_button.disabled = True
        self._on_start(labels="exclude")

    def _on_keep(self, _button=None) -> None:
        result = self.state.result
        if result is None:
            return
        data = self.request()["data"]
        self._choices[self._choice_key(data, self.goal.value)] = "keep"
        self.issue_buttons.layout.display = "none"
        self.issues_text.value = note_box(html.escape(_(
            "Kept: the {count} examples stay in the data, as you chose. The models use every example.").format(
            count=len(result.label_issues))))

    @staticmethod
    def _chosen_run(result):
        """Auto's chosen run; when Auto stopped before its export, the best model that finished (it is usable)."""
        if result is None:
            return None
        if result.best_run_id:
            return result.best_run()
        best = best_entry(result.entries)
        return RunStore(result.runs_dir).open(best["run_id"]) if best else None

    def _on_open(self, _button=None) -> None:
        session = self.session
        try:
            record = self._chosen_run(self.state.result)
            if record is None:
                self.open_message.value = caution_box(html.escape(_("No model to open yet.")))
                return
            config = session.open_run(record)
        except Exception as error:  # noqa: BLE001 - a moved or damaged run folder: said plainly, never a traceback
            self.open_message.value = alert_box(
                html.escape(_("Cannot open the chosen model: {error}").format(error=error)))
            return
        self.open_message.value = ok_box(_(
            "Opened {name} ({run}): every step below now shows its settings ({backbone}, {epochs} epochs); change "
            "any of them and train it yourself.").format(
            name=f"<b>{html.escape(config.name)}</b>", run=f"<code>{html.escape(record.run_id)}</code>",
            backbone=html.escape(config.backbone.name), epochs=config.train.epochs))

    # --- events (worker thread) --------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Auto's events become :attr:`state`, a search's the Search step's trials; the rest (runs' epochs,
        progress) go to the Runner, which turns them into Session traits."""
        session = self.session
        if apply_auto_event(self.state, event):
            if event.kind == "auto_started":
                self._started = time.monotonic()
            elif event.kind == "auto_stage_started":
                if session.status != "stopping":
                    session.status = "running"
                session.message = _("Auto: {stage}...").format(stage=_(event.title).lower())
            return
        if event.kind == "run_started":
            session.history = []  # each model Auto makes gets its own curves
        if apply_search_event(session, event):
            return
        self.runner.on_event(event)

    # --- state -> widgets (may run in the worker thread) -------------------------------------------------

    def _show_stages(self, _change=None) -> None:
        self.stages.value = stages_html(list(self.state.stages)) if self.state.budget is not None else ""

    def _show_leaderboard(self, _change=None) -> None:
        rows = list(self.state.rows)
        self.leaderboard.value = leaderboard_html(rows)
        old = self.leaderboard_chart
        if not rows:
            self.leaderboard_chart, self.leaderboard_box.children = None, ()
        else:  # a new figure per row: rows are few, and a figure built complete always shows them
            self.leaderboard_chart = leaderboard_figure(rows)
            self.leaderboard_chart.add_class("lepton-auto-leaderboard-figure")
            self.leaderboard_box.children = (self.leaderboard_chart,)
        if old is not None:
            old.close()

    def _on_history(self, _change=None) -> None:
        draw_history(self.curves, self.session.history)

    @staticmethod
    def _result_words(result) -> str:
        if result.status == "finished":
            best = next((row for row in result.entries if row.get("run_id") == result.best_run_id), {})
            return _("Auto finished in {seconds} s: it chose {model}.").format(
                seconds=f"{result.elapsed:.0f}", model=best.get("label", result.best_run_id))
        return result.message or (_(STATUS_WORDS[result.status]) if result.status in STATUS_WORDS else result.status)

    def _show_status(self, _change=None) -> None:
        session = self.session
        running = session.busy and session.job == JOB
        self.start_button.disabled = session.busy
        self.stop_button.disabled = not running or session.status == "stopping"
        if session.job != JOB:
            return
        result = self.state.result
        if running and session.status == "waiting":  # in line for a training slot on a shared server
            self.status.value = note_box(f"<b>{html.escape(_('waiting'))}</b> {html.escape(session.message)}")
        elif running:
            budget, started = self.state.budget, self._started
            # Refreshed with every message (epochs, stages), which come often enough to follow the clock.
            working = (_("Working ({seconds} s of the {minutes} min budget):").format(
                seconds=f"{time.monotonic() - started:.0f}", minutes=f"{budget / 60:g}")
                if budget and started is not None else _("Working:"))
            self.status.value = note_box(f"<b>{html.escape(working)}</b> {html.escape(session.message)}")
        elif result is not None:
            words = html.escape(self._result_words(result))
            box = {"finished": ok_box, "cancelled": caution_box}.get(result.status, alert_box)
            said = _(STATUS_WORDS[result.status]) if result.status in STATUS_WORDS else result.status
            self.status.value = box(_bold(_("{status}.").format(status=said)) + " " + words
                                    if result.status != "finished" else words)
        elif session.status == "failed":
            # An error outside Auto's stages (the data could not be read, the kind of data is not supported):
            # its own message, never the traceback.
            error = self.runner.last_exception
            words = str(error) if error is not None else session.last_error
            self.status.value = alert_box(_bold(_("Auto could not start.")) + " " + html.escape(words))
        elif session.status == "cancelled":
            self.status.value = caution_box(_bold(_("Auto stopped.")) + " "
                                            + html.escape(_("What finished is kept; press Start to resume.")))

    def _show_result(self, _change=None) -> None:
        result = self.state.result
        self.results.layout.display = "none" if result is None else ""
        if result is None:
            self.card.value, self.issue_cards.children = "", ()
            self.open_button.disabled = True
            return
        issues = result.label_issues
        self.issues.layout.display = "" if issues or result.stages.get("doctor") else "none"
        self.issues_text.value = issues_summary(issues, self.state.labels)
        self.issue_cards.children = tuple(getattr(self, "_cards", ()))
        show_buttons = bool(issues) and self.state.labels == "keep"
        self.issue_buttons.layout.display = "" if show_buttons else "none"
        self.exclude_button.disabled = self.keep_button.disabled = False
        card = result.card()
        self.card.value = card_html(card) if card else caution_box(
            html.escape(result.message or _("No model card: Auto did not reach its export step.")))
        self.open_button.disabled = not (result.best_run_id or best_entry(result.entries))
        self._show_status()
