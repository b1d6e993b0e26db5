"""Transfer between tables: a finished tabular run seeds a new one through the columns they share.

``backbone.weights = "run:<run id or folder>"`` (the syntax image runs use for run backbones) names the
source run. A column is *shared* when it has the same name and the same kind (numeric/categorical) in both
tables. Then:

* shared columns keep the source's preprocessing: the same mean and variance, the same missing
  indicator, the same vocabulary in the same one-hot slots; categories that only the target's train split
  has are appended after the source's, in new slots;
* the first hidden layer's kernel rows of shared slots (and its bias) are copied from the source; rows of
  new columns and new categories keep their fresh initialisation;
* the deeper hidden layers are copied whole (the hidden widths follow the source run), and the classifier
  too when the target has exactly the source's classes in the same order (else it starts fresh).

Refused with a message: a source that is not a finished run, that is not a tabular run, or that shares no
column with the target table.

Example:
    >>> from lepton_widgets.core.tasks.tabular.schema import TableSchema
    >>> source = TableSchema("y", ["a", "b"], {"x": "numeric", "c": "categorical"})
    >>> target = TableSchema("y", ["a", "b"], {"c": "categorical", "z": "numeric"})
    >>> shared_columns(source, target)
    ['c']
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import keras
import numpy as np

from lepton_widgets.core.tasks.tabular.model import CLASSIFIER, HIDDEN_LAYERS, column_width
from lepton_widgets.core.tasks.tabular.schema import NUMERIC, TableSchema

#: The file in a tabular run that holds its schema and encoding (what transfer and prediction read).
TABULAR_FILE = "tabular.json"


class TransferRefused(ValueError):
    """The named run cannot seed this table; the message says why and what to do."""


@dataclass
class TabularSource:
    """A finished tabular run opened as a transfer source."""

    record: object
    schema: TableSchema
    encoding: dict
    model: keras.Model

    @property
    def widths(self) -> list[int]:
        return [int(self.model.get_layer(name).units) for name in HIDDEN_LAYERS]


def read_tabular_info(record) -> dict:
    """The run's ``tabular.json``; :class:`TransferRefused` when the run is not a tabular run."""
    path = record.path / TABULAR_FILE
    if record.info.get("modality") != "tabular" or not path.is_file():
        raise TransferRefused(f"run {record.run_id} is not a tabular run (it was trained on "
                              f"{record.config.data.dataset!r}); a table can only start from a tabular run")
    return json.loads(path.read_text(encoding="utf-8"))


def open_source(weights: str) -> TabularSource:
    """Resolve ``"run:<id or folder>"`` to a finished tabular run with its model."""
    from lepton_widgets.core.backbones.run_backbone import resolve_run
    from lepton_widgets.core.backbones.weights import WeightsUnavailable

    try:
        record = resolve_run(weights)
    except WeightsUnavailable as error:
        raise TransferRefused(str(error)) from None
    info = read_tabular_info(record)
    model = keras.saving.load_model(record.model_path, safe_mode=True)
    return TabularSource(record=record, schema=TableSchema.from_dict(info["schema"]), encoding=info["encoding"],
                         model=model)


def shared_columns(source: TableSchema, target: TableSchema) -> list[str]:
    """Target columns (in target order) that the source has with the same kind."""
    return [c for c, kind in target.columns.items() if source.columns.get(c) == kind]


def merge_encoding(target_schema: TableSchema, target_encoding: dict, source: TabularSource) -> tuple[dict, list[str]]:
    """The target's encoding with shared columns taken from the source; also the shared column names.

    Raises :class:`TransferRefused` when no column is shared.
    """
    shared = shared_columns(source.schema, target_schema)
    if not shared:
        raise TransferRefused(
            f"run {source.record.run_id} shares no column with this table (same name and kind): it has "
            f"{', '.join(f'{c} ({k})' for c, k in source.schema.columns.items())}; this table has "
            f"{', '.join(f'{c} ({k})' for c, k in target_schema.columns.items())}. Train from scratch "
            f"(backbone.weights: none) or rename the columns that mean the same thing")
    merged = dict(target_encoding)
    for column in shared:
        spec = dict(source.encoding[column])
        if spec["kind"] == NUMERIC:
            # a target with missing values where the source had none gets its indicator as a new slot
            spec["indicator"] = spec["indicator"] or target_encoding[column]["indicator"]
        else:
            known = set(spec["vocabulary"])
            spec["vocabulary"] = spec["vocabulary"] + [v for v in target_encoding[column]["vocabulary"]
                                                       if v not in known]
        merged[column] = spec
    return merged, shared


def _offsets(schema: TableSchema, encoding: dict) -> dict[str, int]:
    offsets, at = {}, 0
    for column in schema.columns:
        offsets[column] = at
        at += column_width(encoding[column])
    return offsets


def copy_source_weights(model: keras.Model, schema: TableSchema, encoding: dict, source: TabularSource,
                        shared: list[str]) -> dict:
    """Copy what carries over from ``source`` into ``model`` (built with ``encoding``); what was copied."""
    first, source_first = model.get_layer(HIDDEN_LAYERS[0]), source.model.get_layer(HIDDEN_LAYERS[0])
    kernel = np.array(first.get_weights()[0])
    source_kernel, source_bias = source_first.get_weights()
    target_at, source_at = _offsets(schema, encoding), _offsets(source.schema, source.encoding)
    copied_rows = 0
    for column in shared:
        rows = column_width(source.encoding[column])  # the source's slots come first in the merged encoding;
        # a numeric column's value slot precedes its indicator, a category's OOV slot precedes its vocabulary
        kernel[target_at[column]:target_at[column] + rows] = source_kernel[source_at[column]:source_at[column] + rows]
        copied_rows += rows
    first.set_weights([kernel, source_bias])
    for name in HIDDEN_LAYERS[1:]:
        model.get_layer(name).set_weights(source.model.get_layer(name).get_weights())
    same_classes = list(schema.class_names) == list(source.schema.class_names)
    if same_classes:
        model.get_layer(CLASSIFIER).set_weights(source.model.get_layer(CLASSIFIER).get_weights())
    return {"source_run": source.record.run_id, "shared_columns": shared,
            "new_columns": [c for c in schema.columns if c not in shared],
            "source_only_columns": [c for c in source.schema.columns if c not in schema.columns],
            "first_layer_rows_copied": int(copied_rows), "first_layer_rows": int(kernel.shape[0]),
            "hidden_layers_copied": list(HIDDEN_LAYERS[1:]), "classifier_copied": same_classes}


def is_tabular_run(record) -> bool:
    """Whether a stored run was trained on a table."""
    return record.info.get("modality") == "tabular"
