"""Pooled-feature cache: run the frozen backbone over the data once, then train heads on the features.

When every backbone block is frozen and no augmentation is on, the backbone's output for an image never
changes during training, so recomputing it every step wastes two orders of magnitude of CPU time. The
cache stores the pooled features per split on disk, keyed by everything that determines them: the rows
(content hashes and labels, in order), the backbone, its weights, the image size and the normalisation.

Example:
    >>> key = feature_key(rows_hash="abc", backbone="mobilenet_v2", weights="sha:123",
    ...                   image_size=96, normalization="torch")
    >>> len(key)
    64
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Optional

import numpy as np

from lepton_widgets.core.atomic import atomic_write
from lepton_widgets.core.backbones import weights_fingerprint
from lepton_widgets.core.callbacks import PredictProgress
from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.events import EventSink, null_sink
from lepton_widgets.core.paths import cache_dir

FEATURE_CACHE_VERSION = 1


def feature_key(**parts) -> str:
    """A stable hash of the keyword arguments (sorted), used as the cache file name."""
    payload = json.dumps({"version": FEATURE_CACHE_VERSION, **parts}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def rows_hash(table: SampleTable) -> str:
    """Identity of a split in row order: features are stored aligned with the rows."""
    digest = hashlib.sha256()
    for sha, label in zip(table.frame["sha256"], table.frame["label"]):
        digest.update(f"{sha}:{label}\n".encode())
    return digest.hexdigest()


def extract_features(extractor, table: SampleTable, image_size: int, batch_size: int,
                     sink: EventSink = null_sink, stop_event: Optional[threading.Event] = None,
                     run_id: str = "", task: str = "extract features") -> np.ndarray:
    """Run ``extractor`` (pixels -> pooled features) over ``table`` in row order, streaming from disk."""
    dataset = make_dataset(table, image_size, batch_size, shuffle=False, with_labels=False)
    progress = PredictProgress(sink, run_id, task, total=len(table), stop_event=stop_event)
    progress.batch_size = batch_size
    features = extractor.predict(dataset, verbose=0, callbacks=[progress])
    return np.asarray(features, dtype=np.float32)


def cached_features(tm, table: SampleTable, weights: str, image_size: int, batch_size: int,
                    sink: EventSink = null_sink, stop_event: Optional[threading.Event] = None,
                    run_id: str = "", split: str = "") -> tuple[np.ndarray, bool]:
    """Features of ``table`` through ``tm``'s frozen backbone, from the cache when possible.

    Returns ``(features, hit)``; ``hit`` says whether they came from disk.
    """
    key = feature_key(
        rows=rows_hash(table),
        backbone=tm.spec.name,
        weights=weights_fingerprint(tm.spec, weights),
        image_size=image_size,
        normalization=tm.spec.normalization_for(weights),
    )
    path = cache_dir("features") / f"{key}.npy"
    if path.exists():
        try:
            features = np.load(path)
            if features.shape[0] == len(table):
                return features, True
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and replaced below
    features = extract_features(tm.feature_extractor(), table, image_size, batch_size, sink, stop_event,
                                run_id, task=f"extract features ({split})" if split else "extract features")
    atomic_write(path, lambda out: np.save(out, features))
    return features, False


