"""Predict with any chosen model, whatever it was trained on: images, sounds, texts or tables.

The Predict app offers exports and finished runs' own models
(:func:`~lepton_widgets.core.predict.exported.available_models`); this module says what a chosen model takes (:func:`model_modality`) and predicts it, reusing each modality's
own engine so the answers are exactly the ones the run's code would give:

* ``image``: :func:`~lepton_widgets.core.predict.exported.predict_files` (unchanged);
* ``audio``: an audio run is an image run on log-mel spectrograms, so WAV files go through the loaders' own
  transform (:func:`~lepton_widgets.core.data.audio.audio_records`: read, 16 kHz mono, first second,
  spectrogram) and the image pipeline the run trained with (:func:`~lepton_widgets.core.data.make_dataset`);
  any export of the run works too. A file that is not a usable WAV gets a reason, never an exception;
* ``text``: :func:`~lepton_widgets.core.tasks.text.predict.predict_texts` on one text per line;
* ``tabular``: :func:`~lepton_widgets.core.tasks.tabular.predict.predict_frame` on an uploaded CSV; the full
  predictions are written to a new CSV under the run folder (``predicted/``, or a temp folder when the
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

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.predict.exported import OpenModel, Prediction, model_modality, open_model
from lepton_widgets.core.runs.store import RunRecord, run_of_model_file

#: Bigger files are predicted but get no player: the browser would be sent the whole file.
MAX_PLAYER_BYTES = 10 * 2**20
#: Where a tabular run keeps the predictions people ask for (inside the run folder).
PREDICTED_DIR = "predicted"
EMPTY_TEXTS = "Type at least one text to predict (one text per line)."


# --- opening ---------------------------------------------------------------------------------------


@dataclass
class TextRunModel:
    """A text run's model, tokeniser and sequence length, loaded once."""

    record: RunRecord
    model: object
    tokenizer: object
    sequence_length: int
    path: str
    modality: str = "text"

    @property
    def class_names(self) -> list[str]:
        return list(self.record.class_names)


@dataclass
class TableRunModel:
    """A tabular run's model and the schema that names its input columns, loaded once."""

    record: RunRecord
    model: object
    schema: object
    path: str
    modality: str = "tabular"

    @property
    def class_names(self) -> list[str]:
        return list(self.schema.class_names)

    @property
    def columns(self) -> list[str]:
        """The columns an uploaded table must have (others, the target included, are ignored)."""
        return list(self.schema.columns)


def open_any(path: str | Path):
    """The model at ``path`` opened for its modality: :class:`OpenModel` (``image``/``audio``, with a
    ``modality`` attribute set), :class:`TextRunModel` or :class:`TableRunModel`."""
    modality = model_modality(path)
    if modality == "text":
        from lepton_widgets.core.tasks.text.predict import load_text_run

        record = _own_run(path, "text")
        model, tokenizer, length = load_text_run(record)
        return TextRunModel(record, model, tokenizer, length, str(path))
    if modality == "tabular":
        from lepton_widgets.core.tasks.tabular.predict import load_tabular_run

        record = _own_run(path, "table")
        model, schema = load_tabular_run(record)
        return TableRunModel(record, model, schema, str(path))
    return open_model(path)  # images, or sounds: the same image model fed spectrograms


def _own_run(path: str | Path, noun: str) -> RunRecord:
    record = run_of_model_file(path)
    if record is None or Path(path).name != "model.keras":
        run = f" (predict with its run: {record.run_id})" if record is not None else ""
        raise ValueError(f"{Path(path).name}: a {noun} model is predicted from its run folder's model.keras, "
                         f"which keeps its {'tokenizer' if noun == 'text' else 'column schema'}{run}")
    return record


# --- texts -----------------------------------------------------------------------------------------


@dataclass
class TextPrediction:
    """One text's top classes ``[(class, confidence)]``, best first."""

    text: str
    top: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def confidence(self) -> float:
        return self.top[0][1]


def text_lines(raw: str | Sequence[str]) -> list[str]:
    """One text per non-blank line (surrounding spaces dropped); a list is taken as the texts already.

    >>> text_lines("  Lovely tea!\\n\\n  \\nStale and bitter. ")
    ['Lovely tea!', 'Stale and bitter.']
    """
    lines = raw.splitlines() if isinstance(raw, str) else [str(t) for t in raw]
    return [line.strip() for line in lines if line.strip()]


def predict_text_lines(model: TextRunModel, raw: str | Sequence[str], top_k: int = 3) -> list[TextPrediction]:
    """Top ``top_k`` classes of every text (``raw``: one text per line); ``ValueError`` when there is none."""
    from lepton_widgets.core.tasks.text.predict import predict_texts

    texts = text_lines(raw)
    if not texts:
        raise ValueError(EMPTY_TEXTS)
    frame = predict_texts(model.record, texts, model=model.model, tokenizer=model.tokenizer,
                          sequence_length=model.sequence_length)
    return [TextPrediction(text, _top(row, model.class_names, top_k))
            for text, (_, row) in zip(texts, frame.iterrows())]


def _top(row: pd.Series, class_names: Sequence[str], top_k: int) -> list[tuple[str, float]]:
    probabilities = np.array([row[f"p({name})"] for name in class_names], dtype=float)
    return [(class_names[i], float(probabilities[i])) for i in np.argsort(probabilities)[::-1][:top_k]]


