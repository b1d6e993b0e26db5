"""Pooled-feature cache: run the frozen backbone over the data once, then train heads on the features.

When every backbone block is frozen and no augmentation is on, the backbone's output for an image never
changes during training, so recomputing it every step wastes two orders of magnitude of CPU time. The
cache stores the pooled features per split on disk, keyed by everything that determines them: the rows
(content hashes and labels, in order), the backbone, its weights, the image size and the normalisation.
Each split has its own file, so a hyper-parameter search extracts only the rows it scores (train and val)
and never touches the test split; the final run then finds those two and extracts the test rows alone.

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

from lepton_widgets.core.base.cache_entry import cached_file, load_npy
from lepton_widgets.core.backbones import weights_fingerprint
from lepton_widgets.core.data import SampleTable, make_dataset
from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.paths import cache_dir

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


def forward_function(extractor, image_size: int):
    """``extractor`` in inference mode as one traced function. Its batch dimension is None, so the smaller
    last batch, and every further split passed the same function, reuse one graph instead of tracing again."""
    return tf.function(lambda images: extractor(images, training=False),
                       input_signature=[tf.TensorSpec((None, image_size, image_size, 3), tf.float32)])


def extract_features(extractor, table: SampleTable, image_size: int, batch_size: int, job: Optional[Job] = None,
                     *, task: str = "extract features", out: Optional[BinaryIO] = None, forward=None,
                     dtype=np.float32):
    """Run ``extractor`` (pixels -> pooled features) over ``table`` in row order, streaming from disk.

    Returns a float32 array (N, D). With ``out`` (a binary file), the features are written there as a
    ``.npy`` file batch by batch instead, so the whole array is never in memory at once (all of
    Fashion-MNIST at 96 px through MobileNetV2 is 70,000 x 1280 floats, 358 MB); returns None then.
    ``model.predict`` would hold every batch and then a concatenated copy: twice that. ``forward`` is a
    ``forward_function(extractor, image_size)`` to reuse across calls (default: a new one, traced once).
    ``job`` gets Progress events (``task``) and its stop request is checked between batches. ``dtype`` is the
    stored type (the boundary cache keeps its activations, of any shape, in float16).
    """
    job = job or Job()
    n, shape = len(table), tuple(int(d) for d in extractor.output_shape[1:])
    dataset = make_dataset(table, image_size, batch_size, shuffle=False, with_labels=False)
    forward = forward or forward_function(extractor, image_size)
    result = None
    if out is None:
        result = np.empty((n, *shape), dtype=dtype)
    else:
        np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                   "fortran_order": False, "shape": (n, *shape)})
    job.emit(Progress(run_id=job.run_id, task=task, done=0, total=n))
    done, last_event = 0, time.monotonic()
    for images in dataset:
        job.check_stop()
        features = np.asarray(forward(images)).astype(dtype, copy=False)
        if out is None:
            result[done:done + len(features)] = features
        else:
            out.write(features.tobytes())
        done += len(features)
        if time.monotonic() - last_event >= 0.25:
            last_event = time.monotonic()
            job.emit(Progress(run_id=job.run_id, task=task, done=done, total=n))
    job.emit(Progress(run_id=job.run_id, task=task, done=n, total=n))
    return result


class ExtractorOnDemand:
    """What :func:`cached_split_features` uses of a TransferModel: its ``spec`` (for the cache key) and, only
    on a cache miss, its ``feature_extractor()``, built from ``cfg`` then. On a hit (a resumed search, a
    worker, a second ranking) the backbone is never built: that is seconds per process for MobileNetV2.

    Its extractor is its own model, never trained, so :func:`cached_split_features` keeps it, traced, for the
    next miss with the same backbone, weights and image size in this process (:func:`traced_extractor`).
    A run's own TransferModel is never kept that way: a fine-tune phase may change its backbone later."""

    def __init__(self, cfg, num_classes: int) -> None:
        from lepton_widgets.core.backbones import get_backbone

        self.spec, self._cfg, self._num_classes = get_backbone(cfg.backbone.name), cfg, num_classes

    def feature_extractor(self):
        from lepton_widgets.core.tasks.image.model import build_transfer_model  # the model module is heavier to import

        cfg = self._cfg.replace(backbone__frozen_depth=None)
        return build_transfer_model(cfg, self._num_classes).feature_extractor()


