"""Use an exported model: open it with its own runtime and predict image files, with Grad-CAM for Keras.

What the Predict app needs, without widgets: :func:`available_models` lists what can be chosen (every
verified export in the run store, and every finished run's own ``model.keras``), :func:`open_model`
opens one of those (or a user's ``.keras`` file, through :mod:`~lepton_widgets.core.export.safe_load`), and
:func:`predict_files` validates image files like training data (unreadable files get a reason instead of
a prediction; odd formats are converted on a copy), resizes them to the model's input and returns the
top classes with their confidence.

Runs trained on other kinds of data are offered too: the model's task
(:func:`~lepton_widgets.core.tasks.registry.task_for_model_file`) says what a chosen model takes (``image``,
``audio`` for image runs on spectrograms, ``text``, ``tabular``; :attr:`ModelChoice.modality` holds its name)
and :mod:`~lepton_widgets.core.predict.any_modality` predicts those.

Grad-CAM (:mod:`~lepton_widgets.core.tasks.image.gradcam`) needs the Keras layers and gradients, so it is drawn for
``.keras`` models only; a TFLite, ONNX or SavedModel file gives predictions, and ``gradcam_note`` says why
there is no map.

Example (needs a run with exports, so shown rather than run; tests/test_predict_app.py runs it)::

    choices = available_models(RunStore("runs"))
    model = open_model(choices[0].path)
    rows = predict_files(model, ["shoe.png"], top_k=3)
    rows[0].top      # [("Sneaker", 0.93), ("Sandal", 0.05), ("Ankle boot", 0.01)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from lepton_widgets.core.export.verify import EXPORTS_DIR, RESULT_FILE, list_exports
from lepton_widgets.core.export.formats import Predictor, guess_format, load_predictor
from lepton_widgets.core.runs.store import RunRecord, RunStore, run_label, run_of_model_file
from lepton_widgets.core.tasks import task_for_model_file, task_for_run, task_named

GRADCAM_UNAVAILABLE = ("No Grad-CAM for {format} files: it needs the Keras model's layers and gradients. "
                       "Choose the .keras export (or the run's model) to see where the model looked.")


@dataclass
class ModelChoice:
    """One model the Predict app offers: a label for people and the path to open."""

    label: str
    path: str
    format: str
    run_id: str = ""
    modality: str = "image"  # the name of the model's task (what it takes)
    own: bool = False   # the run's own model.keras (not an export)
    short: str = ""     # the label within its run's list: "trained model (.keras) · Grad-CAM", "onnx export..."


@dataclass
class RunModels:
    """One run as the Predict app lists it: ``label`` (its name and id), and ``choices``, its models best
    first: the run's own model (Grad-CAM), its ``.keras`` export (Grad-CAM), then the other exports."""

    key: str
    label: str
    choices: list[ModelChoice]

    @property
    def best(self) -> ModelChoice:
        return self.choices[0]


#: A run's models in the order offered: Grad-CAM first, then the other runtimes (export.formats.FORMATS).
_ORDER = ("keras", "savedmodel", "tflite", "tflite-f16", "tflite-int8", "onnx")


@dataclass
class OpenModel:
    """An opened model: its predictor, what its outputs mean, and whether Grad-CAM can be drawn."""

    predictor: Predictor
    class_names: list[str]
    image_size: int
    format: str
    path: str
    run_id: str = ""
    modality: str = "image"  # its task's name; "audio": the same image model, fed spectrograms

    @property
    def gradcam_note(self) -> str:
        return "" if self.predictor.keras_model is not None else GRADCAM_UNAVAILABLE.format(format=self.format)


@dataclass
class Prediction:
    """One file's outcome: ``top`` [(class, confidence)], the model-size image, its Grad-CAM overlay."""

    name: str
    top: list[tuple[str, float]] = field(default_factory=list)
    image: Optional[np.ndarray] = None      # uint8 (S, S, 3): the image as the model saw it
    overlay: Optional[np.ndarray] = None    # uint8 (S, S, 3) Grad-CAM overlay, Keras models only
    error: Optional[str] = None

    @property
    def label(self) -> Optional[str]:
        return self.top[0][0] if self.top else None

    @property
    def confidence(self) -> Optional[float]:
        return self.top[0][1] if self.top else None


