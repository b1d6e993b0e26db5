"""Turn an in-memory ``uint8`` image array (a built-in dataset) into loader records.

Every sample gets a content hash so duplicates are found and the split can be recorded by content,
exactly as for files. The hash covers the sample's shape as well as its bytes, so an 8x8 and a 2x32 image
with the same bytes never collide.

Example:
    >>> import numpy as np
    >>> images = np.zeros((3, 4, 4), np.uint8); images[1] += 1
    >>> loaded = loaded_from_arrays("toy", images, [0, 1, 0], ["a", "b"])
    >>> loaded.records[["ref", "label", "status", "array_index"]].values.tolist()
    [['toy[0]', 'a', 'ok', 0], ['toy[1]', 'b', 'ok', 1], ['toy[2]', 'a', 'ok', 2]]
"""

from __future__ import annotations

import hashlib
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.data.registry import LoadedData
from lepton_widgets.core.data.table import STATUS_OK


def array_sha256(sample: np.ndarray) -> str:
    """Content hash of one sample: its shape and its bytes."""
    digest = hashlib.sha256("x".join(map(str, sample.shape)).encode() + b":")
    digest.update(np.ascontiguousarray(sample).tobytes())
    return digest.hexdigest()


def hash_rows(images: np.ndarray, job: Optional[Job] = None) -> list[str]:
    """``array_sha256`` of every row, with progress events (task ``validate``) and stop checks."""
    progress = ProgressReporter(job, len(images))
    hashes = []
    chunk = 1000  # checking the stop event per chunk keeps the loop fast and still responsive
    for start in range(0, len(images), chunk):
        hashes.extend(array_sha256(sample) for sample in images[start:start + chunk])
        progress.step(min(chunk, len(images) - start))
    progress.finish()
    return hashes


def loaded_from_arrays(name: str, images: np.ndarray, labels: Sequence[int], class_names: Sequence[str], *,
                       refs: Optional[Sequence[str]] = None, job: Optional[Job] = None,
                       notes: Optional[list[str]] = None, hashes: Optional[Sequence[str]] = None) -> LoadedData:
    """Records for ``images`` (N, H, W) or (N, H, W, C) ``uint8`` with integer ``labels`` into ``class_names``.

    ``refs`` default to ``name[i]``; pass ``hashes`` when they were computed (and cached) before.
    """
    images = np.asarray(images)
    if hashes is not None:  # hashed earlier (cached): still tell the UI the step is done
        ProgressReporter(job, len(images)).finish()
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W[, C]), got {images.dtype} {images.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    n, height, width = images.shape[:3]
    channels = 1 if images.ndim == 3 else images.shape[3]
    records = pd.DataFrame({
        "ref": list(refs) if refs is not None else [f"{name}[{i}]" for i in range(n)],
        "label": np.asarray(class_names, dtype=object)[labels],
        "status": STATUS_OK,
        "reason": "",
        "width": width,
        "height": height,
        "mode": {1: "L", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}ch"),
        "sha256": list(hashes) if hashes is not None else hash_rows(images, job),
        "path": None,
        "array_index": np.arange(n, dtype=np.int64),
    })
    return LoadedData(records=records, class_names=list(class_names), arrays=images, modality="image",
                      source=name, notes=list(notes or []))
