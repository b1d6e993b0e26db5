"""tf.distribute (issue 18, item 4): a run on two replicas gives the metrics of the same run on one device.

Real runs, real processes, on CPU:
- *mirrored*: a subprocess splits its CPU into two logical devices (TensorFlow fixes its devices when it
  starts, hence a fresh process) and trains with ``MirroredStrategy``;
- *one device*: then, in that same subprocess, ``LEPTON_DISTRIBUTE=off`` and a fresh choice of strategy give
  the default strategy (one device) for the same config with the same *global* batch (``batch_size`` is per
  replica). Sharing the process saves a third TensorFlow start-up; the run records ``strategy: default``,
  one replica, so the test checks it really was one device;
- *two workers*: two ``lepton train --workers 127.0.0.1:P0,127.0.0.1:P1 --worker-index I`` processes on free
  loopback ports train one run together with ``MultiWorkerMirroredStrategy``; only worker 0 keeps it.

The mirrored run and the one-device run take the default path for pretrained weights: features extracted
(under the strategy, each run into its own empty feature cache) and the head trained on them; the workers
train the head through the frozen backbone (``feature_cache: never``), so both paths run on two replicas.
The data is small (digits, 300 pictures at 32 px, 3 head epochs: about 65 s of CPU for the whole file,
against 240-480 s of wall time for the former 400 pictures at 64 px) and all three processes start at once,
under one deadline; once one fails the others are stopped, so a worker whose partner never comes up (it
waits for it without a timeout) cannot hang the suite.

The tolerance, and why. The runs start from the same weights and take the same steps over the same samples
(the global batch of 32 is split 16 + 16 across the replicas, which is what one device sees as one batch of
32). What differs is only how each step's gradient is added up: two per-replica means averaged by an
all-reduce, against one mean over 32, i.e. float32 rounding in another order. Adam divides each gradient by
its running size, so rounding differences on near-zero components become visible steps within a few
batches. Measured on this config (1 head epoch would leave the head near chance, so 3 epochs at a learning
rate of 0.01 bring it to about 0.7 on the 40 test pictures, with many still near a class boundary), the
two-replica runs differ from one device reproducibly: 0.700 against 0.725 accuracy (1 of 40 test predictions)
and 0.999 against 1.023 log loss (0.024, about 2.5%), while the mirrored run and the two-worker run agree with
each other to 1e-7. A one-device run in a fresh process gives the very same numbers as the one here, to
every digit. So: accuracy within 10% of the test items (4 of 40) and log loss within 0.1 of one device (the
same tolerance ``benchmarks.distributed`` uses: 6 of its 60 test items); the two two-replica runs within 1e-3
of each other (the sharp check that both take the very same steps).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

PYTHON = sys.executable
#: Per replica: two replicas x 16 = the one-device batch of 32. ``CONFIG`` (the workers) trains the head through
#: the frozen backbone (feature_cache never), so every step runs the backbone's forward pass on each replica;
#: ``CACHED`` (mirrored, one device) trains it on extracted features. Dropout 0 keeps each replica's random
#: numbers out of the comparison.
CONFIG = {"name": "dist", "seed": 3, "data": {"dataset": "digits", "max_per_class": 30},
          "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 32},
          "train": {"epochs": 3, "learning_rate": 0.01, "fine_tune_epochs": 0, "dropout": 0.0, "batch_size": 16,
                    "feature_cache": "never"}}
CACHED = {**CONFIG, "train": {**CONFIG["train"], "feature_cache": "auto"}}
ONE_DEVICE_BATCH = 32
#: Accuracy within 10% of the test items (4 of 40 here), log loss within 0.1: see the module docstring.
ACCURACY, LOG_LOSS, BETWEEN_TWO_REPLICA_RUNS = 0.1, 0.1, 1e-3
#: Seconds for the three processes together (about 18 s of CPU each; 40 s of wall on the loaded 2 cores).
DEADLINE = 300

#: Mirrored run first (features extracted under the strategy), then the one-device run in the same process.
DEVICES = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import lepton_widgets as lw
    from lepton_widgets.core.base import distribute
    config, root, one_device_batch = json.loads(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    def home(name):  # an empty feature cache per run (so each extracts), sharing the converted weights
        path = root / name
        path.mkdir()
        (path / "weights").symlink_to(sys.argv[4], target_is_directory=True)
        os.environ["LEPTON_HOME"] = str(path)
    home("home-mirrored")
    mirrored = lw.train(config, runs_dir=root / "mirrored")
    print("MIRRORED " + str(mirrored.path), flush=True)
    # A process picks its strategy once; no model is alive between the runs, so pick again, switched off.
    os.environ[distribute.SWITCH] = "off"
    distribute._process = None
    home("home-one")
    config["train"]["batch_size"] = one_device_batch
    one = lw.train(config, runs_dir=root / "one")
    print("ONE " + str(one.path), flush=True)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_path(stdout: str, prefix: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith(prefix)]
    assert lines, stdout[-3000:]
    return lines[-1].split(prefix, 1)[1].strip()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The three runs' records: ``one``, ``mirrored`` and ``workers`` (worker 0's), plus worker 1's output."""
    from lepton_widgets.core.base.paths import cache_dir
    from lepton_widgets.core.runs.store import RunStore

    root = tmp_path_factory.mktemp("distribute")
    config_file = root / "dist.json"
    config_file.write_text(json.dumps(CONFIG))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    env.pop("LEPTON_DISTRIBUTE", None)
    workers = f"127.0.0.1:{_free_port()},127.0.0.1:{_free_port()}"
    commands = [[PYTHON, "-c", DEVICES, json.dumps(CACHED), str(root), str(ONE_DEVICE_BATCH),
                 str(cache_dir("weights"))],
                *[[PYTHON, "-m", "lepton_widgets.cli", "--runs-dir", str(root / "workers"), "train",
                   str(config_file), "--workers", workers, "--worker-index", str(index)] for index in (0, 1)]]
    logs = [root / f"process-{i}.log" for i in range(len(commands))]
    started = []
    try:
        for command, log in zip(commands, logs):
            with open(log, "w") as out:
                started.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        # One deadline for all; and once any process fails, the others stop at once (a worker whose partner
        # is gone would otherwise wait for it until the deadline).
        deadline = time.monotonic() + DEADLINE
        while any(p.poll() is None for p in started) and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in started):
                break
            time.sleep(0.2)
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
                p.wait()
    outputs = [log.read_text() for log in logs]
    codes = [p.returncode for p in started]
    assert codes == [0, 0, 0], f"exit codes {codes} (negative: killed at the {DEADLINE} s deadline or after " \
                               f"another process failed)\n\n" + "\n\n".join(o[-3000:] for o in outputs)
    store = RunStore(root / "workers")
    return {"one": RunStore(root / "one").open(_run_path(outputs[0], "ONE ")),
            "mirrored": RunStore(root / "mirrored").open(_run_path(outputs[0], "MIRRORED ")),
            "workers": store.open(_run_path(outputs[1], "saved in ")), "worker_runs": list(store.frame()["run_id"]),
            "helper_output": outputs[2]}