# --- tables ----------------------------------------------------------------------------------------


@dataclass
class TablePredictions:
    """``frame``: ``label``, ``confidence``, ``p(<class>)`` per input row (input order); ``rows``: the input
    as read; ``saved``: the CSV holding both (a new file, never the user's)."""

    name: str
    frame: pd.DataFrame
    rows: pd.DataFrame
    saved: Path

    def preview(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` rows as saved: row number, prediction columns, then the input columns."""
        return _joined(self.frame.head(n), self.rows.head(n))


def predict_table_csv(model: TableRunModel, csv_path: str | Path, *, name: Optional[str] = None,
                      out_dir: Optional[str | Path] = None) -> TablePredictions:
    """Predict every row of the CSV at ``csv_path`` and save the predictions as a new CSV.

    ``name`` is what the user called the file (defaults to its name); ``out_dir`` defaults to the run's
    ``predicted/`` folder. A CSV lacking columns the model needs raises ``DataError`` (a ``ValueError``)
    naming them, as :func:`~lepton_widgets.core.tasks.tabular.predict.predict_frame` does.
    """
    from lepton_widgets.core.tasks.tabular.predict import predict_frame
    from lepton_widgets.core.tasks.tabular.read import read_csv_file

    name = name or Path(csv_path).name
    rows = read_csv_file(csv_path)[0]
    frame = predict_frame(model.record, rows, model=model.model, schema=model.schema)
    saved = _save_csv(_joined(frame, rows), Path(out_dir) if out_dir is not None else
                      model.record.path / PREDICTED_DIR, name)
    return TablePredictions(name, frame, rows, saved)


def _joined(predictions: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Row number (1 = first data row), predictions, then the input columns; an input column whose name
    clashes with a prediction column (a target called ``label``) is kept as ``<name> (input)``."""
    taken = {"row", *predictions.columns}
    inputs = rows.reset_index(drop=True).rename(columns=lambda c: f"{c} (input)" if c in taken else c)
    numbers = pd.DataFrame({"row": np.arange(1, len(predictions) + 1)})
    return pd.concat([numbers, predictions.reset_index(drop=True), inputs], axis=1)


def _save_csv(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    from lepton_widgets.core.base.atomic import atomic_write_text
    from lepton_widgets.core.base.safe_csv import to_safe_csv
    from lepton_widgets.core.data.uploads import clean_name

    stem = clean_name(name).removesuffix(".zip").removesuffix(".csv").removesuffix(".CSV") or "table"
    file = f"{stem}-predicted-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 1_000_000:06d}.csv"
    text = to_safe_csv(frame)  # the user's cells come along: a spreadsheet must not run them as formulas
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(folder / file, text)
    except OSError:  # a read-only run folder (shared runs): the predictions still get written somewhere
        return atomic_write_text(Path(tempfile.mkdtemp(prefix="lepton-predicted-")) / file, text)


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
    if isinstance(model, TextRunModel):
        rows = _text_rows(model, inputs, top_k)
    elif isinstance(model, TableRunModel):
        rows = _table_rows(model, inputs, top_k)
    else:
        names = [str(f) for f in inputs]
        if model.modality == "audio":
            found = predict_wav_files(model, inputs, top_k=top_k, gradcam=False, names=names)
        else:
            from lepton_widgets.core.predict.exported import predict_files

            found = predict_files(model, inputs, top_k=top_k, gradcam=False, names=names)
        rows = [_row(p.name, p.top, p.error) for p in found]
    return pd.DataFrame(rows, columns=PREDICT_COLUMNS)


def _row(name: str, top: Sequence[tuple[str, float]], error: Optional[str] = None) -> dict:
    top = list(top)
    return {"file": name, "label": top[0][0] if top else None, "confidence": top[0][1] if top else None,
            "top": top, "error": error or None}


def _text_rows(model: TextRunModel, inputs, top_k: int) -> list[dict]:
    texts, names = [], []
    for item in inputs:
        path = Path(str(item))
        if isinstance(item, Path) or _names_a_file(str(item)):
            try:
                lines = text_lines(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                names.append((str(item), f"cannot read {path.name} as text: {error}"))
                continue
            for n, line in enumerate(lines, 1):
                texts.append(line)
                names.append((f"{item}:{n}", None))
        else:
            texts.extend(text_lines([str(item)]))
            names.extend((str(item), None) for _ in text_lines([str(item)]))
    found = iter(predict_text_lines(model, texts, top_k) if texts else [])
    return [_row(name, [] if error else next(found).top, error) for name, error in names]


def _names_a_file(text: str) -> bool:
    """Whether a text given to a text run is the path of a file to read (else it is the text itself)."""
    try:
        return "\n" not in text and len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL byte
        return False


def _table_rows(model: TableRunModel, inputs, top_k: int) -> list[dict]:
    from lepton_widgets.core.tasks.tabular.predict import predict_frame

    rows = []
    for item in inputs:
        try:
            frame = predict_frame(model.record, Path(item), model=model.model, schema=model.schema)
        except (OSError, ValueError) as error:  # missing, unreadable, or lacking a column: said per file
            rows.append(_row(str(item), [], f"{Path(item).name}: {error}"))
            continue
        for n, (_, row) in enumerate(frame.iterrows(), 1):
            rows.append(_row(f"{item}:row {n}", _top(row, model.class_names, top_k)))
    return rows
