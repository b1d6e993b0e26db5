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
import time
from typing import BinaryIO, Optional

import numpy as np
import tensorflow as tf

from lepton_widgets.core.atomic import atomic_write
from lepton_widgets.core.backbones import weights_fingerprint
from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.events import EventSink, Progress, check_stop, null_sink
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
                     run_id: str = "", task: str = "extract features", out: Optional[BinaryIO] = None):
    """Run ``extractor`` (pixels -> pooled features) over ``table`` in row order, streaming from disk.

    Returns a float32 array (N, D). With ``out`` (a binary file), the features are written there as a
    ``.npy`` file batch by batch instead, so the whole array is never in memory at once (all of
    Fashion-MNIST at 96 px through MobileNetV2 is 70,000 x 1280 floats, 358 MB); returns None then.
    ``model.predict`` would hold every batch and then a concatenated copy: twice that.
    """
    n, dim = len(table), int(extractor.output_shape[-1])
    dataset = make_dataset(table, image_size, batch_size, shuffle=False, with_labels=False)
    # A batch dimension of None: the smaller last batch reuses the same graph instead of tracing again.
    forward = tf.function(lambda images: extractor(images, training=False),
                          input_signature=[tf.TensorSpec((None, image_size, image_size, 3), tf.float32)])
    result = None
    if out is None:
        result = np.empty((n, dim), dtype=np.float32)
    else:
        np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                   "fortran_order": False, "shape": (n, dim)})
    sink(Progress(run_id=run_id, task=task, done=0, total=n))
    done, last_event = 0, time.monotonic()
    for images in dataset:
        check_stop(stop_event)
        features = np.asarray(forward(images), dtype=np.float32)
        if out is None:
            result[done:done + len(features)] = features
        else:
            out.write(features.tobytes())
        done += len(features)
        if time.monotonic() - last_event >= 0.25:
            last_event = time.monotonic()
            sink(Progress(run_id=run_id, task=task, done=done, total=n))
    sink(Progress(run_id=run_id, task=task, done=n, total=n))
    return result


def cached_features(tm, table: SampleTable, weights: str, image_size: int, batch_size: int,
                    sink: EventSink = null_sink, stop_event: Optional[threading.Event] = None,
                    run_id: str = "") -> tuple[np.ndarray, bool]:
    """Features of ``table`` through ``tm``'s frozen backbone, from the cache when possible.

    Returns ``(features, hit)``: a read-only memory map of the cached ``.npy`` file (index it to get
    in-memory copies of the rows you need), and whether it was on disk already.
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
            features = np.load(path, mmap_mode="r")
            if features.shape == (len(table), tm.spec.feature_dim):
                return features, True
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed and replaced below
    extractor = tm.feature_extractor()
    atomic_write(path, lambda out: extract_features(extractor, table, image_size, batch_size, sink, stop_event,
                                                     run_id, out=out), suffix=".npy")
    return np.load(path, mmap_mode="r"), False
