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


def default_steps() -> list[tuple[str, list[type]]]:
    """The workbench's steps in order: (tab title, panel classes stacked in that tab)."""
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
        ("Auto", [AutoPanel]),
        ("Data", [DatasetPanel]),
        ("Backbone", [BackbonePanel, FreezePanel]),
        ("Augment", [AugmentPanel]),
        ("Train", [TrainPanel]),
        ("Search", [TunerPanel]),
        ("Evaluate", [EvaluatePanel]),
        ("Runs", [RunsPanel]),
        ("Fuse", [FusionPanel]),
        ("Update", [UpdatePanel]),
        ("Export", [ExportPanel]),
        ("Show code", [CodePanel]),
    ]


class Workbench:
    """All panels of the workbench around one Session and one Runner: a status header, then one section per
    step, top to bottom, with "Show code" folded at the end.

    ``session_settings`` are Session traits (``dataset="digits"``, ``epochs=3``...); they win over the
    ``LEPTON_APP_*`` environment variables, which win over the Session defaults. Pass ``session`` /
    ``runner`` to share them with code in other cells.

    Why no tabs: a Plotly ``FigureWidget`` first drawn inside a hidden tab (or a closed accordion) never
    shows later updates, even once its tab is opened (checked in Chromium under Voilà), so the live loss
    curves would stay empty. Every step with a figure therefore stays on the page; the header's step links
    jump to them. Only "Show code", which has no figure, is folded.

    Example:
        >>> app = Workbench(dataset="digits", backbone="small_cnn", weights="none")  # doctest: +SKIP
        >>> app.panels["TrainPanel"].session is app.session                         # doctest: +SKIP
        True
        >>> app.step_titles[:4], app.step_titles[-1]                                 # doctest: +SKIP
        (['Auto', 'Data', 'Backbone', 'Augment'], 'Show code')
    """

    title = "Lepton Workbench"
    FOLDED = ("Show code",)  # steps shown in a closed accordion at the end (no figures in them)

    def __init__(self, session: Optional[Session] = None, runner: Optional[Runner] = None,
                 runs_dir: Optional[str | Path] = None,
                 steps: Optional[Sequence[tuple[str, Sequence[type]]]] = None, **session_settings: Any) -> None:
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
        numbered = [title for title, _ in self.steps if title not in self.FOLDED]
        sections, folded = [], []
        for title, panel_classes in self.steps:
            widgets = []
            for panel_class in panel_classes:
                panel = panel_class(self.session, self.runner)
                self.panels[panel_class.__name__] = panel
                widgets.append(panel.widget)
            if title in self.FOLDED:
                box = w.Accordion([w.VBox(widgets)], titles=(title,), selected_index=None)
                folded.append(box)
            else:
                number = numbered.index(title) + 1
                label = w.HTML(f"<div id='{_anchor(title)}' style='color:#666;font-size:12px;"
                               f"text-transform:uppercase;letter-spacing:.06em'>"
                               f"Step {number} of {len(numbered)} &middot; {html.escape(title)}</div>")
                box = w.VBox([label, *widgets], layout=w.Layout(
                    border_top="1px solid #ddd", padding="8px 4px 16px 4px", gap="8px"))
            box.add_class("lepton-step")
            box.add_class(f"lepton-step-{_anchor(title, prefix='')}")
            sections.append(box)

        self.status_line = w.HTML(layout=w.Layout(margin="0 0 0 16px"))
        self.status_line.add_class("lepton-app-status")
        links = " &rarr; ".join(f"<a href='#{_anchor(t)}'>{i}. {html.escape(t)}</a>"
                                for i, t in enumerate(numbered, start=1))
        links += "".join(f" &middot; <span style='color:#666'>{html.escape(t)} at the end</span>"
                         for t, _ in self.steps if t in self.FOLDED)
        header = w.VBox([
            w.HBox([w.HTML(f"<h2 style='margin:4px 0'>{html.escape(self.title)}</h2>"), self.status_line],
                   layout=w.Layout(align_items="center")),
            w.HTML(f"<div class='lepton-app-steps'>{links}</div>"),
        ], layout=w.Layout(padding="0 0 8px 0"))
        header.add_class("lepton-app-header")
        self.widget = w.VBox([header, *sections])
        self.widget.add_class("lepton-workbench")

        # The worker thread writes these traits; the header follows them (ipywidgets sends from any thread).
        self.session.observe(self._show_status, names=["status", "message"])
        self._show_status()

    def _show_status(self, change=None) -> None:
        status, message = self.session.status, self.session.message
        colour = {"failed": "#b00020", "finished": "#1b7f3b", "cancelled": "#8a6d00"}.get(status, "#555")
        text = html.escape(message)
        self.status_line.value = (f"<span style='color:{colour};font-weight:600'>{html.escape(status)}</span>"
                                  + (f" <span style='color:#333'>{text}</span>" if text else ""))

    @property
    def step_titles(self) -> list[str]:
        return [title for title, _ in self.steps]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _anchor(title: str, prefix: str = "lepton-step-") -> str:
    return prefix + "".join(c if c.isalnum() else "-" for c in title.lower())


def build_workbench(**kwargs: Any) -> Workbench:
    """Workbench with the defaults (and ``LEPTON_APP_*`` overrides); the notebook calls this.

    Example:
        >>> app = build_workbench(epochs=2)  # doctest: +SKIP
    """
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
