"""Predict panel: choose an exported model or a finished run's model, give it what it was trained on, and
see the top classes with their confidence (and, for Keras image models, a Grad-CAM map of where it looked).

The panel adapts to the chosen model's modality (:func:`~lepton_widgets.core.predict.exported.model_modality`):

* images: upload images, one card each (as always);
* sounds (a run on spectrograms): upload ``.wav`` files; each card shows the spectrogram the model saw, a
  player and the top-3 bars;
* texts: type one text per line and press Predict; one row of bars per text;
* tables: upload a CSV; the first rows are shown with their predictions, and the full predictions (with
  the uploaded columns) are saved as a new CSV in the run folder (``predicted/``), offered for download.

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
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.predict.common import TOP_K
from lepton_widgets.panels.predict.images import image_card
from lepton_widgets.panels.predict.sounds import sound_card
from lepton_widgets.panels.predict.tables import table_view
from lepton_widgets.panels.predict.texts import text_rows
from lepton_widgets.panels.style import alert_box, caution_box
from lepton_widgets.state.runner import BusyError

FILE_PREFIX = "file · "
#: Per modality: what the upload button takes, its caption, and what to do.
UPLOADS = {
    "image": ("image/*", True, "Upload images", "Upload one or more images."),
    "audio": (".wav,audio/wav,audio/x-wav", True, "Upload sounds",
              "This model was trained on sounds: upload one or more .wav files (the first second is used)."),
    "tabular": (".csv,text/csv", False, "Upload a CSV",
                "This model was trained on a table: upload a CSV with the same columns as its training table "
                "(extra columns, the target included, are ignored)."),
    "text": ("", False, "Upload", "This model was trained on texts: type one text per line, then press Predict."),
}


class PredictPanel(Panel):
    """Model choice, image upload and one card per uploaded image.

    Key widgets: ``run`` (Dropdown: one entry per run, value the run id or a given file's path),
    ``model`` (Dropdown: the chosen run's files, label -> path, best first), ``path`` + ``use_path`` (a
    model file from elsewhere), ``hint`` (what the chosen model takes), ``upload`` (FileUpload: images, WAVs
    or one CSV), ``texts`` + ``predict_button`` (text models), ``message`` (HTML), ``note`` (HTML: why there is no
    Grad-CAM), ``results`` (Box of lepton-predict-item cards, text rows, or a table preview and its saved
    file). ``modality`` is the chosen model's; ``predictions`` holds the last list of
    :class:`~lepton_widgets.core.predict.exported.Prediction` (images, sounds) or
    :class:`~lepton_widgets.core.predict.any_modality.TextPrediction`; ``table_result`` the last
    :class:`~lepton_widgets.core.predict.any_modality.TablePredictions`.
    """

    title = "Predict"

    def build(self) -> w.Widget:
        self.predictions: list = []
        self.table_result = None
        self.opened = None  # the model last opened (in the worker), reused while the choice stays
        self.modalities: dict[str, str] = {}  # path -> what the model takes, for every listed model
        self.shown_modality = "image"  # what the results on screen came from
        self.groups: dict[str, list] = {}  # run id (or a file's path) -> its ModelChoices, best first
        self.file_choices: dict[str, list] = {}  # files given by path, listed as runs of their own
        self._choosing = False  # True while refresh() sets both lists
        self.run = w.Dropdown(description="Run", options=(), layout=w.Layout(width="560px"))
        self.model = w.Dropdown(description="Model file", options=(), layout=w.Layout(width="560px"))
        self.refresh_button = w.Button(description="Refresh", tooltip="list models exported elsewhere")
        self.path = w.Text(placeholder="/path/to/model.keras (or a .tflite/.onnx/SavedModel lepton exported)",
                           description="Or a file", layout=w.Layout(width="560px"))
        self.use_path = w.Button(description="Use this file")
        self.hint = w.HTML()
        self.upload = w.FileUpload(accept="image/*", multiple=True, description="Upload images")
        self.texts = w.Textarea(placeholder="One text per line", rows=6, layout=w.Layout(width="560px"))
        self.predict_button = w.Button(description="Predict", button_style="primary")
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

    # --- models ---------------------------------------------------------------------------------

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
        for choices in self.groups.values():
            self.modalities.update({c.path: c.modality for c in choices})
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
            self.message.value = caution_box("No exported model yet: export a run (Export panel or "
                                         "<code>lepton export RUN</code>), or give a .keras file below.")
        elif "No exported model yet" in self.message.value:
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

    @property
    def modality(self) -> str:
        """What the chosen model takes: ``image``, ``audio``, ``text`` or ``tabular``."""
        return self.modalities.get(self.model.value or "", "image")

    def _update_controls(self, _change=None) -> None:
        modality = self.modality
        accept, multiple, caption, hint = UPLOADS.get(modality, UPLOADS["image"])
        self.upload.accept, self.upload.multiple, self.upload.description = accept, multiple, caption
        self.upload.layout.display = "none" if modality == "text" else None
        self.text_box.layout.display = None if modality == "text" else "none"
        self.hint.value = f"<span style='color:#555'>{html.escape(hint)}</span>" if self.model.value else ""
        self.upload.disabled = self.session.busy or not self.model.value
        self.predict_button.disabled = self.session.busy or not self.model.value
        self.use_path.disabled = self.session.busy
        if modality != self.shown_modality:  # answers of another kind of model would only confuse
            self.results.children, self.note.value = (), ""
            self.predictions, self.table_result, self.shown_modality = [], None, modality

    def use_file(self, path: str) -> Optional[object]:
        """Open a model file from elsewhere and make it the chosen model: a ``.keras`` file (safe mode), or
        an export (``.tflite``, ``.onnx``, a SavedModel folder) our export wrote here, verified by the
        ``export_manifest.json`` beside it."""
        path = str(path).strip()
        if not path:
            self.message.value = alert_box("Enter the path of a model file first.")
            return None

        def work(stop_event):
            from lepton_widgets.core.predict.any_modality import open_any

            return open_any(path)

        def done(opened):
            self.opened = opened
            self.modalities[path] = opened.modality
            from lepton_widgets.core.predict.exported import ModelChoice

            label = f"{FILE_PREFIX}{Path(path).name}"
            self.file_choices[path] = self.groups[path] = [
                ModelChoice(label, path, getattr(opened, "format", "keras"), modality=opened.modality, short=label)]
            self._choosing = True
            try:
                self.run.options = [*[o for o in self.run.options if o[1] != path], (label, path)]
                self.run.value = path
            finally:
                self._choosing = False
            self._show_models(path)
            self._update_controls()
            self.message.value = f"Opened <code>{html.escape(path)}</code> ({len(opened.class_names)} classes)."
            self.session.message = f"opened {Path(path).name}"

        return self._submit("open model", work, done)

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
        if self.modality == "tabular":
            if len(paths) > 1:
                self.message.value = alert_box("Upload one CSV file at a time.")
                shutil.rmtree(folder, ignore_errors=True)
                return
            self.predict_table(paths[0], names[0], cleanup=folder)
        else:
            self.predict(paths, names, cleanup=folder)

    def predict(self, paths, names=None, cleanup: Optional[Path] = None) -> Optional[object]:
        """Predict image files (or WAV files, for a sound model) with the chosen model in the worker thread
        (what an upload does)."""
        path = self.model.value
        if not path or self.modality in ("text", "tabular"):
            self.message.value = alert_box("Choose a model first." if not path else
                                           f"This model takes {_NOUNS[self.modality]}, not files.")
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
            return None
        names = list(names) if names is not None else [Path(p).name for p in paths]
        sounds = self.modality == "audio"

        def work(stop_event):
            from lepton_widgets.core.predict.exported import predict_files
            from lepton_widgets.core.predict.any_modality import predict_wav_files

            try:
                opened = self._open(path)
                predict = predict_wav_files if sounds else predict_files
                return predict(opened, paths, top_k=TOP_K, names=names)
            finally:
                if cleanup is not None:
                    shutil.rmtree(cleanup, ignore_errors=True)

        noun = "sound" if sounds else "image"
        self.message.value = f"Predicting {len(paths)} {noun}{'s' if len(paths) != 1 else ''}..."
        thread = self._submit("predict", work, self.show)
        if thread is None and cleanup is not None:  # not started (busy): work() will not remove the upload
            shutil.rmtree(cleanup, ignore_errors=True)
        return thread

    def predict_texts(self, raw: str) -> Optional[object]:
        """Predict every non-blank line of ``raw`` with the chosen text model (what Predict does)."""
        from lepton_widgets.core.predict.any_modality import EMPTY_TEXTS, text_lines

        path = self.model.value
        if not path or self.modality != "text":
            self.message.value = alert_box("Choose a text model first.")
            return None
        texts = text_lines(raw)
        if not texts:  # said at once, without a job: the text box is left as it is
            self.message.value = alert_box(html.escape(EMPTY_TEXTS))
            return None

        def work(stop_event):
            from lepton_widgets.core.predict.any_modality import predict_text_lines

            return predict_text_lines(self._open(path), texts, top_k=TOP_K)

        self.message.value = f"Predicting {len(texts)} text{'s' if len(texts) != 1 else ''}..."
        return self._submit("predict", work, self.show_texts)

    def predict_table(self, csv_path, name: Optional[str] = None, cleanup: Optional[Path] = None
                      ) -> Optional[object]:
        """Predict every row of a CSV with the chosen table model (what an upload does); the user's file is
        only read, the predictions go to a new CSV in the run folder."""
        path = self.model.value
        name = name or Path(csv_path).name
        if not path or self.modality != "tabular":
            self.message.value = alert_box("Choose a table model first.")
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
            return None

        def work(stop_event):
            from lepton_widgets.core.predict.any_modality import predict_table_csv

            try:
                return predict_table_csv(self._open(path), csv_path, name=name)
            finally:
                if cleanup is not None:
                    shutil.rmtree(cleanup, ignore_errors=True)

        self.message.value = f"Predicting the rows of {html.escape(name)}..."
        thread = self._submit("predict", work, self.show_table)
        if thread is None and cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        return thread

    def _open(self, path: str):
        """The chosen model, opened once (in the worker) and reused while the choice stays."""
        from lepton_widgets.core.predict.any_modality import open_any

        if self.opened is None or self.opened.path != str(path):
            self.opened = open_any(path)
        return self.opened

    def show(self, predictions) -> None:
        self.predictions = list(predictions)
        self.shown_modality = self.opened.modality
        noun = "sounds" if self.opened.modality == "audio" else "images"
        good = [p for p in self.predictions if p.error is None]
        self.message.value = (f"{len(good)} of {len(self.predictions)} {noun} predicted with "
                              f"<code>{html.escape(Path(self.opened.path).name)}</code> "
                              f"({html.escape(self.opened.format)}).")
        self.session.message = f"predicted {len(good)} {noun}"
        note = self.opened.gradcam_note
        if not note and good and all(p.overlay is None for p in good):
            note = "No Grad-CAM: this Keras model is not a Lepton transfer model (no backbone layer to explain)."
        self.note.value = caution_box(html.escape(note)) if note else ""
        self.results.children = [sound_card(p) if noun == "sounds" else image_card(p) for p in self.predictions]

    def show_texts(self, predictions) -> None:
        self.predictions, self.shown_modality = list(predictions), "text"
        self.message.value = (f"{len(self.predictions)} texts predicted with run "
                              f"<code>{html.escape(self.opened.record.run_id)}</code>.")
        self.session.message = f"predicted {len(self.predictions)} texts"
        self.note.value = ""
        self.results.children = [text_rows(self.predictions)]

    def show_table(self, result) -> None:
        self.table_result, self.shown_modality = result, "tabular"
        self.message.value = (f"{len(result.frame)} rows of <code>{html.escape(result.name)}</code> predicted "
                              f"with run <code>{html.escape(self.opened.record.run_id)}</code>.")
        self.session.message = f"predicted {len(result.frame)} rows"
        self.note.value = ""
        self.results.children = [table_view(result)]

    def _submit(self, job: str, work, done) -> Optional[object]:
        def failed(change) -> None:
            if change["new"] in ("failed", "cancelled", "finished"):
                self.session.unobserve(failed, names="status")
            if change["new"] == "failed":
                self.message.value = alert_box(f"<b>{html.escape(job.capitalize())} failed:</b> "
                                               f"{html.escape(_reason(self.session.last_error))}")

        self.session.observe(failed, names="status")
        try:
            return self.runner.submit(job, work, done)
        except BusyError as error:
            self.session.unobserve(failed, names="status")
            self.message.value = alert_box(html.escape(str(error)))
            return None


_NOUNS = {"text": "texts", "tabular": "a CSV table", "audio": "WAV files", "image": "images"}


def _reason(error: str) -> str:
    """Drop the exception class name the Runner puts first: people need the sentence."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.replace("_", "").isalnum() and " " not in head else error

