"""The workbench: every panel on one page, step by step, Auto first (data, budget, goal, one Start: Lepton Auto
makes and explains a model), then the expert steps Data -> Backbone -> Augment -> Train -> Search -> Evaluate
-> Runs -> Fuse -> Update -> Export, plus Show code. Auto's "Open in the expert steps" loads its chosen model
into the Session, so every expert step shows it.

This module only composes. The panels bind their own controls to the shared :class:`Session`, and the
:class:`Runner` does the work in a thread, so the app adds nothing but the layout and a header whose status
line mirrors ``session.status`` / ``session.message``. The freeze panel sits under the backbone panel
because the frozen depth only means something for the chosen backbone.

Defaults are the Session's (Fashion-MNIST, MobileNetV2 with the offline ImageNet weights). Environment
variables override them without editing the notebook, which is how the tests and the smoke runs get a
small, fast setting; keyword arguments override both:

===============================  ====================  =============
variable                         Session trait         example
===============================  ====================  =============
``LEPTON_APP_DATASET``           ``dataset``           ``digits``
``LEPTON_APP_BACKBONE``          ``backbone``          ``small_cnn``
``LEPTON_APP_WEIGHTS``           ``weights``           ``none``
``LEPTON_APP_IMAGE_SIZE``        ``image_size``        ``32``
``LEPTON_APP_EPOCHS``            ``epochs``            ``2``
``LEPTON_APP_FINE_TUNE_EPOCHS``  ``fine_tune_epochs``  ``1``
``LEPTON_APP_MAX_PER_CLASS``     ``max_per_class``     ``50``
``LEPTON_APP_BATCH_SIZE``        ``batch_size``        ``16``
``LEPTON_APP_FROZEN_DEPTH``      ``frozen_depth``      ``2``
===============================  ====================  =============

``LEPTON_BENCH_EVENTS=<file>`` appends one JSON line per finished epoch (the engine's event time), which
``benchmarks/ui_latency.py`` compares with the moment the point appears in the browser.

Example:
    >>> from lepton_widgets.apps.workbench import Workbench
    >>> app = Workbench(dataset="digits", backbone="small_cnn", weights="none", image_size=32)  # doctest: +SKIP
    >>> app                     # in a notebook cell: shows the whole workbench  # doctest: +SKIP
    >>> app.session.epochs = 3  # every control is a Session trait               # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import ipywidgets as w

# quiet_tensorflow_import is also re-exported from here: the apps call it before building their panels.
from lepton_widgets.core.base.quiet_tensorflow import quiet_tensorflow_import
from lepton_widgets.i18n import LANGUAGES, N_, _, language, set_language
from lepton_widgets.panels.glossary import glossary_section
from lepton_widgets.state.runner import Runner
from lepton_widgets.state.session import Session

# Environment variable -> (Session trait, parser). Read when a Workbench is built, not at import, so a
# notebook can set them in its first cell.
ENV_SETTINGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "LEPTON_APP_DATASET": ("dataset", str),
    "LEPTON_APP_BACKBONE": ("backbone", str),
    "LEPTON_APP_WEIGHTS": ("weights", str),
    "LEPTON_APP_IMAGE_SIZE": ("image_size", int),
    "LEPTON_APP_EPOCHS": ("epochs", int),
    "LEPTON_APP_FINE_TUNE_EPOCHS": ("fine_tune_epochs", int),
    "LEPTON_APP_MAX_PER_CLASS": ("max_per_class", int),
    "LEPTON_APP_BATCH_SIZE": ("batch_size", int),
    "LEPTON_APP_FROZEN_DEPTH": ("frozen_depth", int),
}
BENCH_EVENTS_ENV = "LEPTON_BENCH_EVENTS"


def settings_from_env(environ: Optional[dict] = None) -> dict[str, Any]:
    """Session settings named by ``LEPTON_APP_*`` variables; a bad value names the variable."""
    environ = os.environ if environ is None else environ
    settings = {}
    for variable, (trait, parse) in ENV_SETTINGS.items():
        raw = environ.get(variable)
        if raw:
            try:
                settings[trait] = parse(raw)
            except ValueError as error:
                raise ValueError(f"{variable}={raw!r}: {error}") from None
    return settings


#: The steps a beginner sees (classroom mode ``basic``), numbered 1..5; "Show advanced steps" adds the rest.
BASIC_STEPS = ("Data", "Backbone", "Augment", "Train", "Evaluate")
MODES = ("basic", "advanced")
MODE_ENV = "LEPTON_MODE"
#: The Session's status words as the header shows them (the status values themselves stay English).
STATUS_WORDS = {"idle": N_("idle"), "preparing": N_("preparing"), "waiting": N_("waiting"), "running": N_("running"),
                "evaluating": N_("evaluating"), "stopping": N_("stopping"), "finished": N_("finished"),
                "failed": N_("failed"), "cancelled": N_("cancelled")}


def mode_from_env(environ: Optional[dict] = None) -> str:
    """``$LEPTON_MODE`` (``basic`` or ``advanced``; default ``advanced``); a bad value names the variable."""
    environ = os.environ if environ is None else environ
    raw = (environ.get(MODE_ENV) or "").strip().lower()
    if not raw:
        return "advanced"
    if raw not in MODES:
        raise ValueError(f"{MODE_ENV}={raw!r}: choose one of {', '.join(MODES)}")
    return raw


def default_steps() -> list[tuple[str, list[type]]]:
    """The workbench's steps in order: (step title, panel classes stacked in that step). The titles are
    English keys (anchors, ``step_titles``); the page shows them translated."""
    # Imported here so that importing this module (e.g. for settings_from_env) stays cheap.
    from lepton_widgets.panels.augment import AugmentPanel
    from lepton_widgets.panels.auto import AutoPanel
    from lepton_widgets.panels.backbone import BackbonePanel
    from lepton_widgets.panels.code import CodePanel
    from lepton_widgets.panels.dataset import DatasetPanel
    from lepton_widgets.panels.evaluate import EvaluatePanel
    from lepton_widgets.panels.export import ExportPanel
    from lepton_widgets.panels.freeze import FreezePanel
    from lepton_widgets.panels.fusion import FusionPanel
    from lepton_widgets.panels.runs import RunsPanel
    from lepton_widgets.panels.train import TrainPanel
    from lepton_widgets.panels.tuner import TunerPanel
    from lepton_widgets.panels.update import UpdatePanel

    return [
        (N_("Auto"), [AutoPanel]),
        (N_("Data"), [DatasetPanel]),
        (N_("Backbone"), [BackbonePanel, FreezePanel]),
        (N_("Augment"), [AugmentPanel]),
        (N_("Train"), [TrainPanel]),
        (N_("Search"), [TunerPanel]),
        (N_("Evaluate"), [EvaluatePanel]),
        (N_("Runs"), [RunsPanel]),
        (N_("Fuse"), [FusionPanel]),
        (N_("Update"), [UpdatePanel]),
        (N_("Export"), [ExportPanel]),
        (N_("Show code"), [CodePanel]),
    ]


class Workbench:
    """All panels of the workbench around one Session and one Runner: a header (title, status line, step
    links, the language control and the "Show advanced steps" switch), then one section per step, top to
    bottom, with "Glossary" and "Show code" folded at the end.

    ``session_settings`` are Session traits (``dataset="digits"``, ``epochs=3``...); they win over the
    ``LEPTON_APP_*`` environment variables, which win over the Session defaults. Pass ``session`` /
    ``runner`` to share them with code in other cells.

    **Classroom mode.** ``mode="basic"`` (or ``$LEPTON_MODE=basic``) shows only Data, Backbone (with Freeze),
    Augment, Train and Evaluate, numbered 1 to 5; the header's "Show advanced steps" switch adds the others
    in their places (Auto first). ``mode="advanced"`` (the default) starts with every step shown. A step's
    panels are built the first time its section is shown, so a basic page loads only five steps' panels;
    hiding the advanced steps again only hides their sections.

    **Language.** The header's language control (``$LEPTON_LANG`` chooses the first one) calls
    :func:`~lepton_widgets.i18n.set_language` and builds every panel again in the new language, around the
    same Session and Runner, so settings, the run list and a running job survive. The observers the old
    panels put on the Session while they were built are removed (:meth:`_forget_panels`); callbacks they
    registered elsewhere (e.g. on a job in flight) stay until that job ends.

    Why no tabs: a Plotly ``FigureWidget`` first drawn inside a hidden tab (or a closed accordion) never
    shows later updates, even once its tab is opened (checked in Chromium under Voilà), so the live loss
    curves would stay empty. Every step with a figure therefore stays on the page; the header's step links
    jump to them. Only "Show code" and the glossary, which have no figure, are folded; and a hidden advanced
    step gets its panels only once its section is visible.

    Example:
        >>> app = Workbench(dataset="digits", backbone="small_cnn", weights="none")  # doctest: +SKIP
        >>> app.panels["TrainPanel"].session is app.session                         # doctest: +SKIP
        True
        >>> app.step_titles[:4], app.step_titles[-1]                                 # doctest: +SKIP
        (['Auto', 'Data', 'Backbone', 'Augment'], 'Show code')
        >>> Workbench(mode="basic").shown_steps                                      # doctest: +SKIP
        ['Data', 'Backbone', 'Augment', 'Train', 'Evaluate']
    """

    title = "Lepton Workbench"
    FOLDED = ("Show code",)  # steps shown in a closed accordion at the end (no figures in them)
    BASIC = BASIC_STEPS

    def __init__(self, session: Optional[Session] = None, runner: Optional[Runner] = None,
                 runs_dir: Optional[str | Path] = None,
                 steps: Optional[Sequence[tuple[str, Sequence[type]]]] = None, mode: Optional[str] = None,
                 **session_settings: Any) -> None:
        mode = mode_from_env() if mode is None else mode
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self.advanced = mode == "advanced"  # whether the steps outside BASIC are shown now
        settings = {**settings_from_env(), **session_settings}
        if session is None:
            session = Session(**settings)
        else:
            for trait, value in settings.items():
                setattr(session, trait, value)
        self.session = session
        self.runner = runner or Runner(session, runs_dir=runs_dir)
        bench_file = os.environ.get(BENCH_EVENTS_ENV)
        if bench_file:
            _record_epoch_times(self.runner, Path(bench_file))

        if steps is None:
            quiet_tensorflow_import()  # the panels import TensorFlow; do it first, without the noise
        self.steps = list(steps if steps is not None else default_steps())
        self.panels: dict[str, Any] = {}
        self._session_observers: list[tuple[Any, str, str]] = []  # (handler, name, type) the panels added
        self.widget = w.VBox()
        self.widget.add_class("lepton-workbench")
        self._build()
        # The worker thread writes these traits; the header follows them (ipywidgets sends from any thread).
        self.session.observe(self._show_status, names=["status", "message"])

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        """Header and every section in the current language; panels only for the sections shown."""
        self.panels = {}
        self.sections: dict[str, w.Box] = {}
        self.step_labels: dict[str, w.HTML] = {}
        self.built: set[str] = set()
        sections = []
        for title, _panels in self.steps:
            if title in self.FOLDED:
                box = w.Accordion([w.VBox()], titles=(_(title),), selected_index=None)
            else:
                label = w.HTML()
                self.step_labels[title] = label
                box = w.VBox([label], layout=w.Layout(
                    border_top="1px solid #ddd", padding="8px 4px 16px 4px", gap="8px"))
            box.add_class("lepton-step")
            box.add_class(f"lepton-step-{_anchor(title, prefix='')}")
            self.sections[title] = box
            if not self._is_shown(title):
                box.layout.display = "none"
            sections.append(box)
        self.glossary = glossary_section()
        folded = [box for box in sections if isinstance(box, w.Accordion)]
        unfolded = [box for box in sections if not isinstance(box, w.Accordion)]
        self.header = self._header()
        # Show code stays the very last section; the glossary comes just before it.
        self.widget.children = [self.header, *unfolded, self.glossary, *folded]
        for title, _panels in self.steps:
            if self._is_shown(title):
                self._build_step(title)
        self._renumber()
        self._show_status()

    def _build_step(self, title: str) -> None:
        """Create ``title``'s panels (its section is visible by now: see the class docstring)."""
        if title in self.built:
            return
        self.built.add(title)
        panel_classes = dict(self.steps)[title]
        before = _observers(self.session)
        widgets = []
        for panel_class in panel_classes:
            panel = panel_class(self.session, self.runner)
            self.panels[panel_class.__name__] = panel
            widgets.append(panel.widget)
        self._session_observers += [item for item in _observers(self.session) if item not in before]
        box = self.sections[title]
        if isinstance(box, w.Accordion):
            box.children = [w.VBox(widgets)]
            box.titles = (_(title),)
        else:
            box.children = [box.children[0], *widgets]

    def _header(self) -> w.Widget:
        self.status_line = w.HTML(layout=w.Layout(margin="0 0 0 16px"))
        self.status_line.add_class("lepton-app-status")
        self.links = w.HTML()
        self.links.add_class("lepton-app-steps")
        self.language = w.Dropdown(options=[(name, code) for code, name in LANGUAGES.items()], value=language(),
                                   description=_("Language"), layout=w.Layout(width="220px"))
        self.language.add_class("lepton-language")
        self.language.observe(self._language_chosen, names="value")
        self.advanced_switch = w.Checkbox(value=self.advanced, description=_("Show advanced steps"), indent=False,
                                          layout=w.Layout(width="auto"))
        self.advanced_switch.add_class("lepton-advanced-switch")
        self.advanced_switch.observe(self._advanced_switched, names="value")
        controls = w.HBox([self.advanced_switch, self.language],
                          layout=w.Layout(margin="0 0 0 auto", align_items="center", gap="12px"))
        header = w.VBox([
            w.HBox([w.HTML(f"<h2 style='margin:4px 0'>{html.escape(self.title)}</h2>"), self.status_line,
                    controls], layout=w.Layout(align_items="center")),
            self.links,
        ], layout=w.Layout(padding="0 0 8px 0"))
        header.add_class("lepton-app-header")
        return header

    # --- what is shown ------------------------------------------------------------------------------

    def _is_shown(self, title: str) -> bool:
        return self.advanced or title in self.BASIC

    @property
    def step_titles(self) -> list[str]:
        """Every step's title (English keys), shown or not."""
        return [title for title, _ in self.steps]

    @property
    def shown_steps(self) -> list[str]:
        """The titles of the steps on the page now, in order."""
        return [title for title, _ in self.steps if self._is_shown(title)]

    def show_advanced(self, shown: bool = True) -> None:
        """Show (building them the first time) or hide the steps outside the basic five; the switch does this."""
        self.advanced = bool(shown)
        if self.advanced_switch.value != self.advanced:
            self.advanced_switch.value = self.advanced  # calls back here; the rest is done then
            return
        for title, _panels in self.steps:
            box = self.sections[title]
            if self._is_shown(title):
                box.layout.display = None  # visible first, then the panels (Plotly figures: class docstring)
                self._build_step(title)
            else:
                box.layout.display = "none"
        self._renumber()

    def _advanced_switched(self, change) -> None:
        self.show_advanced(change["new"])

    def _renumber(self) -> None:
        """Step numbers and header links for the steps shown now."""
        numbered = [t for t in self.shown_steps if t not in self.FOLDED]
        for number, title in enumerate(numbered, start=1):
            step = _("Step {number} of {total}").format(number=number, total=len(numbered))
            self.step_labels[title].value = (
                f"<div id='{_anchor(title)}' style='color:#666;font-size:12px;text-transform:uppercase;"
                f"letter-spacing:.06em'>{html.escape(step)} &middot; {html.escape(_(title))}</div>")
        links = " &rarr; ".join(f"<a href='#{_anchor(t)}'>{i}. {html.escape(_(t))}</a>"
                                for i, t in enumerate(numbered, start=1))
        at_end = [(_anchor(t), _(t)) for t in self.shown_steps if t in self.FOLDED]
        at_end.append((GLOSSARY_ANCHOR, _("Glossary")))
        for anchor, shown in at_end:
            words = html.escape(_("{step} at the end").format(step=shown))
            links += f" &middot; <a href='#{anchor}' style='color:#666'>{words}</a>"
        self.links.value = links

    # --- language -----------------------------------------------------------------------------------

    def _language_chosen(self, change) -> None:
        self.set_language(change["new"])

    def set_language(self, code: str) -> None:
        """Speak ``code`` from now on and build the whole page again in it, around the same Session and Runner."""
        set_language(code)
        old = list(self.widget.children)
        self._forget_panels()
        self._build()
        for widget in old:
            _close_tree(widget)

    def _forget_panels(self) -> None:
        """Remove the Session observers the current panels added while they were built, and the header's own."""
        for handler, name, kind in self._session_observers:
            try:
                self.session.unobserve(handler, names=name, type=kind)
            except ValueError:
                pass  # already removed by its panel
        self._session_observers = []
        self.language.unobserve(self._language_chosen, names="value")
        self.advanced_switch.unobserve(self._advanced_switched, names="value")

    # --- status -------------------------------------------------------------------------------------

    def _show_status(self, change=None) -> None:
        status, message = self.session.status, self.session.message
        colour = {"failed": "#b00020", "finished": "#1b7f3b", "cancelled": "#8a6d00"}.get(status, "#555")
        text = html.escape(message)
        shown = _(STATUS_WORDS[status]) if status in STATUS_WORDS else status
        self.status_line.value = (f"<span style='color:{colour};font-weight:600'>{html.escape(shown)}</span>"
                                  + (f" <span style='color:#333'>{text}</span>" if text else ""))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


