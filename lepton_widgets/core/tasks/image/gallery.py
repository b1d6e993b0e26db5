"""Images of a run's test predictions, for galleries: one confusion-matrix cell, with Grad-CAM overlays.

A run's ``predictions.csv`` says where each test sample lives: file rows have a ``path``, array rows
(built-in datasets) an ``array_index`` into the dataset's arrays. Array rows are read back from
``prepare_data(config.data, config.seed)``, cached per (data config, seed) because loading a dataset
takes seconds and every click on a cell would repeat it. Images go through the same tf.data pipeline as
training (:func:`make_dataset`), so the pixels shown and explained are the pixels the model saw.

Example (needs a stored run, so shown rather than run as a doctest; tests/test_panels_train.py runs it)::

    from lepton_widgets.core.runs.store import RunStore
    record = RunStore("runs").runs()[-1]
    items = cell_gallery(record, true_index=3, predicted_index=5)
    items[0].ref, items[0].confidence, items[0].image.shape   # ('digits[1042]', 0.71, (96, 96, 3))
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from lepton_widgets.config import RunConfig
from lepton_widgets.core.data import SampleTable, make_dataset, prepare_data
from lepton_widgets.core.runs.store import RunRecord

#: How many thumbnails a gallery shows at most: enough to see a pattern, few enough to load in a second.
DEFAULT_LIMIT = 12
DISPLAY_SIZE = 96


@dataclass
class GalleryItem:
    """One example: where it lives, what it is and what the model said, its image and Grad-CAM overlay
    (uint8 RGB at the display size; ``overlay`` is None when Grad-CAM was not asked for)."""

    ref: str
    true: str
    predicted: str
    confidence: float
    image: np.ndarray
    overlay: Optional[np.ndarray] = None


class _LRU:
    """A tiny thread-safe LRU cache: the gallery loads from click handlers and from the worker thread."""

    def __init__(self, size: int) -> None:
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: a slow load must not block readers of other keys
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_datasets = _LRU(2)   # a dataset's arrays can be large (Fashion-MNIST: ~50 MB), so keep only two
_models = _LRU(2)


def dataset_table(config: RunConfig) -> SampleTable:
    """The run's prepared dataset table (with its arrays), cached per data config and seed."""
    key = (json.dumps(dataclasses.asdict(config.data), sort_keys=True, default=str), config.seed)
    return _datasets.get(key, lambda: prepare_data(config.data, config.seed).table)


def run_model(record: RunRecord):
    """The run's trained model, cached per run folder (loading it takes about a second)."""
    return _models.get(str(record.path), record.load_model)


def clear_caches() -> None:
    _datasets.clear()
    _models.clear()


def cell_rows(predictions: pd.DataFrame, true_index: int, predicted_index: int,
              limit: Optional[int] = None) -> pd.DataFrame:
    """Prediction rows of one confusion-matrix cell, most confident first (the most telling mistakes)."""
    rows = predictions[(predictions["true_index"] == true_index) & (predictions["predicted_index"] == predicted_index)]
    rows = rows.sort_values("confidence", ascending=False, kind="stable")
    return rows if limit is None else rows.head(limit)


def load_images(record: RunRecord, rows: pd.DataFrame, size: int, as_float: bool = False) -> np.ndarray:
    """RGB images (N, size, size, 3) of prediction ``rows`` of ``record``, as the pipeline makes them:
    uint8 for display, or with ``as_float`` the pipeline's float32 pixels, exactly what the model saw
    (rounding to uint8 moves a prediction's confidence by up to ~0.002)."""
    if len(rows) == 0:
        return np.zeros((0, size, size, 3), np.float32 if as_float else np.uint8)
    array_index = rows["array_index"].fillna(-1).astype(np.int64).to_numpy()
    frame = pd.DataFrame({"ref": rows["ref"].to_numpy(), "label": rows["true"].astype(str).to_numpy(),
                          "path": rows["path"].where(array_index < 0, None).to_numpy(),
                          "array_index": array_index})
    arrays = dataset_table(record.config).arrays if (array_index >= 0).any() else None
    table = SampleTable(frame=frame, class_names=record.class_names, arrays=arrays)
    batches = make_dataset(table, size, batch_size=len(frame), with_labels=False)
    images = np.concatenate([batch.numpy() for batch in batches])
    return images if as_float else np.clip(images + 0.5, 0, 255).astype(np.uint8)


def cell_gallery(record: RunRecord, true_index: int, predicted_index: int, limit: int = DEFAULT_LIMIT,
                 display_size: int = DISPLAY_SIZE, with_gradcam: bool = True,
                 predictions: Optional[pd.DataFrame] = None) -> list[GalleryItem]:
    """Up to ``limit`` examples of one confusion-matrix cell (off the diagonal: mistakes; on it: correct
    ones), each with its image and, by default, a Grad-CAM overlay for the predicted class."""
    rows = cell_rows(record.predictions if predictions is None else predictions, true_index, predicted_index,
                     limit)
    if len(rows) == 0:
        return []
    shown = load_images(record, rows, display_size)
    overlays: list[Optional[np.ndarray]] = [None] * len(rows)
    if with_gradcam:
        from lepton_widgets.core.tasks.image.gradcam import gradcam, overlay  # deferred: only galleries need it

        model = run_model(record)
        model_size = int(model.input_shape[1])
        # Explain the model-size pixels the model really saw; the map is then laid over the sharper display image.
        inputs = load_images(record, rows, model_size, as_float=True)
        result = gradcam(model, inputs, class_index=rows["predicted_index"].to_numpy())
        overlays = [overlay(image, heat) for image, heat in zip(shown, result.heatmaps)]
    return [GalleryItem(ref=str(row.ref), true=str(row.true), predicted=str(row.predicted),
                        confidence=float(row.confidence), image=image, overlay=over)
            for row, image, over in zip(rows.itertuples(index=False), shown, overlays)]
