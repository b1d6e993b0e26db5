"""Predict panel: choose an exported model or a finished run's model, give it what it was trained on, and
see the top classes with their confidence (and, for Keras image models, a Grad-CAM map of where it looked).

The panel adapts to what the chosen model takes: the registry gives the model file's task
(:func:`~lepton_widgets.core.tasks.task_for_model_file`) and :func:`~lepton_widgets.panels.predict.views.view_for`
its view: images or ``.wav`` files uploaded (a card each), texts typed one per line (a row of bars each), or
one CSV (its first rows shown with their predictions, all of them saved as a new CSV in the run folder).

For people who do not code: the first list has one entry per run (its name, id and test accuracy), the
second that run's model files, best first: the run's own model (Grad-CAM), its ``.keras`` export
(Grad-CAM), then the other verified exports (TFLite, ONNX, SavedModel: predictions only). The app opens on
the newest run's own model. A model file from elsewhere can be given by path: a ``.keras`` file is opened
in safe mode (a Lambda layer, a pickle or a legacy ``.h5`` is refused with the reason); a
``.tflite``/``.onnx``/SavedModel only when it is this installation's own unchanged export (its signed
``export_manifest.json`` verifies), since such a file can run operations while loading. Uploaded images are validated
like training data, so a file that is not an image (or not a WAV) gets a line saying so instead of a crash.
Opening a model and predicting run in the Runner's worker thread; the engines are
:mod:`lepton_widgets.core.predict.exported` and :mod:`lepton_widgets.core.predict.any_modality`.

Example:
    >>> from lepton_widgets.state import Runner, Session
    >>> session = Session()
    >>> panel = PredictPanel(session, Runner(session, runs_dir="/tmp/lepton-doc-empty-runs"))
    >>> panel.model.options
    ()
    >>> "No exported model yet" in panel.message.value
    True
"""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import ipywidgets as w

from lepton_widgets.core.data.uploads import clean_name
from lepton_widgets.core.tasks import task_named
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.predict.choices import ModelChoices
from lepton_widgets.panels.predict.common import TOP_K
from lepton_widgets.panels.predict.views import FilesView, view_for
from lepton_widgets.panels.style import alert_box
from lepton_widgets.state.runner import BusyError

#: The first words of a failed job's message, per job name (the names stay the Runner's).
JOB_FAILED = {"predict": N_("Predict failed:"), "open model": N_("Open model failed:")}


