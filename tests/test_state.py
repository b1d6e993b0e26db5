"""Session <-> RunConfig, and the Runner's worker thread: events become traits, errors become messages."""

from __future__ import annotations

import time

import pytest
from conftest import tiny_config

from lepton_widgets.config import ConfigError
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.state import BusyError, Runner, Session


def test_session_round_trips_every_config_field():
    cfg = tiny_config(augment={"flip": "horizontal", "rotation": 0.2}, backbone={"frozen_depth": 2})
    session = Session()
    session.load_config(cfg)
    assert session.to_config() == cfg
    assert (session.dataset, session.flip, session.frozen_depth) == ("digits", "horizontal", 2)
    session.learning_rate = 7.0
    with pytest.raises(ConfigError, match="learning_rate"):
        session.to_config()


def test_train_runs_in_a_worker_thread_and_fills_the_session(runs_dir):
    session = Session()
    session.load_config(tiny_config())
    statuses = []
    session.observe(lambda change: statuses.append(change["new"]), "status")
    runner = Runner(session, runs_dir=runs_dir)
    started = time.monotonic()
    runner.train()
    assert time.monotonic() - started < 1.0, "train() must return at once; the work happens in the thread"
    assert runner.busy
    with pytest.raises(BusyError):
        runner.train()
    assert runner.wait(timeout=300)
    assert session.status == "finished", (session.last_error, session.last_traceback)
    assert statuses[0] == "preparing" and "running" in statuses and statuses[-1] == "finished"
    assert [row["epoch"] for row in session.history] == [1, 2, 3, 4]
    assert session.evaluation["confusion"] and session.current_run == RunStore(runs_dir).runs()[-1].run_id
    assert "test accuracy" in session.message and not session.busy


def test_a_failing_job_becomes_a_message_and_the_session_stays_usable(runs_dir):
    session = Session()
    session.load_config(tiny_config(backbone={"frozen_depth": 99}))
    runner = Runner(session, runs_dir=runs_dir)
    runner.train()
    runner.wait(timeout=300)
    assert session.status == "failed"
    assert "frozen_depth 99" in session.last_error and "Traceback" in session.last_traceback
    session.frozen_depth = 0
    session.fine_tune_epochs = 1
    runner.train()
    runner.wait(timeout=300)
    assert session.status == "finished" and session.last_error == ""


def test_stop_cancels_within_seconds_and_stores_a_cancelled_run(runs_dir):
    session = Session()
    session.load_config(tiny_config(train={"fine_tune_epochs": 300}))
    runner = Runner(session, runs_dir=runs_dir)
    runner.train()
    deadline = time.monotonic() + 240
    while len(session.history) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(session.history) >= 2
    stop_pressed = time.monotonic()
    runner.stop()
    assert session.status == "stopping"
    assert runner.wait(timeout=30)
    assert time.monotonic() - stop_pressed < 5
    assert session.status == "cancelled"
    assert RunStore(runs_dir).runs()[-1].status == "cancelled"
