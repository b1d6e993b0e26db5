"""The Predict app: one page for people who do not code — choose an exported model or a run, give it
images, sounds, texts or a table, read the answers (top classes, confidence, Grad-CAM for Keras image
models).

This module only composes: a header whose status line mirrors ``session.status`` / ``session.message``,
and the :class:`~lepton_widgets.panels.predict.PredictPanel`, around one Session and one Runner. Serve it
with Voilà like the workbench::

    $ lepton app --notebook notebooks/predict.ipynb

Example (in a notebook cell; tests/test_predict_app.py runs the notebook and the app in Chromium)::

    app = PredictApp(runs_dir="runs")
    app.panel.run.options       # (label, run id): one entry per run, its name first
    app.panel.model.options     # (label, path): the chosen run's own model and its verified exports
    app                         # shows the app
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional

import ipywidgets as w

from lepton_widgets.i18n import N_, _
from lepton_widgets.state.runner import Runner
from lepton_widgets.state.session import Session


#: The Session's status words as this app's header shows them ("ready" rather than the workbench's "idle").
STATUS_WORDS = {"idle": N_("ready"), "preparing": N_("preparing"), "running": N_("running"),
                "evaluating": N_("evaluating"), "stopping": N_("stopping"), "finished": N_("finished"),
                "failed": N_("failed"), "cancelled": N_("cancelled")}


class PredictApp:
    """Header + Predict panel. Pass ``session`` / ``runner`` to share them with other cells."""

    title = "Lepton Predict"

    def __init__(self, session: Optional[Session] = None, runner: Optional[Runner] = None,
                 runs_dir: Optional[str | Path] = None) -> None:
        from lepton_widgets.core.base.quiet_tensorflow import quiet_tensorflow_import

        quiet_tensorflow_import()  # the panel's imports pull TensorFlow in: first, without its start-up noise
        from lepton_widgets.panels.predict import PredictPanel
        from lepton_widgets.panels.predict.common import TOP_K

        self.session = session or Session()
        self.runner = runner or Runner(self.session, runs_dir=runs_dir)
        self.panel = PredictPanel(self.session, self.runner)
        self.status_line = w.HTML(layout=w.Layout(margin="0 0 0 16px"))
        self.status_line.add_class("lepton-app-status")
        intro = w.HTML(html.escape(_(
            "Choose a model, then give it what it was trained on: images, sounds (.wav), texts (one per line) or "
            "a table (.csv); the line under the model list says which. Each gets the model's top {count} classes "
            "with their confidence; for Keras image models, the coloured map shows where the model looked "
            "(Grad-CAM). Confidence is the model's own estimate, not a guarantee: see the model card next to "
            "each export for what the model was and was not tested on.").format(count=TOP_K)))
        header = w.HBox([w.HTML(f"<h2 style='margin:4px 0'>{html.escape(self.title)}</h2>"), self.status_line],
                        layout=w.Layout(align_items="center"))
        from lepton_widgets.panels.glossary import glossary_section, words_used_here

        words = words_used_here(["confidence", "grad_cam", "export"])
        self.widget = w.VBox([header, intro, words, self.panel.widget, glossary_section()])
        self.widget.add_class("lepton-predict-app")
        self.session.observe(self._show_status, names=["status", "message"])
        self._show_status()

    def _show_status(self, change=None) -> None:
        status, message = self.session.status, self.session.message
        colour = {"failed": "#b00020", "finished": "#1b7f3b", "cancelled": "#8a6d00"}.get(status, "#555")
        shown = _(STATUS_WORDS.get(status, status))
        self.status_line.value = (f"<span style='color:{colour};font-weight:600'>{html.escape(shown)}</span>"
                                  + (f" <span style='color:#333'>{html.escape(message)}</span>" if message else ""))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def build_predict_app(**kwargs: Any) -> PredictApp:
    """The Predict app with the default run store (``./runs`` or ``$LEPTON_RUNS``); the notebook calls this."""
    return PredictApp(**kwargs)