def _close(run, one) -> None:
    n = one.metrics["n"]
    assert run.metrics["n"] == n
    assert abs(run.metrics["accuracy"] - one.metrics["accuracy"]) <= ACCURACY + 1e-9, (run.metrics, one.metrics)
    assert abs(run.metrics["log_loss"] - one.metrics["log_loss"]) <= LOG_LOSS, (run.metrics, one.metrics)


def _event(run, kind: str) -> dict:
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    return next(e for e in events if e["kind"] == kind)


def test_two_logical_devices_match_one_device(runs):
    one, mirrored = runs["one"], runs["mirrored"]
    assert mirrored.status == one.status == "finished"
    facts = mirrored.env["distribution"]
    assert facts["strategy"] == "MirroredStrategy" and facts["replicas"] == 2
    assert facts["per_replica_batch"] == 16 and facts["global_batch"] == 32
    assert mirrored.config.train.batch_size == 32  # the stored config replays the same steps on one device
    assert _event(mirrored, "run_started")["distribution"]["replicas"] == 2
    # Both took the cached-features path (extracted under their strategy, head trained on the features).
    assert _event(mirrored, "phase_started")["cached_features"] and _event(one, "phase_started")["cached_features"]
    assert one.env["distribution"]["replicas"] == 1 and one.env["distribution"]["strategy"] == "default"
    assert one.config.train.batch_size == 32
    _close(mirrored, one)


def test_two_workers_on_loopback_match_one_device(runs):
    one, chief = runs["one"], runs["workers"]
    assert chief.status == "finished"
    facts = chief.env["distribution"]
    assert facts["strategy"] == "MultiWorkerMirroredStrategy" and facts["replicas"] == 2
    assert facts["worker_index"] == 0 and len(facts["workers"]) == 2
    assert runs["worker_runs"] == [chief.run_id], "only worker 0 keeps the run"
    assert "kept by worker 0" in runs["helper_output"]
    assert _event(chief, "phase_started")["cached_features"] is False  # streamed through the frozen backbone
    _close(chief, one)
    # Both two-replica runs take the very same steps: they agree far more tightly than with one device.
    for key in ("accuracy", "log_loss"):
        assert abs(chief.metrics[key] - runs["mirrored"].metrics[key]) <= BETWEEN_TWO_REPLICA_RUNS, key


def test_worker_flags_are_checked_before_anything_runs(tmp_path, capsys):
    from lepton_widgets.cli import main
    from lepton_widgets.core.base.distribute import parse_workers, tf_config

    assert json.loads(tf_config(["a:1", "b:2"], 1)) == {"cluster": {"worker": ["a:1", "b:2"]},
                                                       "task": {"type": "worker", "index": 1}}
    for text, index, words in (("a:1", 0, "two or more"), ("a:1,b", 0, "host:port"), ("a:1,a:1", 0, "twice"),
                               ("a:1,b:2", 2, "0 to 1")):
        with pytest.raises(ValueError, match=words):
            parse_workers(text, index)
    config = tmp_path / "c.json"
    config.write_text(json.dumps(CONFIG))
    # The command line itself (in this process: a refusal must come before any strategy or training starts).
    for flags, words in ((["--workers", "a:1,b:2"], "--worker-index"), (["--worker-index", "1"], "--workers"),
                         (["--workers", "a:1,b:2", "--worker-index", "2"], "0 to 1")):
        assert main(["--runs-dir", str(tmp_path / "runs"), "train", str(config), *flags]) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert "TF_CONFIG" not in os.environ  # set_workers() writes it first thing: it never ran
