"""Predict with any chosen model, whatever it was trained on: images, sounds, texts or tables.

The Predict app offers exports and finished runs' own models
(:func:`~lepton_widgets.core.predict.exported.available_models`); this module opens a chosen model with its
task (:func:`~lepton_widgets.core.tasks.registry.task_for_model_file`) and predicts it, reusing each task's
own engine so the answers are exactly the ones the run's code would give:

* ``image``: :func:`~lepton_widgets.core.predict.exported.predict_files` (unchanged);
* ``audio``: an audio run is an image run on log-mel spectrograms, so WAV files go through the loaders' own
  transform (:func:`~lepton_widgets.core.data.audio.audio_records`: read, 16 kHz mono, first second,
  spectrogram) and the image pipeline the run trained with (:func:`~lepton_widgets.core.data.make_dataset`);
  any export of the run works too. A file that is not a usable WAV gets a reason, never an exception;
* ``text``: :func:`~lepton_widgets.core.tasks.text.predict.predict_text_lines` on one text per line;
* ``tabular``: :func:`~lepton_widgets.core.tasks.tabular.predict.predict_table_csv` on an uploaded CSV; the
  full predictions are written to a new CSV under the run folder (``predicted/``, or a temp folder when the
  run folder is read-only), never next to the user's file, which is only read.

:func:`open_any` opens the right kind of model once, so a panel can predict many times without reloading.

Example (needs trained runs, so shown rather than run; tests/test_predict_modalities.py runs it)::

    model = open_any("runs/20261130-101500-reviews-1a2b3c/model.keras")
    model.modality                                   # 'text'
    predict_text_lines(model, "Lovely tea!\\nStale and bitter.")[0].top   # [('great', 0.91), ('other', 0.09)]
    table = open_any("runs/20261130-101500-credit-1a2b3c/model.keras")
    result = predict_table_csv(table, "new_loans.csv")
    result.frame[["label", "confidence"]], result.saved   # saved: runs/.../predicted/new_loans-....csv
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.predict.exported import OpenModel, Prediction, open_model, predict_files
from lepton_widgets.core.runs.store import RunRecord
from lepton_widgets.core.tasks import task_for_model_file, task_named
# Texts and tables open and predict in their tasks; these names are the Predict app's, as before.
from lepton_widgets.core.tasks.tabular.predict import (PREDICTED_DIR, TablePredictions,  # noqa: F401
                                                       TableRunModel, predict_table_csv)
from lepton_widgets.core.tasks.text.predict import (EMPTY_TEXTS, TextPrediction, TextRunModel,  # noqa: F401
                                                    predict_text_lines, text_lines)

#: Bigger files are predicted but get no player: the browser would be sent the whole file.
MAX_PLAYER_BYTES = 10 * 2**20


# --- opening ---------------------------------------------------------------------------------------


def open_any(path: str | Path):
    """The model at ``path`` opened by its task: :class:`OpenModel` (``image``/``audio``, with a
    ``modality`` attribute naming the task), :class:`TextRunModel` or :class:`TableRunModel`."""
    opened = task_for_model_file(path).open_for_prediction(path)
    return opened if opened is not None else open_model(path)  # images, or sounds: the same image model


# --- sounds ----------------------------------------------------------------------------------------


@dataclass
class SoundPrediction(Prediction):
    """A WAV file's outcome: what :class:`Prediction` holds, plus the log-mel ``spectrogram`` (uint8
    (64, 98), high frequencies on top) the model saw, the file's bytes for a player, and a ``note`` on
    what was changed to fit the model (resampled, mixed down, trimmed)."""

    spectrogram: Optional[np.ndarray] = None
    sound: bytes = b""
    note: str = ""


def predict_wav_files(model: OpenModel, files: Sequence[str | Path], top_k: int = 3, gradcam: bool = True,
                      names: Optional[Sequence[str]] = None) -> list[SoundPrediction]:
    """Predict WAV files with an audio run's model (or one of its exports), in order.

    Each file is turned into the model's picture exactly as the run's training data was (the audio
    loaders' transform, then the image pipeline at the model's size). Files that are not usable WAVs
    (another format renamed, truncated, compressed, empty) get ``error`` with the reason.
    """
    from lepton_widgets.core.data import make_dataset
    from lepton_widgets.core.data.audio import audio_records
    from lepton_widgets.core.data.table import SAMPLE_COLUMNS, SampleTable
    from lepton_widgets.core.data.validate import FileCandidate
    from lepton_widgets.core.predict.exported import _gradcam

    files = [Path(f) for f in files]
    names = list(names) if names is not None else [f.name for f in files]
    # The content decides, not the extension, as for images: a WAV named .wave still works.
    candidates = [FileCandidate(str(f), "", f if f.is_file() else None, "" if f.is_file() else "file not found")
                  for f in files]
    records, spectrograms = audio_records(candidates)
    usable = (records["array_index"].fillna(-1).astype(int) >= 0).to_numpy()
    out = []
    for ok, name, file, (_, record) in zip(usable, names, files, records.iterrows()):
        reason = "" if pd.isna(record["reason"]) else str(record["reason"])
        if not ok:
            out.append(SoundPrediction(name, error=reason or "not a usable WAV file"))
            continue
        sound = file.read_bytes() if file.stat().st_size <= MAX_PLAYER_BYTES else b""
        out.append(SoundPrediction(name, spectrogram=spectrograms[int(record["array_index"])], sound=sound,
                                   note=reason))
    if usable.any():
        frame = records.loc[usable, list(SAMPLE_COLUMNS)].reset_index(drop=True)
        table = SampleTable(frame, list(model.class_names), spectrograms, "audio", "files")
        images = np.concatenate([np.asarray(b) for b in make_dataset(table, model.image_size, 32,
                                                                      with_labels=False)])
        probabilities = model.predictor.predict(images)
        overlays = _gradcam(model, images) if gradcam else None
        good = [p for p, ok in zip(out, usable) if ok]
        for i, (prediction, p) in enumerate(zip(good, probabilities)):
            order = np.argsort(p)[::-1][:top_k]
            prediction.top = [(model.class_names[j], float(p[j])) for j in order]
            prediction.image = np.clip(images[i] + 0.5, 0, 255).astype(np.uint8)
            prediction.overlay = None if overlays is None else overlays[i]
    return out


# --- one call for runs and exported files, every modality (lepton_widgets.predict, `lepton predict`) ----

#: The columns of :func:`predict_inputs`'s answer, one row per input (a file, a text or a table row).
PREDICT_COLUMNS = ["file", "label", "confidence", "top", "error"]
#: Other people's models load only as .keras (safe loader); the other formats only as our own signed exports.
MODEL_FILES = "a .keras file, or a .tflite, .onnx or SavedModel export made here with `lepton export`"


def is_model_file(path: str | Path) -> bool:
    """Whether ``path`` looks like a model file as our export writes them: ``.keras``, ``.tflite``, ``.onnx``
    or a SavedModel folder (one holding ``saved_model.pb``). Looks only: opening it checks provenance
    (:func:`~lepton_widgets.core.export.formats.load_predictor`)."""
    path = Path(path)
    if path.is_dir():
        return (path / "saved_model.pb").is_file()
    return path.is_file() and path.suffix.lower() in (".keras", ".tflite", ".onnx")


def open_target(target: RunRecord | str | Path, store=None):
    """Open what a person names: a run (record, id, id prefix or folder) or an exported model file.

    Returns what :func:`open_any` returns. A run opens its own ``model.keras``; an exported file opens with
    its own runtime (TFLite interpreter, onnxruntime...) and takes its classes from the ``export.json``
    beside it. ``ValueError`` says what is wrong with a path that is neither; ``FileNotFoundError`` lists
    recent runs when nothing matches.

    Example (needs a run and its exports; tests/test_predict_exported.py runs it)::

        open_target("20261130-101500-digits-1a2b3c").format                  # 'keras', the run's model
        open_target("runs/20261130-101500-digits-1a2b3c/exports/onnx/model.onnx").format   # 'onnx'
    """
    from lepton_widgets.core.runs.store import RunStore

    if isinstance(target, RunRecord):
        record = target
    else:
        path = Path(target)
        if is_model_file(path):
            return open_any(path)
        if path.is_dir() and (path / "run.json").is_file():
            record = RunRecord(path)
        elif path.exists():
            raise ValueError(f"{path} is not a run folder nor a model file ({MODEL_FILES}). Save a model of "
                             "your own as .keras (model.save('model.keras')) to load it here")
        else:
            try:
                record = (store if store is not None else RunStore()).open(str(target))
            except FileNotFoundError as error:
                raise FileNotFoundError(f"{error}. Give a run id, a run folder or a model file "
                                        f"({MODEL_FILES}).") from None
    record.check()  # a damaged run's class names cannot be trusted: refuse it, naming the damaged file
    if not record.model_path.exists():
        raise ValueError(f"run {record.run_id} is {record.status} and has no model to predict with")
    return open_any(record.model_path)


def predict_inputs(model, inputs: Sequence[str | Path], top_k: int = 3) -> pd.DataFrame:
    """Predict ``inputs`` with a model from :func:`open_target`, whatever it takes; one row per input.

    Images and sounds: file paths (unusable files get ``error``, never an exception). Texts: each input is
    a text, or the path of a text file holding one text per line. Tables: CSV file paths, one row per
    table row (``file`` reads ``name.csv:row N``). Columns: :data:`PREDICT_COLUMNS`.
    """
    task = task_named(model.modality)  # the opener wrote its task's name there
    found = task.predict_rows(model, inputs, top_k)
    if found is None:  # an exported picture model: files, read the way the task's files are
        files = _FILE_READERS[task.file_inputs](model, inputs, top_k=top_k, gradcam=False,
                                                names=[str(f) for f in inputs])
        found = [(p.name, p.top, p.error) for p in files]
    return pd.DataFrame([_row(*row) for row in found], columns=PREDICT_COLUMNS)


def _row(name: str, top: Sequence[tuple[str, float]], error: Optional[str] = None) -> dict:
    top = list(top)
    return {"file": name, "label": top[0][0] if top else None, "confidence": top[0][1] if top else None,
            "top": top, "error": error or None}


#: How an exported picture model reads its task's files
#: (:attr:`~lepton_widgets.core.tasks.base.Task.file_inputs`: pictures, or WAV files through the spectrogram).
_FILE_READERS = {"images": predict_files, "sounds": predict_wav_files}
