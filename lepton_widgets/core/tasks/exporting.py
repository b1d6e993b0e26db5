"""What every task's export hooks share: the check batch they fill in, seeded test rows, the run facts they
read, and the Normalization-as-constants rewrite a converter needs.

:mod:`lepton_widgets.core.export` (a higher layer) asks the run's task for its inputs
(:meth:`~lepton_widgets.core.tasks.base.Task.export_inputs`); the task builds a :class:`ReferenceInputs`
from here, so nothing in ``tasks/`` imports the export package.

Example:
    >>> import numpy as np
    >>> sample(10, 3, np.random.default_rng(0)).tolist()
    [5, 6, 9]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np

#: Training rows used to calibrate int8 (images, texts or table rows).
REPRESENTATIVE_ROWS = 100


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


def run_json(record, name: str) -> dict:
    """A JSON file of the run folder, ``{}`` when it is missing or unreadable."""
    try:
        return json.loads((record.path / name).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def sample(n_rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded positions, kept in table order: splits are stored grouped by class, so their first rows
    would check only a few classes."""
    return np.sort(rng.choice(n_rows, size=min(n, n_rows), replace=False)) if n_rows else np.zeros(0, int)


def data_info(record, prepared) -> dict:
    """Per-split class counts of ``prepared`` data, and whether they differ from the run's recorded split."""
    from lepton_widgets.core.data.split import split_record

    frame = prepared.table.frame
    return {"counts": {split: {str(k): int(v) for k, v in group["label"].value_counts().sort_index().items()}
                       for split, group in frame.groupby("split")},
            "data_changed": bool(record.split) and record.split != split_record(prepared.table),
            "n_total": int(len(frame))}


def rows(table, positions):
    """A copy of ``table`` with only the rows at ``positions`` (same class list and arrays)."""
    return replace(table, frame=table.frame.iloc[list(positions)].reset_index(drop=True))


def constant_normalization(layer):
    """A per-channel ``Normalization`` as the equivalent ``Rescaling`` (x * 1/std - mean/std).

    Why: tf2onnx (1.17) does not freeze a Normalization layer's statistics, which Keras keeps as tensors
    captured by the traced function rather than as variables; they are left in the ONNX graph as inputs
    nobody feeds ("... normalize/Sub/y:0 are missing from input feed"). Rescaling's scale and offset are
    constants in the graph. Any other layer is returned as it is.
    """
    import keras

    if type(layer) is not keras.layers.Normalization or layer.invert or getattr(layer, "mean", None) is None:
        return layer
    mean = np.asarray(layer.mean, np.float64).reshape(-1)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float64).reshape(-1)), keras.config.epsilon())
    channels = layer.input.shape[-1] if hasattr(layer, "input") else None
    if mean.size != channels:
        return layer  # not a per-channel normalisation of the image: leave it
    return keras.layers.Rescaling(scale=(1.0 / std).tolist(), offset=(-mean / std).tolist(), name=layer.name)


def normalization_as_constants(model):
    """``model`` cloned with every ``Normalization`` as constants (:func:`constant_normalization`), every
    other layer shared; ``model`` itself when it has none."""
    import keras

    if not any(type(layer) is keras.layers.Normalization for layer in model.layers):
        return model
    return keras.models.clone_model(model, clone_function=constant_normalization)


def is_augmentation(layer) -> bool:
    """Whether ``layer`` only acts in training: lepton's augmentation block or a Keras ``Random*`` layer."""
    return layer.name == "augmentation" or type(layer).__name__.startswith("Random")