class PredictPanel(ModelChoices, Panel):
    """Model choice, image upload and one card per uploaded image.

    Key widgets: ``run`` (Dropdown: one entry per run, value the run id or a given file's path),
    ``model`` (Dropdown: the chosen run's files, label -> path, best first), ``path`` + ``use_path`` (a
    model file from elsewhere), ``hint`` (what the chosen model takes), ``upload`` (FileUpload: images, WAVs
    or one CSV), ``texts`` + ``predict_button`` (text models), ``message`` (HTML), ``note`` (HTML: why there is no
    Grad-CAM), ``results`` (Box of lepton-predict-item cards, text rows, or a table preview and its saved
    file). ``task`` is the chosen model's task and ``view`` its view; ``predictions`` holds the last list of
    :class:`~lepton_widgets.core.predict.exported.Prediction` (images, sounds) or
    :class:`~lepton_widgets.core.predict.any_modality.TextPrediction`; ``table_result`` the last
    :class:`~lepton_widgets.core.predict.any_modality.TablePredictions`.
    """

    title = "Predict"

    def build(self) -> w.Widget:
        self.predictions: list = []
        self.table_result = None
        self.opened = None  # the model last opened (in the worker), reused while the choice stays
        self.tasks: dict = {}  # path -> the task of every listed model (what it takes)
        self.shown_view: FilesView = view_for(task_named(None))  # the view the results on screen came from
        self.groups: dict[str, list] = {}  # run id (or a file's path) -> its ModelChoices, best first
        self.file_choices: dict[str, list] = {}  # files given by path, listed as runs of their own
        self._choosing = False  # True while refresh() sets both lists
        self.run = w.Dropdown(description=_("Run"), options=(), layout=w.Layout(width="560px"))
        self.model = w.Dropdown(description=_("Model file"), options=(), layout=w.Layout(width="560px"))
        self.refresh_button = w.Button(description=_("Refresh"), tooltip=_("list models exported elsewhere"))
        self.path = w.Text(placeholder=_("/path/to/model.keras (or a .tflite/.onnx/SavedModel lepton exported)"),
                           description=_("Or a file"), layout=w.Layout(width="560px"))
        self.use_path = w.Button(description=_("Use this file"))
        self.hint = w.HTML()
        self.upload = w.FileUpload(accept="image/*", multiple=True, description=_("Upload images"))
        self.texts = w.Textarea(placeholder=_("One text per line"), rows=6, layout=w.Layout(width="560px"))
        self.predict_button = w.Button(description=_("Predict"), button_style="primary")
        self.text_box = w.VBox([self.texts, self.predict_button])
        self.message = w.HTML()
        self.note = w.HTML()
        self.results = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap"))
        for widget, name in ((self.run, "run"), (self.model, "model"), (self.upload, "upload"),
                             (self.message, "message"), (self.note, "note"), (self.results, "results"), (self.path, "path"),
                             (self.hint, "hint"), (self.texts, "texts"), (self.predict_button, "predict")):
            widget.add_class(f"lepton-predict-{name}")

        self.refresh_button.on_click(lambda _: self.refresh())
        self.use_path.on_click(lambda _: self.use_file(self.path.value))
        self.upload.observe(self._uploaded, "value")
        self.predict_button.on_click(lambda _: self.predict_texts(self.texts.value))
        self.run.observe(self._run_chosen, "value")
        self.model.observe(self._update_controls, "value")
        self.session.observe(lambda _: self.refresh(), names="runs_version")
        self.session.observe(self._update_controls, names="busy")
        self.refresh()
        return w.VBox([w.HBox([self.run, self.refresh_button]), self.model, w.HBox([self.path, self.use_path]),
                       self.hint, self.upload, self.text_box, self.message, self.note, self.results])

    # --- the chosen model -----------------------------------------------------------------------

    @property
    def task(self):
        """The chosen model's :class:`~lepton_widgets.core.tasks.base.Task` (pictures when none is chosen)."""
        return self.tasks.get(self.model.value or "") or task_named(None)

    @property
    def modality(self) -> str:
        """The chosen model's task name: ``image``, ``audio``, ``text`` or ``tabular``."""
        return self.task.name

    @property
    def view(self) -> FilesView:
        """What the chosen model is given and how its answers are drawn (:mod:`.views`)."""
        return view_for(self.task)

    def _update_controls(self, _change=None) -> None:
        view = self.view
        self.upload.accept, self.upload.multiple, self.upload.description = view.accept, view.multiple, _(view.caption)
        self.upload.layout.display = "none" if view.typed else None
        self.text_box.layout.display = None if view.typed else "none"
        self.hint.value = f"<span style='color:#555'>{html.escape(_(view.hint))}</span>" if self.model.value else ""
        self.upload.disabled = self.session.busy or not self.model.value
        self.predict_button.disabled = self.session.busy or not self.model.value
        self.use_path.disabled = self.session.busy
        if view is not self.shown_view:  # answers of another kind of model would only confuse
            self.results.children, self.note.value = (), ""
            self.predictions, self.table_result, self.shown_view = [], None, view

    # --- prediction -----------------------------------------------------------------------------

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return  # the panel cleared it after the last upload
        self.upload.value = ()  # frees the bytes, and lets the same files be uploaded again
        # Only the uploaded bytes are used, written to a fresh temporary folder: the user's own files are
        # never opened, and the folder is removed once the worker is done with it.
        folder = Path(tempfile.mkdtemp(prefix="lepton-predict-"))
        paths, names = [], []
        for i, entry in enumerate(files):
            name = str(entry.get("name") or f"image-{i}")
            content = entry.get("content")
            target = folder / f"{i:03d}-{clean_name(name).removesuffix('.zip')}"  # only the bytes are trusted
            target.write_bytes(bytes(content) if content is not None else b"")
            paths.append(target)
            names.append(name)
        self.view.upload(self, paths, names, folder)

    def refuse(self, why: str, cleanup: Optional[Path] = None) -> None:
        """Say ``why`` nothing is predicted (escaped HTML), and remove the upload's folder."""
        self.message.value = alert_box(why)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)

    def predict(self, paths, names=None, cleanup: Optional[Path] = None) -> Optional[object]:
        """Predict image files (or WAV files, for a sound model) with the chosen model in the worker thread
        (what an upload does)."""
        path, view = self.model.value, self.view
        if not path or view.typed or view.table:
            return self.refuse(_("Choose a model first.") if not path else
                               _("This model takes {what}, not files.").format(what=html.escape(_(view.takes))),
                               cleanup)
        names = list(names) if names is not None else [Path(p).name for p in paths]

        def work(_job):
            try:
                return view.predict(self._open(path), paths, names)
            finally:
                if cleanup is not None:
                    shutil.rmtree(cleanup, ignore_errors=True)

        self.message.value = _(view.predicting_one if len(paths) == 1 else view.predicting).format(count=len(paths))
        thread = self._submit("predict", work, self._answered(view))
        if thread is None and cleanup is not None:  # not started (busy): work() will not remove the upload
            shutil.rmtree(cleanup, ignore_errors=True)
        return thread

    def predict_texts(self, raw: str) -> Optional[object]:
        """Predict every non-blank line of ``raw`` with the chosen text model (what Predict does)."""
        from lepton_widgets.core.predict.any_modality import EMPTY_TEXTS, text_lines

        path = self.model.value
        if not path or not self.view.typed:
            return self.refuse(_("Choose a text model first."))
        texts = text_lines(raw)
        if not texts:  # said at once, without a job: the text box is left as it is
            return self.refuse(html.escape(EMPTY_TEXTS))

        def work(_job):
            from lepton_widgets.core.predict.any_modality import predict_text_lines

            return predict_text_lines(self._open(path), texts, top_k=TOP_K)

        view = self.view
        self.message.value = _(view.predicting_one if len(texts) == 1 else view.predicting).format(count=len(texts))
        return self._submit("predict", work, self._answered(self.view))

    def predict_table(self, csv_path, name: Optional[str] = None, cleanup: Optional[Path] = None
                      ) -> Optional[object]:
        """Predict every row of a CSV with the chosen table model (what an upload does); the user's file is
        only read, the predictions go to a new CSV in the run folder."""
        path = self.model.value
        name = name or Path(csv_path).name
        if not path or not self.view.table:
            return self.refuse(_("Choose a table model first."), cleanup)

        def work(_job):
            from lepton_widgets.core.predict.any_modality import predict_table_csv

            try:
                return predict_table_csv(self._open(path), csv_path, name=name)
            finally:
                if cleanup is not None:
                    shutil.rmtree(cleanup, ignore_errors=True)

        self.message.value = _(self.view.predicting).format(name=html.escape(name))
        thread = self._submit("predict", work, self._answered(self.view))
        if thread is None and cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        return thread

    def _open(self, path: str):
        """The chosen model, opened once (in the worker) and reused while the choice stays."""
        from lepton_widgets.core.predict.any_modality import open_any

        if self.opened is None or self.opened.path != str(path):
            self.opened = open_any(path)
        return self.opened

    def _answered(self, view: FilesView):
        """What happens when a job of ``view`` ends: it draws the answers; they belong to that view now."""
        def done(result) -> None:
            self.shown_view = view
            view.show(self, result)

        return done

    def _submit(self, job: str, work, done) -> Optional[object]:
        def failed(change) -> None:
            if change["new"] in ("failed", "cancelled", "finished"):
                self.session.unobserve(failed, names="status")
            if change["new"] == "failed":
                failed_line = _(JOB_FAILED.get(job, N_("{job} failed:"))).format(job=job.capitalize())
                self.message.value = alert_box(f"<b>{html.escape(failed_line)}</b> "
                                               f"{html.escape(_reason(self.session.last_error))}")

        self.session.observe(failed, names="status")
        try:
            return self.runner.submit(job, work, done)
        except BusyError as error:
            self.session.unobserve(failed, names="status")
            self.message.value = alert_box(html.escape(str(error)))
            return None


def _reason(error: str) -> str:
    """Drop the exception class name the Runner puts first: people need the sentence."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.replace("_", "").isalnum() and " " not in head else error
