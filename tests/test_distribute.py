"""tf.distribute (issue 18, item 4): a run on two replicas gives the metrics of the same run on one device.

Real runs, real processes, on CPU:
- *mirrored*: a subprocess splits its CPU into two logical devices (TensorFlow fixes its devices when it
  starts, hence a fresh process) and trains with ``MirroredStrategy``;
- *two workers*: two ``lepton train --workers 127.0.0.1:P0,127.0.0.1:P1 --worker-index I`` processes on free
  loopback ports train one run together with ``MultiWorkerMirroredStrategy``; only worker 0 keeps it;
- *one device*: the same config, in this process, with the same *global* batch (``batch_size`` is per replica).

The mirrored run and the one-device run take the default path for pretrained weights: features extracted once
(under the strategy) and the head trained on them; the workers train the head through the frozen backbone
(``feature_cache: never``), so both paths run on two replicas.

All three start at once (one module fixture) so the file stays inside its time budget.

The tolerance, and why. The runs start from the same weights and take the same steps over the same samples
(the global batch of 32 is split 16 + 16 across the replicas, which is what one device sees as one batch of
32). What differs is only how each step's gradient is added up: two per-replica means averaged by an
all-reduce, against one mean over 32, i.e. float32 rounding in another order. Adam divides each gradient by
its running size, so rounding differences on near-zero components become visible steps within a few
batches. Measured on this config (2 epochs, so many test pictures still sit near a class boundary), the
two-replica runs differ from one device reproducibly, by 0.03 in log loss (about 2.5%) and 1 to 4 of 60 test
predictions, while the mirrored run and the two-worker run agree with each other to every printed digit.
So: accuracy within 6 of the 60 test items and log loss within 0.1 of one device; the two two-replica runs
within 1e-3 of each other (the sharp check that both take the very same steps).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from lepton_widgets.config import RunConfig

PYTHON = sys.executable
#: Per replica: two replicas x 16 = the one-device batch of 32. ``CONFIG`` (the workers) trains the head through
#: the frozen backbone (feature_cache never), so every step runs the backbone's forward pass on each replica;
#: ``CACHED`` (mirrored, one device) trains it on extracted features. Dropout 0 keeps each replica's random
#: numbers out of the comparison.
CONFIG = {"name": "dist", "seed": 3, "data": {"dataset": "digits", "max_per_class": 40},
          "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 64},
          "train": {"epochs": 2, "fine_tune_epochs": 0, "dropout": 0.0, "batch_size": 16,
                    "feature_cache": "never"}}
CACHED = {**CONFIG, "train": {**CONFIG["train"], "feature_cache": "auto"}}
ONE_DEVICE_BATCH = 32
ACCURACY_ITEMS, LOG_LOSS = 6, 0.1

MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import lepton_widgets as lw
    run = lw.train(json.loads(sys.argv[1]), runs_dir=sys.argv[2])
    print("RUN " + str(run.path))
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
    """The three runs' records: ``one``, ``mirrored`` and ``workers`` (worker 0's), plus worker 1's exit."""
    from lepton_widgets.api import train
    from lepton_widgets.core.runs.store import RunStore

    root = tmp_path_factory.mktemp("distribute")
    config_file = root / "dist.json"
    config_file.write_text(json.dumps(CONFIG))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    env.pop("LEPTON_DISTRIBUTE", None)
    workers = f"127.0.0.1:{_free_port()},127.0.0.1:{_free_port()}"
    started = [
        subprocess.Popen([PYTHON, "-c", MIRRORED, json.dumps(CACHED), str(root / "mirrored")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        *[subprocess.Popen([PYTHON, "-m", "lepton_widgets.cli", "--runs-dir", str(root / "workers"), "train",
                            str(config_file), "--workers", workers, "--worker-index", str(index)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for index in (0, 1)],
    ]
    try:
        one_cfg = RunConfig.from_dict(CACHED).replace(train__batch_size=ONE_DEVICE_BATCH)
        one = train(one_cfg, runs_dir=root / "one")
        outputs = [p.communicate(timeout=600)[0] for p in started]
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
    codes = [p.returncode for p in started]
    assert codes == [0, 0, 0], "\n\n".join(o[-3000:] for o in outputs)
    store = RunStore(root / "workers")
    return {"one": one, "mirrored": RunStore(root / "mirrored").open(_run_path(outputs[0], "RUN ")),
            "workers": store.open(_run_path(outputs[1], "saved in ")), "worker_runs": list(store.frame()["run_id"]),
            "helper_output": outputs[2]}


def _close(run, one) -> None:
    n = one.metrics["n"]
    assert run.metrics["n"] == n
    assert abs(run.metrics["accuracy"] - one.metrics["accuracy"]) * n <= ACCURACY_ITEMS + 1e-9, (run.metrics,
                                                                                                  one.metrics)
    assert abs(run.metrics["log_loss"] - one.metrics["log_loss"]) <= LOG_LOSS, (run.metrics, one.metrics)


def _run_started(run) -> dict:
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    return next(e for e in events if e["kind"] == "run_started")


def test_two_logical_devices_match_one_device(runs):
    one, mirrored = runs["one"], runs["mirrored"]
    assert mirrored.status == one.status == "finished"
    facts = mirrored.env["distribution"]
    assert facts["strategy"] == "MirroredStrategy" and facts["replicas"] == 2
    assert facts["per_replica_batch"] == 16 and facts["global_batch"] == 32
    assert mirrored.config.train.batch_size == 32  # the stored config replays the same steps on one device
    assert _run_started(mirrored)["distribution"]["replicas"] == 2
    assert one.env["distribution"]["replicas"] == 1 and one.env["distribution"]["strategy"] == "default"
    _close(mirrored, one)


def test_two_workers_on_loopback_match_one_device(runs):
    one, chief = runs["one"], runs["workers"]
    assert chief.status == "finished"
    facts = chief.env["distribution"]
    assert facts["strategy"] == "MultiWorkerMirroredStrategy" and facts["replicas"] == 2
    assert facts["worker_index"] == 0 and len(facts["workers"]) == 2
    assert runs["worker_runs"] == [chief.run_id], "only worker 0 keeps the run"
    assert "kept by worker 0" in runs["helper_output"]
    _close(chief, one)
    # Both two-replica runs take the very same steps: they agree far more tightly than with one device.
    for key in ("accuracy", "log_loss"):
        assert abs(chief.metrics[key] - runs["mirrored"].metrics[key]) <= 1e-3, key


def test_worker_flags_are_checked_before_anything_runs(tmp_path):
    from lepton_widgets.core.base.distribute import parse_workers, tf_config

    assert json.loads(tf_config(["a:1", "b:2"], 1)) == {"cluster": {"worker": ["a:1", "b:2"]},
                                                       "task": {"type": "worker", "index": 1}}
    for text, index, words in (("a:1", 0, "two or more"), ("a:1,b", 0, "host:port"), ("a:1,a:1", 0, "twice"),
                               ("a:1,b:2", 2, "0 to 1")):
        with pytest.raises(ValueError, match=words):
            parse_workers(text, index)
    config = tmp_path / "c.json"
    config.write_text(json.dumps(CONFIG))
    done = subprocess.run([PYTHON, "-m", "lepton_widgets.cli", "train", str(config), "--workers", "a:1,b:2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--worker-index" in done.stderr
