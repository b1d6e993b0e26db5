"""The run store never shows a half-written run as complete, even after kill -9."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from conftest import tiny_config

from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.core.runs.store import RunStore


def _tree_hash(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_finished_run_has_every_file_and_lists_as_a_dataframe(runs_dir):
    record = run_experiment(tiny_config(), store=RunStore(runs_dir))
    files = {p.name for p in record.path.iterdir()}
    assert {"run.json", "config.json", "env.json", "events.jsonl", "history.jsonl", "metrics.json",
            "model.keras", "data_report.csv", "data_report.json", "split.json", "evaluation.json",
            "predictions.csv"} <= files
    predictions = record.predictions
    assert len(predictions) == record.metrics["n"]
    assert (predictions["true"] == predictions["predicted"]).mean() == record.metrics["accuracy"]
    assert not any(name.startswith("checkpoint_") for name in files)
    assert record.env["seed"] == 7 and record.env["packages"]["keras"]
    assert record.config == tiny_config()
    frame = RunStore(runs_dir).frame()
    assert frame.loc[0, "status"] == "finished" and 0 <= frame.loc[0, "accuracy"] <= 1
    kinds = [e["kind"] for e in record.events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "epoch_ended" in kinds
    reloaded = record.load_model()
    assert reloaded.output_shape[-1] == 10


def test_kill_9_during_a_run_leaves_no_fake_complete_run_and_earlier_runs_intact(runs_dir, tmp_path):
    earlier = run_experiment(tiny_config(name="earlier"), store=RunStore(runs_dir))
    before = _tree_hash(earlier.path)

    config_file = tmp_path / "long.yaml"
    long_run = tiny_config(name="victim", train={"epochs": 1, "fine_tune_epochs": 500})
    config_file.write_text(yaml.safe_dump(long_run.to_dict()))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs_dir), "train",
                             str(config_file)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        partial = None
        while time.monotonic() < deadline:
            candidates = list(runs_dir.glob("*victim*.partial"))
            if candidates and '"epoch_ended"' in (candidates[0] / "events.jsonl").read_text():
                partial = candidates[0]
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        assert partial is not None, "the victim run never reached its first epoch"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    store = RunStore(runs_dir)
    statuses = {r.run_id: r.status for r in store.runs()}
    victim = [r for r in store.runs() if "victim" in r.run_id]
    assert len(victim) == 1 and victim[0].status == "interrupted" and not victim[0].complete
    assert not (victim[0].path / "run.json").exists()
    assert victim[0].events and victim[0].events[0]["kind"] == "run_started"
    assert [r.run_id for r in store.runs(include_incomplete=False)] == [earlier.run_id], statuses
    assert _tree_hash(earlier.path) == before
    assert store.remove_interrupted() == 1 and not victim[0].path.exists()


def test_open_by_prefix_and_clear_error_for_unknown(runs_dir):
    record = run_experiment(tiny_config(train={"fine_tune_epochs": 0}), store=RunStore(runs_dir))
    store = RunStore(runs_dir)
    assert store.open(record.run_id[:20]).run_id == record.run_id
    try:
        store.open("no-such-run")
    except FileNotFoundError as error:
        assert "no run matching" in str(error) and record.run_id in str(error)
    else:
        raise AssertionError("unknown run id must raise")


def test_a_failed_run_is_stored_as_failed_with_its_traceback(runs_dir):
    cfg = RunConfig.from_dict({"data": {"dataset": "digits", "max_per_class": 20},
                               "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32,
                                            "frozen_depth": 99}})
    try:
        run_experiment(cfg, store=RunStore(runs_dir))
    except ValueError as error:
        assert "frozen_depth 99" in str(error)
    else:
        raise AssertionError("an impossible frozen depth must fail")
    (record,) = RunStore(runs_dir).runs()
    assert record.status == "failed" and "frozen_depth 99" in record.info["error"]
    assert record.events[-1]["kind"] == "run_failed" and "Traceback" in record.events[-1]["traceback"]