#: The last private extractor traced in this process: ``{key: (extractor, forward)}``, one entry. Guarded by
#: a lock because runs, searches and Auto extract in background threads, sometimes two at once in one kernel.
_TRACED: dict[tuple, tuple] = {}
_TRACED_LOCK = threading.Lock()


def traced_extractor(tm, weights: str, image_size: int) -> tuple:
    """``(extractor, forward_function(extractor, image_size))`` for ``tm``'s frozen backbone.

    Building the backbone and tracing its forward pass cost about a second on 2 cores (MobileNetV2 at 96 px),
    as much as extracting 300 images. An :class:`ExtractorOnDemand`'s private, never-trained extractor is kept
    for the next call with the same backbone, weights identity and size (what the disk cache keys on too);
    random weights (``none``) and a run's own model are built and traced anew every time.
    """
    from lepton_widgets.core.backbones.spec import weights_source

    def build() -> tuple:
        extractor = tm.feature_extractor()
        return extractor, forward_function(extractor, image_size)

    if not isinstance(tm, ExtractorOnDemand) or weights_source(weights) == "none":
        return build()
    key = (tm.spec.name, weights_fingerprint(tm.spec, weights), int(image_size), tm.spec.normalization_for(weights))
    with _TRACED_LOCK:
        kept = _TRACED.get(key)
    if kept is not None:
        return kept
    # Built outside the lock (a second or more): another thread with another key must not wait for it. What
    # this call returns is its own build, whatever another thread keeps meanwhile.
    built = build()
    with _TRACED_LOCK:
        _TRACED.clear()
        _TRACED[key] = built
    return built


def cached_split_features(tm, tables: dict[str, SampleTable], weights: str, image_size: int, batch_size: int,
                          job: Optional[Job] = None) -> tuple[dict[str, np.ndarray], bool]:
    """Features of each table (a split) through ``tm``'s frozen backbone, each from its own cache file.

    Returns ``({name: features}, hit)``: read-only memory maps of the cached ``.npy`` files (index them
    to get in-memory copies of the rows you need), and whether every one was on disk already. The
    missing ones are extracted in turn with one traced function, and ``tm.feature_extractor()`` is
    called only then (and, for an :class:`ExtractorOnDemand`, only once per process: :func:`traced_extractor`):
    a search or run that finds everything cached never builds the backbone. Processes
    asking for the same missing split at once extract it once (``core.base.cache_entry.cached_file``);
    ``hit`` is then True for the ones that waited and read the file.
    """
    job = job or Job()
    paths = {name: feature_cache_path(tm.spec, table, weights, image_size) for name, table in tables.items()}
    built = {}  # the extractor and its traced function, made on the first miss only

    def write(out, name):
        if not built:
            built["extractor"], built["forward"] = traced_extractor(tm, weights, image_size)
        extract_features(built["extractor"], tables[name], image_size, batch_size, job,
                         task=f"extract features ({name})", out=out, forward=built["forward"])

    found, made = {}, False
    for name, path in paths.items():
        # Another kernel extracting the same split at the same time (a room, one dataset) is waited for and
        # its file read, instead of both spending the CPU; a reader only ever sees whole files.
        found[name], wrote = cached_file(
            path, lambda p, name=name: _load_valid(p, len(tables[name]), tm.spec.feature_dim),
            lambda out, name=name: write(out, name), suffix=".npy", check_stop=job.check_stop)
        made = made or wrote
    return found, not made


def feature_cache_path(spec, table: SampleTable, weights: str, image_size: int):
    """Where the pooled features of ``table`` through ``spec`` (``weights``, ``image_size``) are cached: the
    file :func:`cached_split_features` reads or writes (Auto asks whether it exists to estimate a ranking)."""
    key = feature_key(rows=rows_hash(table), backbone=spec.name, weights=weights_fingerprint(spec, weights),
                      image_size=image_size, normalization=spec.normalization_for(weights))
    return cache_dir("features") / f"{key}.npy"


def _load_valid(path, rows: int, dim: int) -> Optional[np.ndarray]:
    """The cached array at ``path`` when it is whole (its size is what its header says) and has the expected
    shape; None otherwise (a damaged or stale file is then recomputed and atomically replaced)."""
    return load_npy(path, (rows, dim))