def available_models(store: RunStore) -> list[ModelChoice]:
    """Verified exports (newest run first), then each finished run's own ``model.keras``; labels start
    with the run's name and id (:func:`~lepton_widgets.core.runs.store.run_label`).

    Labels of models that do not take images say what they take (``· texts``, ``· sounds (.wav)``...).
    Exports of text and table runs are not listed: the app predicts those with the run's own model and
    stored tokenizer or schema (listed below), and an export is the same model.
    """
    finished = [r for r in store.runs(include_incomplete=False) if r.status == "finished"]
    names = {record.run_id: run_label(record) for record in finished}
    choices = []
    for result in reversed(list_exports(store)):
        task = task_for_model_file(result.path)
        if not task.predicts_exports:
            continue
        owner = run_of_model_file(result.path)  # the folder it sits in: right even for a copied or renamed run
        run_id = owner.run_id if owner is not None else result.meta.get("run_id", "")
        size = f", {result.size_bytes / 1024:.0f} KB" if result.size_bytes else ""
        short = f"{result.format} export{size}{_gradcam_words(result.format, task)}"
        choices.append(ModelChoice(f"{names.get(run_id, run_id or '?')} · {short}{_takes(task)}",
                                   str(result.path), result.format, run_id, task.name, short=short))
    for record in reversed(finished):
        if record.model_path.exists():
            task = task_for_run(record)
            short = f"trained model (.keras){_gradcam_words('keras', task)}"
            choices.append(ModelChoice(f"{names[record.run_id]} · {short}{_takes(task)}",
                                       str(record.model_path), "keras", record.run_id, task.name, own=True,
                                       short=short))
    return choices


def models_by_run(store: RunStore) -> list[RunModels]:
    """:func:`available_models` grouped: one entry per run (newest first), its models best first.

    The Predict app lists these runs, then the chosen run's models as a second choice, and opens the
    best one: the run's own model (or its ``.keras`` export), the ones that can draw Grad-CAM.
    """
    records = {r.run_id: r for r in store.runs(include_incomplete=False)}
    groups: dict[str, list[ModelChoice]] = {}
    for choice in available_models(store):
        groups.setdefault(choice.run_id or choice.path, []).append(choice)
    out = []
    for key, choices in groups.items():
        choices.sort(key=lambda c: (not c.own, _ORDER.index(c.format) if c.format in _ORDER else len(_ORDER)))
        record = records.get(key)
        accuracy = record.metrics.get("accuracy") if record is not None else None
        detail = f"test accuracy {accuracy:.3f}" if isinstance(accuracy, float) else ""
        label = run_label(record, detail) if record is not None else key
        out.append(RunModels(key, f"{label}{_takes(task_named(choices[0].modality))}", choices))
    newest = [r.run_id for r in reversed(list(records.values()))]
    return sorted(out, key=lambda g: newest.index(g.key) if g.key in newest else len(newest))


def _gradcam_words(format: str, task) -> str:
    """Whether this file can show where the model looked (Keras image and sound models only)."""
    if not task.supports("gradcam"):
        return ""
    return " · Grad-CAM" if format == "keras" else " · no Grad-CAM"


def _takes(task) -> str:
    """What the model is given, after its label (nothing for pictures, the default)."""
    return f" · {task.input_words}" if task.input_words else ""


