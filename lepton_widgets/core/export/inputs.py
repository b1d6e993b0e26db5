"""What verified export feeds a run's model, per modality: the held-out check batch, the input signature,
calibration rows, files to ship beside the artefact, and which formats cannot hold the model at all.

:mod:`lepton_widgets.core.export.verify` writes, reloads and compares the same way for every run; only the
*inputs* differ, and they come from here (:func:`reference_inputs`):

=========  ============================================  ===================================================
modality   the model takes                               check batch (seeded rows of the run's test split)
=========  ============================================  ===================================================
image      float32 RGB pixels (N, S, S, 3) in [0, 255]   ``prepare_data`` + the image pipeline (sounds are
           (sound runs: their log-mel spectrograms)      image runs on spectrograms, so they come here too)
text       GloVe: raw strings (N,), the vocabulary is    ``prepare_texts(...).split("test")``; MiniLM texts
           a layer; MiniLM: ``token_ids``,               are tokenised with the run's own tokeniser and cut
           ``segment_ids``, ``padding_mask`` int32       to its sequence length (the tokeniser folder and
           (N, sequence_length)                          the length are shipped with every MiniLM export)
tabular    one (N, 1) input per feature column:          ``prepare_table`` with the run's column types; rows
           float32 (numeric) or string (categorical),    become inputs through the run's stored schema, plus
           named by the schema in ``tabular.json``       test rows with one number blanked (see below)
=========  ============================================  ===================================================

**Formats that cannot hold a model** (:func:`format_support`, measured with TF 2.21, tf2onnx 1.17):

* a GloVe text model reads strings through ``TextVectorization``: lower-casing, punctuation stripping and
  splitting are TensorFlow string ops (``StringLower``, ``StaticRegexReplace``, ``StringSplitV2``) that
  TFLite's built-in op set lacks, and tf2onnx converts neither them nor the vocabulary's hash table;
* a table with categorical columns looks them up with ``StringLookup`` (a hash table): TFLite has built-in
  hash-table kernels (so ``tflite`` and ``tflite-f16`` work), but tf2onnx cannot convert the table
  (``LookupTableFindV2``); a table of numbers only converts to ONNX too;
* a table with numeric columns has no int8 file: the model replaces a missing number (NaN) by the training
  mean, and int8 quantisation of the values after the input turns NaN into an ordinary number first. The
  file converts and agrees on complete rows, but not on rows with a gap, and int8's agreement tolerance
  (built to let near-ties flip) does not reliably see a few such rows, so it is not offered.

* a MiniLM model (token ids in) converts to every format. Its int8 file is verified like any other and
  may well fail the agreement check (measured on a 1-epoch run: 33% top-1 agreement, not published):
  full-integer attention is lossy, which is what the check is for.

A table's check batch also holds :data:`MISSING_PROBES` test rows repeated with one number blanked, so
every float format is verified on the model's imputation too, not only on complete rows.

Those formats are reported ``unavailable`` with the reason (never tried, never a folder); every other
format is converted and verified for real, so a new converter that breaks shows up as ``failed``/``error``.
The checks are JSON-only, so the Export panel can draw the choice without TensorFlow.

Example:
    >>> format_support_for("text", {"encoder": "glove_6b_50d", "sequence_length": 64})["onnx"][:40]
    'a GloVe text model reads raw strings thr'
    >>> sorted(format_support_for("tabular", {"schema": {"columns": {"age": "numeric"}}}))
    ['tflite-int8']
    >>> sorted(format_support_for("tabular", {"schema": {"columns": {"city": "categorical"}}}))
    ['onnx']
    >>> sorted(format_support_for("image", {}))
    []
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from lepton_widgets.core.export.formats import REPRESENTATIVE_IMAGES

#: Test rows repeated with one numeric value blanked in a table's check batch (see the module docstring).
MISSING_PROBES = 8
#: Training rows used to calibrate int8 (images, texts or table rows).
REPRESENTATIVE_ROWS = REPRESENTATIVE_IMAGES

TFLITE_FORMATS = ("tflite", "tflite-f16", "tflite-int8")
GLOVE_TFLITE = ("a GloVe text model reads raw strings through a TextVectorization layer, whose lower-casing, "
                "punctuation stripping and splitting (StringLower, StaticRegexReplace, StringSplitV2) are "
                "TensorFlow ops that TFLite's built-in op set lacks (they would need the Flex delegate, which "
                "stock TFLite runtimes do not have); use the keras or savedmodel export")
GLOVE_ONNX = ("a GloVe text model reads raw strings through a TextVectorization layer: tf2onnx 1.17 cannot "
              "convert its string ops (StaticRegexReplace, StringSplitV2) nor its vocabulary table "
              "(LookupTableFindV2); use the keras or savedmodel export")
TABLE_INT8 = ("the model replaces a missing number (NaN) by the training mean, and int8 quantisation turns NaN "
              "into an ordinary number before that step, so rows with a gap get other answers (measured: a "
              "breast_cancer row with one missing value moved from p=0.43 to p=0.88 while complete rows agreed); "
              "the model is small: use tflite or tflite-f16")
TABLE_ONNX = ("the table's categorical columns ({columns}) are looked up with StringLookup, a TensorFlow hash "
              "table that tf2onnx 1.17 cannot convert (LookupTableFindV2); use keras, savedmodel or tflite "
              "(TFLite has built-in hash-table kernels)")


@dataclass
class ReferenceInputs:
    """Everything export needs about a run's inputs.

    ``inputs`` is what the model predicts (an image batch, an array of strings, or a dict of arrays named
    like the model's inputs); ``labels`` their class indices; ``representative`` training rows of the same
    kind for int8 (None when there are none); ``signature`` the converters' input signature (None: images
    at ``image_size``); ``meta`` goes into every ``export.json``; ``unavailable`` maps a format to why it
    cannot hold this model; ``assets`` maps a name in the export folder to a run file or folder copied
    there (a MiniLM tokeniser); ``loaders`` replaces a format's reloader (text and table models reload
    their ``.keras`` file with Keras' safe mode, as the brief for them says, rather than through the
    user-file gate, which refuses keras_hub's classes); ``info`` is the data summary for the model card.
    """

    modality: str
    inputs: Any
    labels: Optional[np.ndarray]
    representative: Any = None
    info: dict = field(default_factory=dict)
    signature: Optional[list] = None
    image_size: Optional[int] = None
    meta: dict = field(default_factory=dict)
    unavailable: dict = field(default_factory=dict)
    assets: dict = field(default_factory=dict)
    loaders: dict = field(default_factory=dict)


def run_kind(record) -> str:
    """``text``, ``tabular`` or ``image`` (image and sound runs share the image model)."""
    modality = record.info.get("modality")
    return modality if modality in ("text", "tabular") else "image"


def _run_json(record, name: str) -> dict:
    try:
        return json.loads((record.path / name).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _modality_info(record, kind: str) -> dict:
    return _run_json(record, {"text": "text.json", "tabular": "tabular.json"}[kind]) if kind != "image" else {}


def format_support(record) -> dict[str, str]:
    """``{format: why it cannot hold this run's model}`` for the formats that do not apply (JSON only)."""
    kind = run_kind(record)
    return format_support_for(kind, _modality_info(record, kind))


def format_support_for(kind: str, info: dict) -> dict[str, str]:
    """:func:`format_support` from the modality and its ``text.json``/``tabular.json`` contents."""
    if kind == "text":
        if "tokenizer" not in info:  # GloVe: strings in
            return {**{name: GLOVE_TFLITE for name in TFLITE_FORMATS}, "onnx": GLOVE_ONNX}
        return {}
    if kind == "tabular":
        columns = (info.get("schema") or {}).get("columns", {})
        categorical = [c for c, k in columns.items() if k == "categorical"]
        support = {"tflite-int8": TABLE_INT8} if len(categorical) < len(columns) else {}
        if categorical:
            shown = ", ".join(repr(c) for c in categorical[:5]) + (", ..." if len(categorical) > 5 else "")
            support["onnx"] = TABLE_ONNX.format(columns=shown)
        return support
    return {}


def _sample(n_rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded positions, kept in table order: splits are stored grouped by class, so their first rows
    would check only a few classes."""
    return np.sort(rng.choice(n_rows, size=min(n, n_rows), replace=False)) if n_rows else np.zeros(0, int)


def _data_info(record, prepared) -> dict:
    from lepton_widgets.core.data.split import split_record

    frame = prepared.table.frame
    return {"counts": {split: {str(k): int(v) for k, v in group["label"].value_counts().sort_index().items()}
                       for split, group in frame.groupby("split")},
            "data_changed": bool(record.split) and record.split != split_record(prepared.table),
            "n_total": int(len(frame))}


def _rows(table, positions):
    """A copy of ``table`` with only the rows at ``positions`` (same class list and arrays)."""
    from dataclasses import replace

    return replace(table, frame=table.frame.iloc[list(positions)].reset_index(drop=True))


def reference_inputs(record, n: int, seed: int = 0) -> ReferenceInputs:
    """The check batch of a run: ``n`` seeded rows of its test split, in the form its model takes."""
    kind = run_kind(record)
    builder = {"image": _image_inputs, "text": _text_inputs, "tabular": _table_inputs}[kind]
    refs = builder(record, n, np.random.default_rng(seed))
    refs.unavailable = format_support_for(kind, _modality_info(record, kind))
    if kind != "image":
        from lepton_widgets.core.export.formats import load_keras_safe_mode

        refs.loaders = {"keras": load_keras_safe_mode}
    return refs


def _image_inputs(record, n: int, rng) -> ReferenceInputs:
    from lepton_widgets.core.data import make_dataset, prepare_data

    cfg = record.config
    prepared = prepare_data(cfg.data, cfg.seed)
    size = cfg.backbone.image_size
    test, train = prepared.split("test"), prepared.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split; pass images to export_model instead")
    test = _rows(test, _sample(len(test), n, rng))
    train = _rows(train, _sample(len(train), REPRESENTATIVE_ROWS, rng))
    images = _pixels(make_dataset(test, size, 64, with_labels=False))
    calibration = _pixels(make_dataset(train, size, 64, with_labels=False)) if len(train) else None
    meta = {"modality": "image", "image_size": size,
            "input": "float32 RGB pixels in [0, 255], shape (N, S, S, 3)"}
    return ReferenceInputs("image", images, test.label_indices(), calibration, _data_info(record, prepared),
                           image_size=size, meta=meta)


def _pixels(dataset) -> np.ndarray:
    return np.concatenate([np.asarray(batch) for batch in dataset], axis=0)


def _text_inputs(record, n: int, rng) -> ReferenceInputs:
    from lepton_widgets.core.tasks.text.data import prepare_texts

    cfg = record.config
    data = prepare_texts(cfg.data, cfg.seed)
    (test, texts), (_, train_texts) = data.split("test"), data.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split: no held-out texts to check exports on")
    positions = _sample(len(test), n, rng)
    test, texts = _rows(test, positions), [texts[i] for i in positions]
    calibration = [train_texts[i] for i in _sample(len(train_texts), REPRESENTATIVE_ROWS, rng)]
    info = _run_json(record, "text.json")
    length = int(info.get("sequence_length") or cfg.backbone.sequence_length)
    meta = {"modality": "text", "encoder": info.get("encoder", cfg.backbone.name), "sequence_length": length}
    refs = ReferenceInputs("text", None, test.label_indices(), info=_data_info(record, prepared=data.prepared),
                           meta=meta)
    if "tokenizer" not in info:  # GloVe: the model tokenises the strings itself
        import tensorflow as tf

        refs.inputs = np.array(texts, dtype=object)
        refs.representative = np.array(calibration, dtype=object) if calibration else None
        refs.signature = [tf.TensorSpec((None,), tf.string, name="text")]
        meta["input"] = (f"raw UTF-8 strings, shape (N,): one text each; the model lower-cases, strips "
                         f"punctuation, splits on whitespace and keeps the first {length} words")
        return refs
    from lepton_widgets.core.tasks.text.encoder import tokenize, tokenizer_from_vocabulary

    tok = info["tokenizer"]
    # the run's own tokeniser, as load_text_run rebuilds it (without loading the model a second time)
    tokenizer = tokenizer_from_vocabulary(record.path / tok["vocabulary"], lowercase=tok["lowercase"],
                                          strip_accents=tok["strip_accents"])
    refs.inputs, _ = tokenize(tokenizer, texts, length)
    refs.representative = tokenize(tokenizer, calibration, length)[0] if calibration else None
    refs.signature = [_int_signature(refs.inputs, length)]
    folder = Path(tok["vocabulary"]).parent
    refs.assets = {str(folder): record.path / folder}
    meta["tokenizer"] = {"vocabulary": tok["vocabulary"], "lowercase": tok["lowercase"],
                         "strip_accents": tok["strip_accents"], "kind": "WordPiece (keras_hub BertTokenizer)"}
    meta["input"] = (f"int32 token_ids, segment_ids, padding_mask, each (N, {length}): the texts tokenised with "
                     f"the WordPiece vocabulary in {tok['vocabulary']} ([CLS] text [SEP], padded or cut to "
                     f"{length}; padding_mask 1 on real tokens)")
    return refs


def _int_signature(inputs: dict, length: int) -> dict:
    import tensorflow as tf

    return {name: tf.TensorSpec((None, length), tf.int32, name=name) for name in inputs}


def _table_inputs(record, n: int, rng) -> ReferenceInputs:
    from lepton_widgets.core.tasks.tabular.data import prepare_table
    from lepton_widgets.core.tasks.tabular.schema import NUMERIC, TableSchema

    cfg = record.config
    info = _run_json(record, "tabular.json")
    if "schema" not in info:
        raise ValueError(f"run {record.run_id} has no readable tabular.json: its model's columns are unknown")
    schema = TableSchema.from_dict(info["schema"])  # the model's columns, as trained (not re-inferred)
    data = prepare_table(cfg.data, cfg.seed, column_types=info.get("column_types") or None)
    (test, features), (_, train_features) = data.split("test"), data.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split: no held-out rows to check exports on")
    positions = _sample(len(test), n, rng)
    test, features = _rows(test, positions), features.iloc[positions].reset_index(drop=True)
    features, labels = _with_missing_probes(features, test.label_indices(), schema.numeric)
    calibration = train_features.iloc[_sample(len(train_features), REPRESENTATIVE_ROWS, rng)]
    import tensorflow as tf

    signature = {schema.inputs[c]: tf.TensorSpec((None, 1), tf.float32 if kind == NUMERIC else tf.string,
                                                 name=schema.inputs[c]) for c, kind in schema.columns.items()}
    meta = {"modality": "tabular", "target": schema.target,
            "columns": {c: {"input": schema.inputs[c], "kind": kind} for c, kind in schema.columns.items()},
            "input": "a dict of (N, 1) inputs, one per feature column (named in columns): float32 for numeric "
                     "columns (NaN = missing), UTF-8 strings for categorical ones (unseen = out of vocabulary)",
            "missing_value_probes": len(features) - len(positions)}
    return ReferenceInputs("tabular", schema.model_inputs(features), labels,
                           schema.model_inputs(calibration) if len(calibration) else None,
                           _data_info(record, data.prepared), signature=[signature], meta=meta)


def _with_missing_probes(features, labels: np.ndarray, numeric: list[str], n: int = MISSING_PROBES):
    """``features`` plus copies of its first ``n`` rows with one numeric value blanked each (cycling over
    the numeric columns), and their labels: the check batch then covers the model's imputation."""
    import pandas as pd

    k = min(n, len(features)) if numeric else 0
    if not k:
        return features, labels
    probes = features.iloc[:k].copy()
    for i in range(k):
        column = numeric[i % len(numeric)]
        probes[column] = probes[column].astype("float64")  # an integer column cannot hold NaN
        probes.iloc[i, probes.columns.get_loc(column)] = np.nan
    return pd.concat([features, probes], ignore_index=True), np.concatenate([labels, labels[:k]])
