"""Splits: stratified, seeded, independent of file names and order, and recorded by content hash."""

from __future__ import annotations

import numpy as np
import pandas as pd
from data_fixtures import lepton_home, make_class_folders  # noqa: F401

from lepton_widgets.config import DataConfig
from lepton_widgets.core.data import SampleTable, prepare_data, split_record
from lepton_widgets.core.data.split import assign_splits, cap_per_class


def _digits(seed: int, max_per_class=50):
    return prepare_data(DataConfig(dataset="digits", max_per_class=max_per_class), seed=seed)


def test_split_is_stratified_with_every_class_in_every_split():
    prepared = _digits(0)
    counts = prepared.table.frame.groupby(["label", "split"]).size().unstack()
    assert list(counts.columns) == ["test", "train", "val"]
    assert (counts["train"] == 34).all() and (counts["val"] == 8).all() and (counts["test"] == 8).all()
    assert prepared.report.class_counts == {str(d): 50 for d in range(10)}


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = split_record(_digits(1).table), split_record(_digits(1).table), split_record(_digits(2).table)
    assert a == b
    assert a != c
    assert len(a) == 500 and set(a.values()) == {"train", "val", "test"}


def test_max_per_class_is_seeded_and_deterministic():
    first, again, other = (set(_digits(s, max_per_class=20).table.frame["sha256"]) for s in (5, 5, 6))
    assert first == again and first != other
    per_class = _digits(5, max_per_class=20).table.frame["label"].value_counts()
    assert (per_class == 20).all()


def test_record_is_by_content_hash_and_matches_the_table():
    table = _digits(3).table
    record = split_record(table)
    assert list(record) == table.frame["sha256"].tolist()
    assert all(len(key) == 64 for key in record)
    assert [record[s] for s in table.frame["sha256"]] == table.frame["split"].tolist()


def test_split_does_not_depend_on_file_names_or_order(tmp_path, lepton_home):
    original = make_class_folders(tmp_path / "a", {"cats": 7, "dogs": 9})
    renamed = tmp_path / "b"
    for path in sorted(original.rglob("*.png")):
        # Reverse the order the files are listed in: img_000 -> zzz_..., img_006 -> aaa_...
        target = renamed / path.parent.name / f"{999 - int(path.stem[-3:]):03d}_{path.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    record_a = split_record(prepare_data(DataConfig(dataset="folder", path=str(original)), seed=4).table)
    record_b = split_record(prepare_data(DataConfig(dataset="folder", path=str(renamed)), seed=4).table)
    assert record_a == record_b


def test_assign_splits_on_shuffled_rows_gives_the_same_record():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"ref": [f"r{i}" for i in range(40)], "label": ["a"] * 25 + ["b"] * 15,
                          "sha256": [f"{v:064x}" for v in rng.integers(0, 2**62, 40)],
                          "path": None, "array_index": range(40)})
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    record = split_record(assign_splits(SampleTable(frame, ["a", "b"]), 0.2, 0.2, seed=9))
    assert record == split_record(assign_splits(SampleTable(shuffled, ["a", "b"]), 0.2, 0.2, seed=9))


def test_three_samples_per_class_give_one_per_split():
    frame = pd.DataFrame({"ref": list("abcdef"), "label": ["x"] * 3 + ["y"] * 3, "sha256": list("123456"),
                          "path": None, "array_index": range(6)})
    table = assign_splits(SampleTable(frame, ["x", "y"]), 0.15, 0.15, seed=0)
    assert (table.frame.groupby("label")["split"].value_counts() == 1).all()


def test_cap_note_says_what_was_left_out():
    frame = pd.DataFrame({"ref": list("abcdef"), "label": ["x"] * 4 + ["y"] * 2, "sha256": list("123456"),
                          "path": None, "array_index": range(6)})
    capped, note = cap_per_class(SampleTable(frame, ["x", "y"]), 3, seed=0)
    assert capped.frame["label"].value_counts().to_dict() == {"x": 3, "y": 2}
    assert note.startswith("max_per_class=3: using 5 of 6 usable samples")
    assert cap_per_class(SampleTable(frame, ["x", "y"]), None, seed=0)[1] == ""
