"""The Predict panel's two lists: one entry per run (or per file given by path), then that run's model files.

:class:`ModelChoices` is mixed into :class:`~lepton_widgets.panels.predict.panel.PredictPanel`; it fills ``run``
and ``model``, remembers each listed model's task (from the registry, so the panel can pick its view), and opens
a model file from elsewhere in the worker.

Example:
    >>> FILE_PREFIX
    'file · '
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Optional

from lepton_widgets.core.tasks import task_for_model_file, task_named
from lepton_widgets.i18n import _
from lepton_widgets.panels.style import alert_box, caution_box

FILE_PREFIX = "file · "


class ModelChoices:
    """``refresh``, ``use_file`` and the run -> model lists; expects the panel's widgets and ``_submit``."""

    def refresh(self) -> None:
        """List the runs with a model (one entry each, by name) and files given by path; keep the current
        choice when it is still there, else open on the newest run's best model (its own, with Grad-CAM)."""
        from lepton_widgets.core.predict.exported import models_by_run  # reads JSON files, predicts nothing

        keep_run, keep_model = self.run.value, self.model.value
        groups = models_by_run(self.runner.store)
        listed = {choice.path for group in groups for choice in group.choices}
        files = [(label, key) for label, key in self.run.options  # files given by path stay listed
                 if label.startswith(FILE_PREFIX) and key not in listed]
        self.groups = {group.key: group.choices for group in groups}
        self.groups.update({key: self.file_choices[key] for _, key in files})
        for choices in self.groups.values():  # one run's files share its task: ask the registry once per run
            known = [self.tasks[c.path] for c in choices if c.path in self.tasks]
            task = known[0] if known else _task_of(choices[0].path) if choices else None
            self.tasks.update({c.path: task for c in choices})
        options = [(group.label, group.key) for group in groups] + files
        keys = [key for _, key in options]
        self._choosing = True  # one model change at the end, not one per step
        try:
            self.run.options = options
            self.run.value = keep_run if keep_run in keys else (keys[0] if keys else None)
        finally:
            self._choosing = False
        self._show_models(keep_model)
        if not keys:
            self.message.value = caution_box(_("No exported model yet: export a run (Export panel or "
                                               "{command}), or give a .keras file below.").format(
                                                   command="<code>" + html.escape(_("lepton export RUN")) + "</code>"))
        elif "<code>lepton export " in self.message.value:  # the line above, in any language
            self.message.value = ""
        self._update_controls()

    def _run_chosen(self, _change=None) -> None:
        if not self._choosing:
            self._show_models()

    def _show_models(self, keep: Optional[str] = None) -> None:
        """The chosen run's model files as the second choice, best first; the best is chosen unless
        ``keep`` is one of them."""
        choices = self.groups.get(self.run.value or "", [])
        paths = [c.path for c in choices]
        self.model.options = [(c.short or c.label, c.path) for c in choices]
        self.model.value = keep if keep in paths else (paths[0] if paths else None)

    def use_file(self, path: str) -> Optional[object]:
        """Open a model file from elsewhere and make it the chosen model: a ``.keras`` file (safe mode), or
        an export (``.tflite``, ``.onnx``, a SavedModel folder) our export wrote here, verified by the
        ``export_manifest.json`` beside it."""
        path = str(path).strip()
        if not path:
            self.message.value = alert_box(_("Enter the path of a model file first."))
            return None

        def work(_job):
            from lepton_widgets.core.predict.any_modality import open_any

            return open_any(path)

        def done(opened):
            from lepton_widgets.core.predict.exported import ModelChoice

            self.opened = opened
            self.tasks[path] = _task_of(path)
            label = f"{FILE_PREFIX}{Path(path).name}"
            self.file_choices[path] = self.groups[path] = [
                ModelChoice(label, path, getattr(opened, "format", "keras"), short=label)]
            self._choosing = True
            try:
                self.run.options = [*[o for o in self.run.options if o[1] != path], (label, path)]
                self.run.value = path
            finally:
                self._choosing = False
            self._show_models(path)
            self._update_controls()
            self.message.value = _("Opened {path} ({count} classes).").format(
                path=f"<code>{html.escape(path)}</code>", count=len(opened.class_names))
            self.session.message = _("opened {name}").format(name=Path(path).name)

        return self._submit("open model", work, done)


def _task_of(path: str):
    """The model file's task; a run naming a kind of data this installation does not know is offered as
    pictures, as before (the run list stays usable, and opening the model says what is wrong)."""
    try:
        return task_for_model_file(path)
    except ValueError:
        return task_named(None)
