"""Lepton Auto end to end, with real training on small real data (issue 15's "Must show" tests).

Each kind of data finishes within its budget (plus the 10% the issue allows) with a chosen, exported model and a
model card that says why; a Stop in the middle of the search keeps what finished, and starting again resumes
without repeating finished stages; a mislabelled picture put in the wrong folder is flagged, and the choice to
exclude it reaches the run that is trained afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lepton_widgets.core.auto import run_auto
from lepton_widgets.core.base.events import ListSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunStore

pytestmark = pytest.mark.slow
#: The issue's promise: wall time within the budget plus 10%.
SLACK = 1.10


def _finished_with_card(result, budget: float, started: float):
    elapsed = time.monotonic() - started
    assert result.status == "finished", (result.message, result.stages)
    assert elapsed <= SLACK * budget, f"Auto took {elapsed:.0f} s on a {budget:.0f} s budget"
    assert result.best_run_id and result.best_run().status == "finished"
    card = result.card()
    assert "How Auto chose this model" in card, card[:2000]
    table = result.frame()
    assert table["chosen"].sum() == 1 and table.loc[table["chosen"], "run_id"].item() == result.best_run_id
    for stage in ("doctor", "recipe", "rank", "first", "export"):
        assert result.stages[stage]["status"] in ("done", "skipped"), (stage, result.stages[stage])
        assert result.stages[stage]["summary"], stage
    return card


@pytest.mark.alone  # Auto's promise is wall time within the budget: measured with the cores to itself
@pytest.mark.parametrize("data,budget", [
    ({"dataset": "digits", "max_per_class": 30}, 75.0),
    ({"dataset": "spoken_keywords", "max_per_class": 12}, 75.0),
    ({"dataset": "food_reviews", "max_per_class": 40}, 75.0),
    ({"dataset": "german_credit", "max_per_class": 80}, 60.0),
], ids=["pictures", "sounds", "texts", "tables"])
def test_auto_finishes_every_kind_of_data_within_its_budget(tmp_path, data, budget):
    sink = ListSink()
    started = time.monotonic()
    result = run_auto(data, budget=budget, runs_dir=tmp_path, job=Job(sink=sink))
    card = _finished_with_card(result, budget, started)
    kinds = sink.kinds()
    assert kinds[0] == "auto_started" and kinds[-1] == "auto_finished"
    assert kinds.count("auto_stage_started") == kinds.count("auto_stage_ended") == 8
    assert "epoch_ended" in kinds, "training's own events must reach Auto's sink (live curves, progress bars)"
    assert "Chosen:" in card


def test_a_stop_mid_search_keeps_what_finished_and_a_resume_skips_it(tmp_path):
    job = Job()
    sink = ListSink()

    def stop_at_the_first_trial(event):
        sink(event)
        if event.kind == "trial_started":
            job.stop()

    job.sink = stop_at_the_first_trial
    data = {"dataset": "digits", "max_per_class": 30}
    stopped = run_auto(data, budget="3m", runs_dir=tmp_path, job=job)
    assert stopped.status == "cancelled"
    assert stopped.stages["search"]["status"] == "stopped"
    assert "search" in "".join(sink.kinds()) and stopped.entries, "the first model should have finished"
    first = RunStore(tmp_path).open(stopped.entries[0]["run_id"])
    assert first.status == "finished" and first.model_path.exists()
    import lepton_widgets as lw

    pictures = [p for p in (tmp_path / "check").glob("*.png")] if (tmp_path / "check").exists() else []
    if not pictures:  # a digit from the data, as a file, to show the kept model predicts
        (tmp_path / "check").mkdir()
        Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "check" / "d.png")
        pictures = [tmp_path / "check" / "d.png"]
    assert lw.predict(first, pictures)["error"].isna().all()

    again = ListSink()
    resumed = run_auto(data, budget="2m", runs_dir=tmp_path, job=Job(sink=again))
    started_events = again.of_kind("auto_started")
    assert set(started_events[0].done) >= {"doctor", "recipe", "rank", "first"}
    restarted = [e.stage for e in again.of_kind("auto_stage_started")]
    assert not {"doctor", "recipe", "rank", "first"} & set(restarted), restarted
    assert [e["run_id"] for e in resumed.entries if e["stage"] == "first"] == \
        [e["run_id"] for e in stopped.entries if e["stage"] == "first"]
    assert resumed.status == "finished", resumed.message


def _picture_folders(root, flipped: int, per_class: int = 30, test_per_class: int = 6, seed: int = 0):
    """Real Fashion-MNIST pictures as PNG files in class folders under ``root/train`` and ``root/test``;
    ``flipped`` training pictures put in a clearly wrong folder (a sandal among T-shirts). The test folder is
    given as ``data.test_path``, so every misplaced picture is in the train or val split the doctor reads."""
    from lepton_widgets.config import DataConfig
    from lepton_widgets.core.data import prepare_data

    prepared = prepare_data(DataConfig(dataset="fashion_mnist", max_per_class=per_class + test_per_class), seed)
    table, classes = prepared.table, prepared.table.class_names
    rng = np.random.default_rng(seed)
    names = {}
    for label, rows in table.frame.groupby("label"):
        for position, (_, row) in enumerate(rows.iterrows()):
            part = "test" if position < test_per_class else "train"
            folder = row["label"]
            if part == "train" and len(names) < flipped and rng.random() < 0.2:
                folder = classes[(classes.index(label) + 5) % 10]  # T-shirt -> sandal, trouser -> shirt, ...
            path = root / part / folder / f"f{row['sha256'][:10]}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(table.arrays[int(row["array_index"])]).squeeze().astype(np.uint8)).save(path)
            if folder != row["label"]:
                names[path.name] = (row["label"], folder)
    assert len(names) == flipped
    return DataConfig(dataset="folder", path=str(root / "train"), test_path=str(root / "test"), max_per_class=None), names


def test_an_injected_mislabel_is_flagged_and_excluding_it_reaches_the_run(tmp_path):
    data, wrong = _picture_folders(tmp_path / "pictures", flipped=6)
    kept = run_auto(data, budget="90s", runs_dir=tmp_path / "runs", goal="fast")
    flagged = {Path(issue["ref"]).name for issue in kept.label_issues}
    found = flagged & set(wrong)
    # The issue's bar (benchmarks/label_noise: 70% of the flipped labels); on 30 pictures per class at the fast
    # goal's 64 px the list also holds look-alikes (shirt / T-shirt / pullover), so it is a list to review.
    assert len(found) >= 4, f"flagged {sorted(flagged)}; put in the wrong folder {sorted(wrong)}"
    assert len(flagged) <= 0.2 * 300

    excluded = run_auto(data, budget="90s", runs_dir=tmp_path / "runs", goal="fast", labels="exclude")
    assert excluded.status == "finished", excluded.message
    record = excluded.best_run()
    ids = {issue["id"] for issue in kept.label_issues}
    assert set(record.config.data.exclude or []) == ids
    report = record.data_report
    left_out = report[report["status"] == "excluded"]
    assert len(left_out) == len(ids) and left_out["reason"].str.contains("your choice").all()
    assert excluded.stages["doctor"] == kept.stages["doctor"], "the doctor's findings are reused, not redone"
    # The user's files are never touched.
    assert sum(1 for _ in (tmp_path / "pictures").rglob("*.png")) == 360
