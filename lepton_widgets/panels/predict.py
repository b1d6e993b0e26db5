"""Predict panel: choose an exported model, upload images, see the top classes with their confidence and,
for Keras models, a Grad-CAM map of where the model looked.

For people who do not code: the model list is every verified export in the run store plus each finished
run's own model; a ``.keras`` file from elsewhere can be given by path and is opened in safe mode (a
Lambda layer, a pickle or a legacy ``.h5`` is refused with the reason). Uploaded images are validated
like training data, so a file that is not an image gets a line saying so instead of a crash. Opening a
model and predicting run in the Runner's worker thread; the engine is :mod:`lepton_widgets.core.exported`.

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

from lepton_widgets.core.previews import to_png
from lepton_widgets.core.uploads import clean_name
from lepton_widgets.panels.base import Panel
from lepton_widgets.state.runner import BusyError

_ALERT = "<div style='border-left:4px solid #c62828;background:#fdecea;padding:6px 10px'>{}</div>"
_NOTE = "<div style='border-left:4px solid #8a6d00;background:#fff8e1;padding:6px 10px'>{}</div>"
SHOW_PX = 128
FILE_PREFIX = "file · "
TOP_K = 3


def bars_html(top: list[tuple[str, float]]) -> str:
    """Top classes as labelled horizontal bars (width = confidence)."""
    rows = []
    for rank, (name, confidence) in enumerate(top):
        colour = "#1f77b4" if rank == 0 else "#9ecae1"
        rows.append(f"<div class='lepton-predict-bar' style='display:flex;align-items:center;gap:6px;"
                    f"font-size:12px'><span style='width:110px;overflow:hidden;text-overflow:ellipsis;"
                    f"white-space:nowrap'>{html.escape(name)}</span><span style='display:inline-block;"
                    f"width:{max(1, round(confidence * 160))}px;height:12px;background:{colour}'></span>"
                    f"<span>{confidence:.1%}</span></div>")
    return "".join(rows)


class PredictPanel(Panel):
    """Model choice, image upload and one card per uploaded image.

    Key widgets: ``model`` (Dropdown: label -> path), ``path`` + ``use_path`` (a ``.keras`` file from
    elsewhere), ``upload`` (FileUpload, images, several at once), ``message`` (HTML), ``note`` (HTML: why
    there is no Grad-CAM), ``results`` (Box of lepton-predict-item cards). ``predictions`` holds the last
    :class:`~lepton_widgets.core.exported.Prediction` list.
    """

    title = "Predict"

    def build(self) -> w.Widget:
        self.predictions: list = []
        self.opened = None  # the OpenModel last used (opened in the worker, reused while the choice stays)
        self.model = w.Dropdown(description="Model", options=(), layout=w.Layout(width="560px"))
        self.refresh_button = w.Button(description="Refresh", tooltip="list models exported elsewhere")
        self.path = w.Text(placeholder="/path/to/model.keras", description="Or a file", layout=w.Layout(width="560px"))
        self.use_path = w.Button(description="Use this file")
        self.upload = w.FileUpload(accept="image/*", multiple=True, description="Upload images")
        self.message = w.HTML()
        self.note = w.HTML()
        self.results = w.Box(layout=w.Layout(display="flex", flex_flow="row wrap"))
        for widget, name in ((self.model, "model"), (self.upload, "upload"), (self.message, "message"),
                             (self.note, "note"), (self.results, "results"), (self.path, "path")):
            widget.add_class(f"lepton-predict-{name}")

        self.refresh_button.on_click(lambda _: self.refresh())
        self.use_path.on_click(lambda _: self.use_file(self.path.value))
        self.upload.observe(self._uploaded, "value")
        self.session.observe(lambda _: self.refresh(), names="runs_version")
        self.session.observe(self._update_controls, names="busy")
        self.refresh()
        return w.VBox([w.HBox([self.model, self.refresh_button]), w.HBox([self.path, self.use_path]),
                       self.upload, self.message, self.note, self.results])

    # --- models ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """List verified exports and trained models; keep the current choice when it is still there."""
        from lepton_widgets.core.exported import available_models  # no TensorFlow: reads JSON files

        keep = self.model.value
        listed = [(c.label, c.path) for c in available_models(self.runner.store)]
        files = [(label, value) for label, value in self.model.options  # files given by path stay listed
                 if label.startswith(FILE_PREFIX) and value not in {v for _, v in listed}]
        self.model.options = listed + files
        values = [value for _, value in self.model.options]
        if keep in values:
            self.model.value = keep
        elif values:
            self.model.value = values[0]  # the newest run's first verified export
        if not values:
            self.message.value = _NOTE.format("No exported model yet: export a run (Export panel or "
                                              "<code>lepton export RUN</code>), or give a .keras file below.")
        elif "No exported model yet" in self.message.value:
            self.message.value = ""
        self._update_controls()

    def _update_controls(self, _change=None) -> None:
        self.upload.disabled = self.session.busy or not self.model.value
        self.use_path.disabled = self.session.busy

    def use_file(self, path: str) -> Optional[object]:
        """Open a ``.keras`` file from elsewhere (safe mode) and make it the chosen model."""
        path = str(path).strip()
        if not path:
            self.message.value = _ALERT.format("Enter the path of a .keras file first.")
            return None

        def work(stop_event):
            from lepton_widgets.core.exported import open_model

            return open_model(path)

        def done(opened):
            self.opened = opened
            label = f"{FILE_PREFIX}{Path(path).name}"
            self.model.options = [*[o for o in self.model.options if o[1] != path], (label, path)]
            self.model.value = path
            self.message.value = f"Opened <code>{html.escape(path)}</code> ({len(opened.class_names)} classes)."
            self.session.message = f"opened {Path(path).name}"

        return self._submit("open model", work, done)

    # --- prediction -----------------------------------------------------------------------------

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return  # the panel cleared it after the last upload
        self.upload.value = ()  # frees the bytes, and lets the same files be uploaded again
        folder = Path(tempfile.mkdtemp(prefix="lepton-predict-"))
        paths, names = [], []
        for i, entry in enumerate(files):
            name = str(entry.get("name") or f"image-{i}")
            content = entry.get("content")
            target = folder / f"{i:03d}-{clean_name(name).removesuffix('.zip')}"  # only the bytes are trusted
            target.write_bytes(bytes(content) if content is not None else b"")
            paths.append(target)
            names.append(name)
        self.predict(paths, names, cleanup=folder)

    def predict(self, paths, names=None, cleanup: Optional[Path] = None) -> Optional[object]:
        """Predict image files with the chosen model in the worker thread (what an upload does)."""
        path = self.model.value
        if not path:
            self.message.value = _ALERT.format("Choose a model first.")
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
            return None
        names = list(names) if names is not None else [Path(p).name for p in paths]

        def work(stop_event):
            from lepton_widgets.core.exported import open_model, predict_files

            try:
                if self.opened is None or self.opened.path != str(path):
                    self.opened = open_model(path)
                return predict_files(self.opened, paths, top_k=TOP_K, names=names)
            finally:
                if cleanup is not None:
                    shutil.rmtree(cleanup, ignore_errors=True)

        def done(predictions):
            self.show(predictions)

        self.message.value = f"Predicting {len(paths)} image{'s' if len(paths) != 1 else ''}..."
        thread = self._submit("predict", work, done)
        if thread is None and cleanup is not None:  # not started (busy): work() will not remove the upload
            shutil.rmtree(cleanup, ignore_errors=True)
        return thread

    def show(self, predictions) -> None:
        self.predictions = list(predictions)
        good = [p for p in self.predictions if p.error is None]
        self.message.value = (f"{len(good)} of {len(self.predictions)} images predicted with "
                              f"<code>{html.escape(Path(self.opened.path).name)}</code> "
                              f"({html.escape(self.opened.format)}).")
        self.session.message = f"predicted {len(good)} images"
        note = self.opened.gradcam_note
        if not note and good and all(p.overlay is None for p in good):
            note = "No Grad-CAM: this Keras model is not a Lepton transfer model (no backbone layer to explain)."
        self.note.value = _NOTE.format(html.escape(note)) if note else ""
        self.results.children = [_card(p) for p in self.predictions]

    def _submit(self, job: str, work, done) -> Optional[object]:
        def failed(change) -> None:
            if change["new"] in ("failed", "cancelled", "finished"):
                self.session.unobserve(failed, names="status")
            if change["new"] == "failed":
                self.message.value = _ALERT.format(f"<b>{html.escape(job.capitalize())} failed:</b> "
                                                   f"{html.escape(_reason(self.session.last_error))}")

        self.session.observe(failed, names="status")
        try:
            return self.runner.submit(job, work, done)
        except BusyError as error:
            self.session.unobserve(failed, names="status")
            self.message.value = _ALERT.format(html.escape(str(error)))
            return None


def _reason(error: str) -> str:
    """Drop the exception class name the Runner puts first: people need the sentence."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.replace("_", "").isalnum() and " " not in head else error


def _card(prediction) -> w.Widget:
    caption = w.HTML(f"<div style='font-size:12px;font-weight:600;max-width:{2 * SHOW_PX + 8}px;"
                     f"overflow-wrap:anywhere'>{html.escape(prediction.name)}</div>")
    if prediction.error is not None:
        body = w.HTML(f"<div class='lepton-predict-error' style='color:#b00020;font-size:12px;max-width:"
                      f"{2 * SHOW_PX}px'>Not predicted: {html.escape(prediction.error)}</div>")
        items = [caption, body]
    else:
        images = [w.Image(value=to_png(prediction.image, min_side=SHOW_PX), format="png", width=SHOW_PX,
                          height=SHOW_PX)]
        if prediction.overlay is not None:
            overlay = w.Image(value=to_png(prediction.overlay, min_side=SHOW_PX), format="png", width=SHOW_PX,
                              height=SHOW_PX)
            overlay.add_class("lepton-gradcam")
            images.append(overlay)
        items = [caption, w.HBox(images), w.HTML(bars_html(prediction.top))]
    box = w.VBox(items, layout=w.Layout(margin="4px", padding="6px", border="1px solid #ddd"))
    box.add_class("lepton-predict-item")
    return box
