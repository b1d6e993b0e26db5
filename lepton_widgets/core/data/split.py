"""Seeded, per-class capping and stratified train/val/test splitting, independent of file order.

Rows are sorted by content hash first, so renaming, moving or reordering files changes nothing. Each class
is split on its own with scikit-learn's ``train_test_split`` and whole-number sizes: that is an exact
stratification, and unlike a global ``stratify=`` split it puts every class into val and test even when
the data is small (a global split fails once the test set has fewer rows than there are classes). Each
class gets at least one val and one test sample, so a class needs three (checked in ``report.py``).
The random streams are derived from (seed, class name), so adding a class leaves the others' splits alone.

Example:
    >>> import pandas as pd
    >>> from lepton_widgets.core.data.table import SampleTable
    >>> frame = pd.DataFrame({"ref": list("abcdefgh"), "label": ["x"] * 4 + ["y"] * 4,
    ...                       "sha256": list("12345678"), "path": None, "array_index": range(8)})
    >>> table = assign_splits(SampleTable(frame, ["x", "y"]), val_fraction=0.25, test_fraction=0.25, seed=0)
    >>> table.frame.groupby("label")["split"].value_counts().tolist()
    [2, 1, 1, 2, 1, 1]
    >>> sorted(split_record(table).items())[:2]
    [('1', 'train'), ('2', 'val')]
"""

from __future__ import annotations

import hashlib

import numpy as np
from sklearn.model_selection import train_test_split

from lepton_widgets.core.data.table import SampleTable
from lepton_widgets.i18n import _

SPLITS = ("train", "val", "test")


def class_seed(seed: int, class_name: str, purpose: str) -> int:
    """A 32-bit seed for one class and purpose; stable across Python runs (unlike ``hash()``)."""
    digest = hashlib.sha256(f"{seed}\0{class_name}\0{purpose}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _by_content(table: SampleTable):
    return table.frame.sort_values("sha256", kind="mergesort").reset_index(drop=True)


def cap_per_class(table: SampleTable, max_per_class: int | None, seed: int) -> tuple[SampleTable, str]:
    """At most ``max_per_class`` rows per class, drawn with the seed; also a note saying what was left out."""
    if max_per_class is None:
        return table, ""
    frame = _by_content(table)
    keep = []
    for name in table.class_names:
        rows = np.flatnonzero((frame["label"] == name).to_numpy())
        if len(rows) > max_per_class:
            rng = np.random.default_rng(class_seed(seed, name, "cap"))
            rows = np.sort(rng.choice(rows, size=max_per_class, replace=False))
        keep.append(rows)
    kept = np.concatenate(keep)
    note = ""
    if len(kept) < len(frame):
        note = _("max_per_class={n}: using {used} of {total} usable samples (drawn with seed {seed}).").format(
            n=max_per_class, used=f"{len(kept):,}", total=f"{len(frame):,}", seed=seed)
    return SampleTable(frame.iloc[kept].reset_index(drop=True), table.class_names, table.arrays,
                       table.modality, table.source), note


def _split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    n_val = max(1, round(n * val_fraction))
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    while n - n_val - n_test < 1 and max(n_val, n_test) > 1:  # keep at least one training sample
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def assign_splits(table: SampleTable, val_fraction: float, test_fraction: float, seed: int) -> SampleTable:
    """Add the ``split`` column; rows come back ordered by class, then content hash.

    ``test_fraction=0`` holds nothing out for testing (the test set comes from elsewhere: ``data.test_path``).
    """
    frame = _by_content(table)
    split = np.empty(len(frame), dtype=object)
    order = []
    needed = 3 if test_fraction > 0 else 2
    for name in table.class_names:
        rows = np.flatnonzero((frame["label"] == name).to_numpy())
        if len(rows) < needed:
            raise ValueError(f"class {name!r} has {len(rows)} rows; splitting needs at least {needed}")
        n_val, n_test = _split_sizes(len(rows), val_fraction, test_fraction)
        if n_test == 0:
            rest, test = rows, rows[:0]
        else:
            rest, test = train_test_split(rows, test_size=n_test, random_state=class_seed(seed, name, "test"))
        train, val = train_test_split(rest, test_size=n_val, random_state=class_seed(seed, name, "val"))
        split[train], split[val], split[test] = "train", "val", "test"
        order.append(rows)
    frame["split"] = split
    frame = frame.iloc[np.concatenate(order)].reset_index(drop=True)
    return SampleTable(frame, table.class_names, table.arrays, table.modality, table.source)


def cross_validation_folds(class_counts: dict[str, int], cv_below: int, cv_folds: int) -> int:
    """How many folds tiny data is cross-validated with: ``0`` (no cross-validation) unless the smallest
    class has fewer than ``cv_below`` samples; never more folds than that class has samples, nor fewer than 2.

    >>> cross_validation_folds({"a": 5, "b": 7}, cv_below=10, cv_folds=5), cross_validation_folds({"a": 3}, 10, 5)
    (5, 3)
    >>> cross_validation_folds({"a": 12, "b": 40}, cv_below=10, cv_folds=5)
    0
    """
    smallest = min(class_counts.values(), default=0)
    if cv_below <= 0 or smallest >= cv_below or smallest < 2:
        return 0
    return max(2, min(cv_folds, smallest))


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train rows, held-out rows)`` of each fold: scikit-learn's ``StratifiedKFold``, shuffled with the seed."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    labels = np.asarray(labels)
    return [(train, held) for train, held in splitter.split(np.zeros(len(labels)), labels)]


def split_record(table: SampleTable) -> dict[str, str]:
    """``{sha256: split}`` for every row: what a run stores so its split can be checked or reproduced.

    Keys are content hashes, so the record stays valid when files are renamed or moved.
    """
    return dict(zip(table.frame["sha256"].astype(str), table.frame["split"].astype(str)))
