"""Replay for incremental updates: a seeded, class-stratified buffer of old samples mixed into new data.

Fine-tuning a model on new data alone makes it forget the old classes (catastrophic forgetting): nothing
in the loss asks it to keep predicting them. Rehearsing a small sample of the old training samples beside
the new ones keeps them in the loss. The buffer is drawn per class with a seed derived from (seed, class)
so the same run, size and seed always replay the same samples, and sized per class in proportion to the
class's share of the old training split.

Tables are re-labelled into the updated model's class list (:func:`relabel`), so one label index means
the same class in old and new data. All of this works on the rows of a ``SampleTable``, whatever a row
holds (a picture, a sound, a text, a table row): each task feeds the rows to its model itself
(``core/tasks/<kind>/update.py``).

Example:
    >>> import pandas as pd
    >>> from lepton_widgets.core.data.table import SampleTable
    >>> frame = pd.DataFrame({"ref": list("abcdefgh"), "label": list("xxxxxxyy"), "sha256": list("12345678"),
    ...                       "path": None, "array_index": range(8), "split": "train"})
    >>> buffer = replay_sample(SampleTable(frame, ["x", "y"]), 4, seed=0)
    >>> buffer.frame["label"].value_counts().to_dict()
    {'x': 3, 'y': 1}
    >>> relabel(buffer, ["y", "z", "x"]).label_indices().tolist()
    [2, 2, 2, 0]
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.data.split import class_seed
from lepton_widgets.core.data.table import SampleTable


def class_allocation(counts: dict[str, int], size: int) -> dict[str, int]:
    """``size`` split over classes in proportion to ``counts`` (largest remainders), never above a count.

    >>> class_allocation({"a": 10, "b": 10, "c": 2}, 9)
    {'a': 4, 'b': 4, 'c': 1}
    """
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    exact = {name: size * n / total for name, n in counts.items()}
    share = {name: min(counts[name], math.floor(value)) for name, value in exact.items()}
    # Hand out what flooring left over, biggest fractional part first (ties: class order, stable).
    order = sorted(counts, key=lambda name: -(exact[name] - math.floor(exact[name])))
    left = size - sum(share.values())
    while left > 0:
        for name in order:
            if left and share[name] < counts[name]:
                share[name] += 1
                left -= 1
    return share


def replay_sample(train: SampleTable, size: int, seed: int) -> SampleTable:
    """A class-stratified sample of ``size`` rows of ``train`` (all of it when ``size`` is larger)."""
    frame = train.frame
    if size <= 0 or len(frame) == 0:
        return SampleTable(frame.iloc[0:0].reset_index(drop=True), train.class_names, train.arrays,
                           train.modality, train.source)
    counts = {name: int((frame["label"] == name).sum()) for name in train.class_names}
    share = class_allocation({name: n for name, n in counts.items() if n}, size)
    keep = []
    for name, n in share.items():
        rows = np.flatnonzero((frame["label"] == name).to_numpy())
        rng = np.random.default_rng(class_seed(seed, name, "replay"))
        keep.append(np.sort(rng.choice(rows, size=n, replace=False)))
    rows = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return SampleTable(frame.iloc[rows].reset_index(drop=True), train.class_names, train.arrays,
                       train.modality, train.source)


def relabel(table: SampleTable, class_names: Sequence[str]) -> SampleTable:
    """The same rows with ``class_names`` as the class list (label indices follow the new list)."""
    missing = sorted(set(table.frame["label"]) - set(class_names))
    if missing:
        raise ValueError(f"labels {missing} are not among the classes {list(class_names)}")
    return SampleTable(table.frame, list(class_names), table.arrays, table.modality, table.source)


def concat_frames(tables: Sequence[SampleTable], class_names: Sequence[str]) -> SampleTable:
    """Rows of several tables as one table for bookkeeping (predictions.csv), not for the pipeline.

    Array rows of any table but the first point into another source's arrays, so they lose their
    ``array_index`` (-1): a gallery must not show the first source's image for them.
    """
    frames = []
    for i, table in enumerate(tables):
        frame = table.frame.copy()
        if i > 0 and tables[0].arrays is not table.arrays:
            frame["array_index"] = np.int64(-1)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return SampleTable(frame, list(class_names), tables[0].arrays if tables else None)