GLOSSARY_ANCHOR = "lepton-glossary"


def _anchor(title: str, prefix: str = "lepton-step-") -> str:
    return prefix + "".join(c if c.isalnum() else "-" for c in title.lower())


def _observers(owner) -> list[tuple[Any, str, str]]:
    """(handler, trait name, notification type) of every observer on ``owner`` (a traitlets HasTraits)."""
    return [(handler, name, kind) for name, by_type in owner._trait_notifiers.items()
            for kind, handlers in by_type.items() for handler in handlers]


def _close_tree(widget) -> None:
    """Close ``widget`` and its children (their comms and front-end views go; nothing else refers to them)."""
    for child in getattr(widget, "children", ()) or ():
        _close_tree(child)
    try:
        widget.close()
    except Exception:  # a widget that cannot close (already closed) is of no consequence
        pass


def build_workbench(**kwargs: Any) -> Workbench:
    """Workbench with the defaults (and ``LEPTON_APP_*`` overrides); the notebook calls this.

    Served by ``lepton app --room`` (``$LEPTON_ROOM_DIR`` set), it is the room's page instead: a name panel
    first, then this workbench saving into that person's folder (apps/room.py).

    Example:
        >>> app = build_workbench(epochs=2)  # doctest: +SKIP
    """
    if os.environ.get("LEPTON_ROOM_DIR"):
        from lepton_widgets.apps.room import RoomPage

        # The pooled kernel imports TensorFlow and the panels' modules before anyone arrives; the workbench's
        # widgets are made once a person has typed their name (apps/room.py).
        return RoomPage(Workbench, warm_up=lambda: (quiet_tensorflow_import(), default_steps()), **kwargs)
    return Workbench(**kwargs)


def _record_epoch_times(runner: Runner, path: Path) -> None:
    """Benchmark hook: append ``{"epoch", "phase", "time"}`` per finished epoch to ``path``.

    ``time`` is the engine's own event time (Unix seconds, the same clock the browser's ``Date.now()``
    reads on this machine). The Runner looks up ``self.on_event`` when a job starts, so wrapping the bound
    method taps every event without touching the Runner.
    """
    forward = runner.on_event
    lock = threading.Lock()

    def on_event(event) -> None:
        if event.kind == "epoch_ended":
            line = json.dumps({"epoch": event.epoch, "phase": event.phase, "epochs": event.epochs,
                               "time": event.time, "run_id": event.run_id})
            with lock, open(path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        forward(event)

    runner.on_event = on_event
