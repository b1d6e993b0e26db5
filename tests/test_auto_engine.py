"""The engine features Lepton Auto sets (issue 15): ``data.exclude`` (leave out samples the user chose to, e.g.
likely mislabelled ones), ``train.class_weight: balanced`` and ``train.head_fit: logistic``. Real data, real
training: digits, German Credit, a small text CSV with the GloVe encoder, MobileNetV2's offline weights."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lepton_widgets.config import DataConfig, RunConfig
from lepton_widgets.core.data import prepare_data
from lepton_widgets.core.data.prepare import EXCLUDED_REASON
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.core.tasks.tabular.data import prepare_table
from lepton_widgets.core.tasks.text.data import prepare_texts

from conftest import tiny_config


# --- data.exclude ------------------------------------------------------------------------------------------

def test_excluded_image_ids_leave_the_split_and_are_in_the_data_report_with_the_reason(runs_dir):
    full = prepare_data(DataConfig(dataset="digits", max_per_class=20), seed=7)
    chosen = full.table.frame["sha256"].iloc[[0, 5, 40]].tolist()
    # A full id, a 12-character prefix in upper case, and an id that matches nothing (a note, not an error).
    exclude = [chosen[0], chosen[1][:12].upper(), chosen[2], "f" * 64]
    cfg = tiny_config(data={"dataset": "digits", "max_per_class": 20, "exclude": exclude},
                      train={"epochs": 1, "fine_tune_epochs": 0})
    record = run_experiment(cfg, store=RunStore(runs_dir))
    assert record.status == "finished"
    split = json.loads((record.path / "split.json").read_text())  # {sha256: split} of every sample used
    assert len(split) == 200 and not set(chosen) & set(split), "an excluded sample was used"
    report = pd.read_csv(record.path / "data_report.csv")
    excluded = report[report["status"] == "excluded"]
    assert sorted(excluded["sha256"]) == sorted(chosen)
    assert set(excluded["reason"]) == {EXCLUDED_REASON}
    notes = " ".join(json.loads((record.path / "data_report.json").read_text())["notes"])
    assert "3 sample(s) left out by your choice" in notes and "1 id(s) match no sample" in notes
    # The choice is part of the run's config.
    assert json.loads((record.path / "config.json").read_text())["data"]["exclude"][:2] == [chosen[0],
                                                                                            chosen[1][:12]]


def test_exclude_works_for_tables_and_texts_the_same_way(tmp_path):
    credit = prepare_table(DataConfig(dataset="german_credit", max_per_class=None), seed=0)
    rows = credit.prepared.table.frame["sha256"].iloc[:4].tolist()
    fewer = prepare_table(DataConfig(dataset="german_credit", max_per_class=None, exclude=rows), seed=0)
    assert len(fewer.prepared.table) == len(credit.prepared.table) - 4
    assert not set(rows) & set(fewer.prepared.table.frame["sha256"])
    assert (fewer.prepared.report.frame["status"] == "excluded").sum() == 4

    csv = tmp_path / "texts.csv"
    words = {"good": "great lovely tasty fresh", "bad": "awful stale bland cold"}
    pd.DataFrame({"text": [f"{words[c]} meal number {i}" for c in words for i in range(12)],
                  "label": [c for c in words for _ in range(12)]}).to_csv(csv, index=False)
    texts = prepare_texts(DataConfig(dataset="text_csv", path=str(csv), target="label"), seed=0)
    one = texts.prepared.table.frame["sha256"].iloc[3]
    fewer_texts = prepare_texts(DataConfig(dataset="text_csv", path=str(csv), target="label", exclude=[one[:16]]),
                                seed=0)
    assert one not in set(fewer_texts.prepared.table.frame["sha256"])
    assert len(fewer_texts.prepared.table) == len(texts.prepared.table) - 1


def test_exclude_ids_are_checked_and_a_short_id_must_match_whole():
    with pytest.raises(Exception, match="data.exclude"):
        RunConfig.from_dict({"data": {"exclude": "abc"}})
    with pytest.raises(Exception, match="data.exclude"):
        RunConfig.from_dict({"data": {"exclude": [""]}})
    full = prepare_data(DataConfig(dataset="digits", max_per_class=10), seed=1)
    first = full.table.frame["sha256"].iloc[0]
    # Eleven characters are too short to be a prefix: nothing is left out, and a note says the id matched nothing.
    same = prepare_data(DataConfig(dataset="digits", max_per_class=10, exclude=[first[:11]]), seed=1)
    assert (same.report.frame["status"] == "excluded").sum() == 0
    assert any("match no sample" in note for note in same.report.notes)
