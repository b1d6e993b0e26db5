"""What export and model cards need from a table run: its check batch (one named input per column, through
the run's stored schema), the formats a table model cannot go to, and the card's words for rows.

* a table with categorical columns looks them up with ``StringLookup`` (a hash table): TFLite has built-in
  hash-table kernels (so ``tflite`` and ``tflite-f16`` work), but tf2onnx cannot convert the table
  (``LookupTableFindV2``); a table of numbers only converts to ONNX too;
* a table with numeric columns has no int8 file: the model replaces a missing number (NaN) by the training
  mean, and int8 quantisation of the values after the input turns NaN into an ordinary number first.

The check batch also holds :data:`MISSING_PROBES` test rows repeated with one number blanked, so every float
format is verified on the model's imputation too, not only on complete rows.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> sorted(task_named("tabular").export_unavailable({"schema": {"columns": {"age": "numeric"}}}))
    ['tflite-int8']
    >>> sorted(task_named("tabular").export_unavailable({"schema": {"columns": {"city": "categorical"}}}))
    ['onnx']
"""

from __future__ import annotations

import numpy as np

from lepton_widgets.core.tasks.exporting import normalization_as_constants

FACTS_FILE = "tabular.json"
#: Test rows repeated with one numeric value blanked in a table's check batch (see the module docstring).
MISSING_PROBES = 8
TABLE_INT8 = ("the model replaces a missing number (NaN) by the training mean, and int8 quantisation turns NaN "
              "into an ordinary number before that step, so rows with a gap get other answers (measured: a "
              "breast_cancer row with one missing value moved from p=0.43 to p=0.88 while complete rows agreed); "
              "the model is small: use tflite or tflite-f16")
TABLE_ONNX = ("the table's categorical columns ({columns}) are looked up with StringLookup, a TensorFlow hash "
              "table that tf2onnx 1.17 cannot convert (LookupTableFindV2); use keras, savedmodel or tflite "
              "(TFLite has built-in hash-table kernels)")
NOT_VALIDATED = ("rows of other classes (it will still pick one of its classes), populations or time periods "
                 "other than the training table's, values outside the ranges it was trained on")


def export_unavailable(facts: dict) -> dict[str, str]:
    columns = (facts.get("schema") or {}).get("columns", {})
    categorical = [c for c, k in columns.items() if k == "categorical"]
    support = {"tflite-int8": TABLE_INT8} if len(categorical) < len(columns) else {}
    if categorical:
        shown = ", ".join(repr(c) for c in categorical[:5]) + (", ..." if len(categorical) > 5 else "")
        support["onnx"] = TABLE_ONNX.format(columns=shown)
    return support


def export_inputs(record, n: int, rng):
    """``n`` seeded test rows (plus missing-value probes) as the model's named inputs."""
    import tensorflow as tf

    from lepton_widgets.core.tasks.exporting import (REPRESENTATIVE_ROWS, ReferenceInputs, data_info, rows,
                                                   run_json, sample)
    from lepton_widgets.core.tasks.tabular.data import prepare_table
    from lepton_widgets.core.tasks.tabular.schema import NUMERIC, TableSchema

    cfg = record.config
    info = run_json(record, FACTS_FILE)
    if "schema" not in info:
        raise ValueError(f"run {record.run_id} has no readable tabular.json: its model's columns are unknown")
    schema = TableSchema.from_dict(info["schema"])  # the model's columns, as trained (not re-inferred)
    data = prepare_table(cfg.data, cfg.seed, column_types=info.get("column_types") or None)
    (test, features), (_, train_features) = data.split("test"), data.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split: no held-out rows to check exports on")
    positions = sample(len(test), n, rng)
    test, features = rows(test, positions), features.iloc[positions].reset_index(drop=True)
    features, labels = with_missing_probes(features, test.label_indices(), schema.numeric)
    calibration = train_features.iloc[sample(len(train_features), REPRESENTATIVE_ROWS, rng)]
    signature = {schema.inputs[c]: tf.TensorSpec((None, 1), tf.float32 if kind == NUMERIC else tf.string,
                                                 name=schema.inputs[c]) for c, kind in schema.columns.items()}
    meta = {"modality": "tabular", "target": schema.target,
            "columns": {c: {"input": schema.inputs[c], "kind": kind} for c, kind in schema.columns.items()},
            "input": "a dict of (N, 1) inputs, one per feature column (named in columns): float32 for numeric "
                     "columns (NaN = missing), UTF-8 strings for categorical ones (unseen = out of vocabulary)",
            "missing_value_probes": len(features) - len(positions)}
    return ReferenceInputs("tabular", schema.model_inputs(features), labels,
                           schema.model_inputs(calibration) if len(calibration) else None,
                           data_info(record, data.prepared), signature=[signature], meta=meta)


def with_missing_probes(features, labels: np.ndarray, numeric: list[str], n: int = MISSING_PROBES):
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


def card_facts(card: dict, inputs: dict) -> None:
    """A table card: what it classifies and takes, its own MLP, the columns and the target."""
    card.update(modality="tabular", input=inputs.get("input", ""), image_size=None,
                intended_use="Classify rows into the classes below; it always answers one of them.")
    backbone = card["backbone"]
    for key in ("image_size", "frozen_depth"):
        backbone.pop(key, None)
    backbone["name"] = "tabular_mlp"  # a table trains its own MLP; backbone.name is ignored (tabular.json)
    card["columns"] = inputs.get("columns", {})
    card["target"] = inputs.get("target")


def card_trained_at(card: dict) -> str:
    return (f" with {len(card.get('columns') or {})} feature columns; a category it never saw counts "
            "as unknown and a missing number as the training mean.")


def card_model_line(card: dict) -> str:
    backbone = card["backbone"]
    return f"- Model: an MLP on the encoded columns (`{backbone['name']}`), head units {backbone['head_units']}"


#: The model as exported: its Normalization layers' statistics folded into constants.
inference_model = normalization_as_constants
