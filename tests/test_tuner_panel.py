"""The Search panel with real widgets and a real (small) KerasTuner search; no mocks.

One module-scoped search (Fashion-MNIST 20 per class, MobileNetV2 offline at 32 px, head-only so it runs on
cached features) is set up through the panel's controls and started with its Start button; the tests then
read the table, the figures and the Session, use the best trial, resume, and stop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import wait_for

from lepton_widgets.config import RunConfig
from lepton_widgets.panels.tuner import TunerPanel
from lepton_widgets.state import Runner, Session

RUN = {"name": "panel", "seed": 5, "data": {"dataset": "fashion_mnist", "max_per_class": 20},
       "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 32},
       "train": {"epochs": 2, "batch_size": 32, "early_stopping_patience": 0}}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEPTON_HOME", str(tmp_path_factory.mktemp("lepton-home")))
        session = Session()
        session.load_config(RunConfig.from_dict(RUN))
        runner = Runner(session, runs_dir=tmp_path_factory.mktemp("runs"))
        panel = TunerPanel(session, runner)
        for row in panel.space.values():
            row.search.value = False
        panel.space["learning_rate"].search.value = True
        low, _to, high = panel.space["learning_rate"].widget.children
        low.value, high.value = 1e-3, 3e-2
        panel.space["dropout"].search.value = True
        panel.space["dropout"].widget.value = (0.1, 0.4)
        panel.max_trials.value = 3
        statuses = []
        session.observe(lambda change: statuses.append(change["new"]), names="status")
        started = time.monotonic()
        panel.start_button.click()
        click_seconds = time.monotonic() - started
        busy_after_click = panel.start_button.disabled and not panel.stop_button.disabled
        finished = runner.wait(timeout=300)
        yield {"session": session, "runner": runner, "panel": panel, "finished": finished, "statuses": statuses,
               "click_seconds": click_seconds, "busy_after_click": busy_after_click}


def test_controls_set_the_search_settings_and_start_runs_it_in_the_worker(searched):
    session, panel = searched["session"], searched["panel"]
    assert searched["finished"] and session.status == "finished", (session.status, session.last_error)
    assert searched["click_seconds"] < 1.0 and searched["busy_after_click"]
    assert "running" in searched["statuses"]
    assert session.tuner == {"algorithm": "random", "max_trials": 3, "objective": "val_accuracy",
                             "learning_rate": [1e-3, 3e-2], "dropout": [0.1, 0.4]}
    stored = json.loads((Path(session.search["directory"]) / "search.json").read_text())
    assert stored["config"]["tuner"]["learning_rate"] == [1e-3, 3e-2]
    assert panel.search_config().tuner.searched() == ["dropout", "learning_rate"]
    assert "search finished: 3/3 trials" in session.message


def test_trials_table_and_figures_show_every_finished_trial(searched):
    session, panel = searched["session"], searched["panel"]
    rows = session.trials
    assert [(r["number"], r["status"]) for r in rows] == [(1, "COMPLETED"), (2, "COMPLETED"), (3, "COMPLETED")]
    assert panel.table.value.count("class='lepton-trial-row'") == 3
    assert "lepton-trials-table" in panel.table._dom_classes
    best = max(rows, key=lambda r: r["score"])
    assert session.best_trial["number"] == best["number"]
    assert f"<td>{best['number']}</td>" in panel.table.value.split("font-weight:600")[1][:200]

    (parcoords,) = panel.parallel.data
    assert [d.label for d in parcoords.dimensions] == ["dropout", "learning_rate (log10)", "val_accuracy"]
    assert all(len(d["values"]) == 3 for d in parcoords.dimensions)  # one line per finished trial
    assert sorted(parcoords.dimensions[-1]["values"]) == sorted(r["score"] for r in rows)
    assert "lepton-parallel" in panel.parallel._dom_classes and panel.parallel_box.children == (panel.parallel,)
    trials, best_so_far = panel.best_curve.data
    assert list(trials.x) == [1, 2, 3] and list(best_so_far.y)[-1] == pytest.approx(best["score"])
    assert list(best_so_far.y) == sorted(best_so_far.y)  # accuracy: the best so far never goes down
    assert "lepton-best-curve" in panel.best_curve._dom_classes


def test_use_best_loads_the_best_trial_and_trains_it_as_a_normal_run(searched):
    session, runner, panel = searched["session"], searched["runner"], searched["panel"]
    best = session.best_trial
    assert not panel.use_best_button.disabled
    panel.use_best_button.click()
    assert session.learning_rate == pytest.approx(best["hyperparameters"]["learning_rate"])
    assert session.dropout == pytest.approx(best["hyperparameters"]["dropout"])
    assert runner.wait(timeout=300) and session.status == "finished", (session.status, session.last_error)
    (record,) = runner.store.runs()
    assert record.status == "finished" and record.run_id == session.current_run
    assert record.config.train.learning_rate == pytest.approx(best["hyperparameters"]["learning_rate"])
    assert record.config.name == "panel-best" and record.metrics["accuracy"] > 0


def test_start_again_resumes_and_stop_ends_a_search_in_the_worker(searched):
    session, runner, panel = searched["session"], searched["runner"], searched["panel"]
    panel.start_button.click()  # same space (the Session now holds the best trial's values): same search
    assert runner.wait(timeout=120) and session.search["resumed"], session.message
    assert "Resuming search" in session.search["message"] and len(session.trials) == 3

    panel.max_trials.value = 8  # a bigger budget continues it; stop it after its next trial
    panel.start_button.click()
    assert wait_for(lambda: any(r["number"] == 4 and r["status"] == "COMPLETED" for r in session.trials), 120)
    panel.stop_button.click()
    assert runner.wait(timeout=60) and session.status == "cancelled", session.status
    done = [r for r in session.trials if r["status"] == "COMPLETED"]
    assert 4 <= len(done) < 8 and not panel.start_button.disabled


def test_a_resume_that_repaired_damaged_files_says_so_in_the_search_step(searched):
    session, runner, panel = searched["session"], searched["runner"], searched["panel"]
    directory = Path(session.search["directory"])
    oracle = directory / "oracle.json"
    oracle.write_bytes(oracle.read_bytes()[: oracle.stat().st_size // 2])  # as a kill mid-write leaves it
    assert panel.repairs.value == ""
    panel.start_button.click()
    assert runner.wait(timeout=300) and session.status == "finished", (session.status, session.last_error)
    assert session.search["resumed"] and "damaged by the interruption" in " ".join(session.search["repairs"])
    assert "progress file was damaged by the interruption" in panel.repairs.value
    assert json.loads(oracle.read_text())["end_order"]  # readable again
