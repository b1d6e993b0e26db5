"""Loaders for the seeded, generated scenario packs (defects, traffic signs, the medical demo).

Each pack is made once per process from a fixed seed (a few seconds at most, so nothing is written to disk)
and kept read-only in memory, hashes included, so repeated runs and tuner trials share it.

Example:
    >>> import numpy as np
    >>> calls = []
    >>> def make():
    ...     calls.append(1)
    ...     return np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4), np.array([0, 1])
    >>> load = generated_loader("toy_pack", make, ("a", "b"), per_class=1, note="made up")
    >>> loaded = load(None, Job()); _ = load(None, Job())
    >>> loaded.records["ref"].tolist(), len(calls), loaded.notes
    (['toy_pack:a[0]', 'toy_pack:b[0]'], 1, ['made up'])
"""

from __future__ import annotations

import functools
from typing import Callable, Optional, Sequence

import numpy as np

from lepton_widgets.core.data.arrays import hash_rows, loaded_from_arrays
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.registry import LoadedData, Loader
from lepton_widgets.i18n import _


def generated_loader(name: str, make: Callable[[], tuple[np.ndarray, np.ndarray]], class_names: Sequence[str],
                     per_class: int, note: str, note_fields: Optional[dict] = None) -> Loader:
    """A registry loader for the images ``make()`` returns (``(N, H, W[, C])`` uint8, labels grouped by class,
    ``per_class`` each); refs read ``name:class[i]``, and ``note`` says what the data is (a catalogue message,
    translated when the data is loaded and filled with ``note_fields``)."""

    @functools.lru_cache(maxsize=1)
    def made() -> tuple[np.ndarray, np.ndarray, list[str]]:
        images, labels = make()
        images.setflags(write=False)  # shared between runs through the cache
        return images, labels, hash_rows(images)

    def load(data_cfg, job: Job) -> LoadedData:
        images, labels, hashes = made()
        refs = [f"{name}:{class_names[label]}[{i % per_class}]" for i, label in enumerate(labels)]
        return loaded_from_arrays(name, images, labels, class_names, refs=refs, hashes=hashes, job=job,
                                  notes=[_(note).format(**(note_fields or {}))])

    load.__name__ = load.__qualname__ = f"load_{name}"
    return load