def open_model(path: str | Path) -> OpenModel:
    """Open an export artefact, a run's ``model.keras`` or a user's ``.keras`` file.

    Class names and input size come from the artefact's ``export.json``, or the run folder the file sits
    in; a lone ``.keras`` file gets its input size from the model and numbered classes.
    ``UnsafeModelError`` (a ``ValueError``) refuses unsafe files: a ``.keras`` file the safe loader rejects,
    or a SavedModel, TFLite or ONNX file that is not this installation's own unchanged export (checked by
    :func:`~lepton_widgets.core.export.manifest.verify_export` before its runtime opens it; a SavedModel
    graph can write files while it loads). ``ValueError`` explains other problems.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}")
    task = task_for_model_file(path)
    if not task.predicts_exports:  # texts and tables open from their run folder, with their own opener
        raise ValueError(f"{path.name} was trained on {task.input_words}, not images: open it with "
                         "lepton_widgets.core.predict.any_modality.open_any")
    format = guess_format(path)
    meta = _meta_beside(path)
    predictor = load_predictor(path, format)
    class_names = [str(c) for c in meta.get("class_names") or []]
    image_size = meta.get("image_size")
    if predictor.keras_model is not None:
        shape = predictor.keras_model.input_shape
        image_size = image_size or shape[1]
        outputs = predictor.keras_model.output_shape[-1]
        class_names = class_names or [f"class {i}" for i in range(outputs)]
        if len(class_names) != outputs:
            raise ValueError(f"{path.name}: the model has {outputs} outputs but {len(class_names)} class names")
    if not image_size or not class_names:
        raise ValueError(f"{path.name}: no export.json beside it says its classes and input size; open the "
                         "file from its export folder")
    return OpenModel(predictor, class_names, int(image_size), format, str(path), meta.get("run_id", ""), task.name)


def _meta_beside(path: Path) -> dict:
    """``export.json``'s meta next to an artefact, or the run's facts for a run's ``model.keras``."""
    beside = path.parent / RESULT_FILE
    if beside.is_file():
        try:
            return json.loads(beside.read_text(encoding="utf-8")).get("meta", {})
        except json.JSONDecodeError:
            return {}
    if path.name == "model.keras" and (path.parent / "run.json").is_file():
        record = RunRecord(path.parent)
        return {"class_names": record.class_names, "image_size": record.config.backbone.image_size,
                "run_id": record.run_id}
    return {}


def predict_files(model: OpenModel, files: Sequence[str | Path], top_k: int = 3, gradcam: bool = True,
                  names: Optional[Sequence[str]] = None) -> list[Prediction]:
    """Predict image files, in order; ``names`` are what to call them (defaults to the file names)."""
    from lepton_widgets.core.data import files_table, make_dataset

    names = list(names) if names is not None else [Path(f).name for f in files]
    table, report = files_table([str(f) for f in files], model.class_names)
    by_ref = {str(f): name for f, name in zip(files, names)}
    out: dict[str, Prediction] = {}
    for _, bad in report.frame[~report.frame["status"].isin(["ok", "converted"])].iterrows():
        out[bad["ref"]] = Prediction(by_ref.get(bad["ref"], bad["ref"]), error=str(bad["reason"]))
    if len(table):
        images = np.concatenate([np.asarray(b) for b in make_dataset(table, model.image_size, 32,
                                                                      with_labels=False)])
        probabilities = model.predictor.predict(images)
        overlays = _gradcam(model, images) if gradcam else None
        for i, (ref, p) in enumerate(zip(table.frame["ref"], probabilities)):
            order = np.argsort(p)[::-1][:top_k]
            out[ref] = Prediction(by_ref.get(ref, ref), [(model.class_names[j], float(p[j])) for j in order],
                                  image=np.clip(images[i] + 0.5, 0, 255).astype(np.uint8),
                                  overlay=None if overlays is None else overlays[i])
    return [out[str(f)] for f in files if str(f) in out]


def _gradcam(model: OpenModel, images: np.ndarray) -> Optional[list[np.ndarray]]:
    if model.predictor.keras_model is None:
        return None
    from lepton_widgets.core.tasks.image.gradcam import gradcam, overlay

    try:
        result = gradcam(model.predictor.keras_model, images)
    except ValueError:  # not a lepton transfer model (a user's own .keras): predictions without maps
        return None
    return [overlay(np.clip(image, 0, 255).astype(np.uint8), heat) for image, heat in zip(images, result.heatmaps)]
