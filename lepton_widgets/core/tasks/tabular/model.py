"""The tabular model: Keras preprocessing layers on raw columns, then an MLP.

The model takes a dict of raw columns (one ``(n, 1)`` input per feature, named ``schema.inputs``), so a
saved ``model.keras`` reloads and predicts from a DataFrame (``TableSchema.model_inputs``) with no
preprocessing code outside it:

* numeric column -> ``Normalization`` with the train split's mean and variance; a missing value (NaN)
  becomes 0 after normalising, i.e. the train mean; columns listed in ``schema.missing_indicators`` add
  a 0/1 ``was missing`` feature (``keras.ops.isnan``/``where`` in the graph, saved with it);
* categorical column -> ``StringLookup`` over the train split's values, one-hot, with one OOV slot
  that every unseen category (at predict time too) falls into;
* concatenated (layer ``encoded``) -> ``Dense(hidden_1, relu)`` -> dropout -> ``Dense(hidden_2, relu)`` ->
  dropout -> ``Dense(classes, softmax)`` (``classifier``), L2 on every kernel from ``train.l2``.

The statistics and vocabularies come from the train split only (:func:`fit_encoding`) and are stored as
plain data (``encoding``), which is what transfer between tables reuses column by column.
``train.head_units`` sets the first hidden width (0: :data:`DEFAULT_WIDTH`); the second is half of it.

Example:
    >>> import pandas as pd
    >>> from lepton_widgets.core.tasks.tabular.schema import TableSchema
    >>> schema = TableSchema("y", ["a", "b"], {"x": "numeric", "c": "categorical"})
    >>> train = pd.DataFrame({"x": [1.0, 3.0], "c": ["u", "v"]})
    >>> encoding = fit_encoding(schema, train)
    >>> encoding["x"]["mean"], encoding["c"]["vocabulary"], encoded_width(schema, encoding)
    (2.0, ['u', 'v'], 4)
"""

from __future__ import annotations

from typing import Optional

import keras
import numpy as np
import pandas as pd
from keras import layers, ops

from lepton_widgets.core.tasks.tabular.schema import (
    NUMERIC,
    TableSchema,
    category_strings,
    numeric_values,
)

DEFAULT_WIDTH = 64
HIDDEN_LAYERS = ("hidden_1", "hidden_2")
CLASSIFIER = "classifier"
ENCODED = "encoded"
#: StringLookup's own name for the OOV slot; a category spelled so simply lands there.
OOV_TOKEN = "[UNK]"


def hidden_widths(head_units: int, layers: int = 2) -> list[int]:
    """The MLP's hidden widths for ``train.head_units`` (0: the default) and ``train.hidden_layers``: each
    layer half as wide as the one before.

    >>> hidden_widths(0), hidden_widths(32, 3), hidden_widths(16, 1)
    ([64, 32], [32, 16, 8], [16])
    """
    first = head_units or DEFAULT_WIDTH
    return [max(1, first >> i) for i in range(layers)]


def fit_encoding(schema: TableSchema, train: pd.DataFrame) -> dict[str, dict]:
    """Per column: ``mean``/``variance`` (numeric) or ``vocabulary`` (categorical, most frequent first),
    computed on ``train`` only, plus whether it has a missing indicator."""
    encoding: dict[str, dict] = {}
    for column, kind in schema.columns.items():
        if kind == NUMERIC:
            values = numeric_values(train[column]).astype(np.float64)
            values = values[~np.isnan(values)]
            mean = float(values.mean()) if len(values) else 0.0
            variance = float(values.var()) if len(values) > 1 else 0.0
            encoding[column] = {"kind": NUMERIC, "mean": mean, "variance": variance if variance > 0 else 1.0,
                                "indicator": column in schema.missing_indicators}
        else:
            counts = category_strings(train[column]).value_counts()
            # most frequent first, ties by name: a stable order, so the same data gives the same model
            vocabulary = sorted((v for v in counts.index if v != OOV_TOKEN), key=lambda v: (-counts[v], v))
            encoding[column] = {"kind": kind, "vocabulary": list(vocabulary)}
    return encoding


def column_width(spec: dict) -> int:
    """How many encoded features one column contributes."""
    if spec["kind"] == NUMERIC:
        return 1 + int(spec["indicator"])
    return len(spec["vocabulary"]) + 1  # + the OOV slot, which comes first


def encoded_width(schema: TableSchema, encoding: dict[str, dict]) -> int:
    return sum(column_width(encoding[c]) for c in schema.columns)


def _encode_column(column: str, spec: dict, tensor, name: str):
    if spec["kind"] == NUMERIC:
        normalized = layers.Normalization(mean=spec["mean"], variance=spec["variance"], name=f"num_{name}")(tensor)
        missing = ops.isnan(normalized)
        parts = [ops.where(missing, ops.zeros_like(normalized), normalized)]
        if spec["indicator"]:
            parts.append(ops.cast(missing, "float32"))
        return parts
    lookup = layers.StringLookup(vocabulary=spec["vocabulary"], num_oov_indices=1, output_mode="one_hot",
                                 name=f"cat_{name}")
    return [lookup(tensor)]


def build_tabular_model(schema: TableSchema, encoding: dict[str, dict], num_classes: int, *, widths: list[int],
                        dropout: float, l2: float, seed: Optional[int] = None) -> keras.Model:
    """The raw-columns-in, class-probabilities-out model for ``schema`` with ``encoding``."""
    inputs, parts = {}, []
    for column, kind in schema.columns.items():
        name = schema.inputs[column]
        inputs[name] = keras.Input(shape=(1,), name=name, dtype="float32" if kind == NUMERIC else "string")
        parts += _encode_column(column, encoding[column], inputs[name], name)
    x = layers.Concatenate(name=ENCODED)(parts) if len(parts) > 1 else parts[0]
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    for i, width in enumerate(widths):
        layer_name = f"hidden_{i + 1}"  # HIDDEN_LAYERS for the first two
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        x = layers.Dense(width, activation="relu", kernel_regularizer=regularizer, kernel_initializer=init,
                         name=layer_name)(x)
        if dropout > 0:
            x = layers.Dropout(dropout, seed=seed, name=f"dropout_{i + 1}")(x)
    outputs = layers.Dense(num_classes, activation="softmax", kernel_regularizer=regularizer, name=CLASSIFIER,
                           kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
    return keras.Model(inputs, outputs, name="tabular_mlp")


def trainable_params(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
