"""Auto's budget (per-stage timers, the caller's Stop), its resumable state and its leaderboard scores."""

import threading
import time

import pytest

from lepton_widgets.config import DataConfig
from lepton_widgets.core.auto.budget import Budget, parse_budget
from lepton_widgets.core.auto.leaderboard import best_entry, frame, history_score
from lepton_widgets.core.auto.state import AutoState, auto_id
from lepton_widgets.core.base.job import Job


@pytest.mark.parametrize("text,seconds", [("10m", 600), ("90s", 90), ("1h30m", 5400), ("2.5m", 150), (45, 45),
                                          ("120", 120)])
def test_budget_texts(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("bad", ["ten minutes", "10x", "5s", "-3m", "m"])
def test_bad_budgets_are_refused_in_words(bad):
    with pytest.raises(ValueError, match="budget"):
        parse_budget(bad)


def test_a_stage_is_stopped_when_its_share_runs_out():
    budget = Budget(60)
    outer = Job()
    started = time.monotonic()
    with budget.stage(outer, 0.3) as job:
        assert job.stop_event.wait(5), "the stage's timer never stopped it"
    assert 0.25 <= time.monotonic() - started < 2
    assert not outer.stopped, "a stage's time running out must not stop the whole of Auto"


def test_the_callers_stop_reaches_the_running_stage():
    outer = Job()
    threading.Timer(0.2, outer.stop).start()
    with Budget(60).stage(outer, 30) as job:
        assert job.stop_event.wait(5)
    assert outer.stopped


def test_shares_leave_the_export_reserve():
    budget = Budget(100, reserve=20)
    assert 39 <= budget.share(0.5) <= 40
    assert 99 <= budget.share(0.5, last=True) <= 100


def test_state_resumes_and_forgets(tmp_path):
    data = DataConfig(dataset="digits", max_per_class=20)
    state = AutoState.open(tmp_path, data, goal="accuracy", seed=3)
    state.finish_stage("doctor", "done", 2.0, "fine", {"class_weight": "none"})
    state.finish_stage("first", "done", 5.0, "a model", {})
    state.leaderboard.append({"run_id": "r1", "stage": "first", "val_score": 0.8, "kept": True})
    state.save()
    again = AutoState.open(tmp_path, data, goal="accuracy", seed=3)
    assert again.done("doctor") and again.done("first") and again.leaderboard[0]["run_id"] == "r1"
    again.forget_from(["first"])
    assert not AutoState.open(tmp_path, data, goal="accuracy", seed=3).done("first")
    assert AutoState.open(tmp_path, data, goal="accuracy", seed=3, fresh=True).stages == {}
    # Another goal, seed or dataset is another session; the exclusions are a choice inside one session.
    assert auto_id(data, "small", 3) != auto_id(data, "accuracy", 3) != auto_id(data, "accuracy", 4)
    assert auto_id(DataConfig(dataset="digits", max_per_class=20, exclude=["a" * 64]), "accuracy", 3) == \
        auto_id(data, "accuracy", 3)


def test_a_stopped_stage_is_not_finished(tmp_path):
    state = AutoState.open(tmp_path, DataConfig(dataset="digits"), goal="fast", seed=1)
    state.finish_stage("search", "stopped", 9.0, "time ran out", {})
    assert not state.done("search")


def test_damaged_state_starts_over(tmp_path):
    data = DataConfig(dataset="digits")
    state = AutoState.open(tmp_path, data, goal="accuracy", seed=1)
    (state.folder / "auto.json").write_text("{not json", encoding="utf-8")
    assert AutoState.open(tmp_path, data, goal="accuracy", seed=1).stages == {}


def test_scores_come_from_the_restored_epoch_and_ties_keep_the_first():
    history = [{"val_loss": 1.0, "val_accuracy": 0.5}, {"val_loss": 0.4, "val_accuracy": 0.7},
               {"val_loss": 0.45, "val_accuracy": 0.75}]
    assert history_score(history, "accuracy") == 0.7
    assert history_score([{"val_accuracy": 0.6}, {"val_accuracy": 0.65}], "accuracy") == 0.65
    assert history_score([{"loss": 1.0}], "accuracy") is None
    rows = [{"run_id": "a", "val_score": 0.8, "kept": True}, {"run_id": "b", "val_score": 0.8, "kept": True},
            {"run_id": "c", "val_score": 0.9, "kept": False}]
    assert best_entry(rows)["run_id"] == "a"
    table = frame(rows)
    assert table.loc[table["chosen"], "run_id"].tolist() == ["a"]
