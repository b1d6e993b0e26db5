"""Two logical CPU devices (``MirroredStrategy``) against one, same config: do the metrics agree, and the wall time?

A = one device, global batch 32. B = the CPU split into two logical devices, 16 per replica (the same global
batch, so the same steps): ``lepton_widgets.train`` picks ``MirroredStrategy`` by itself
(``core/base/distribute.py``). Digits, 400 pictures at 64 px, MobileNetV2 (offline weights): 2 head epochs
through the frozen backbone, then 1 fine-tuning epoch of the blocks above block 15. TensorFlow fixes its devices when it starts, so each
run is a fresh child process of this script (``--child N``); only ``train()`` is timed, not the import.
Alternates A B A B. The metrics must agree within the tolerance tests/test_distribute.py states and explains
(accuracy within 6 of 60 test items, log loss within 0.1); the wall ratio B / A is reported whatever it is.
On 2 cores, two logical devices share the same cores, so expect no gain here: the figure that matters for
speed is on several GPUs, which this machine does not have.

Run: python -m benchmarks.distributed [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import context, report, summarize

CONFIG = {"name": "distributed", "seed": 3, "data": {"dataset": "digits", "max_per_class": 40},
          "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 64, "frozen_depth": 15},
          "train": {"epochs": 2, "fine_tune_epochs": 1, "dropout": 0.0, "batch_size": 32,
                    "feature_cache": "never", "early_stopping_patience": 0}}
GLOBAL_BATCH = 32
ACCURACY_ITEMS, LOG_LOSS = 6, 0.1


def child(devices: int) -> None:
    import tensorflow as tf

    if devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    import lepton_widgets as lw

    cfg = json.loads(json.dumps(CONFIG))
    cfg["train"]["batch_size"] = GLOBAL_BATCH // devices  # per replica
    with tempfile.TemporaryDirectory() as runs:
        start = time.perf_counter()
        run = lw.train(cfg, runs_dir=runs)
        seconds = time.perf_counter() - start
        print("CHILD " + json.dumps({"seconds": seconds, "status": run.status, "distribution": run.env.get(
            "distribution"), "metrics": {k: run.metrics[k] for k in ("n", "accuracy", "log_loss", "macro_f1")}}))


def measure(devices: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "benchmarks.distributed", "--child", str(devices)], env=env,
                          capture_output=True, text=True, timeout=1800)
    lines = [line for line in done.stdout.splitlines() if line.startswith("CHILD ")]
    if done.returncode or not lines:
        raise RuntimeError(f"child with {devices} device(s) failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len("CHILD "):])
    assert result["status"] == "finished", result
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    one, two = [], []
    for _ in range(args.repeats):  # A B A B
        one.append(measure(1))
        two.append(measure(2))
    a, b = summarize([r["seconds"] for r in one]), summarize([r["seconds"] for r in two])
    m1, m2 = one[0]["metrics"], two[0]["metrics"]
    n = m1["n"]
    agree = (abs(m1["accuracy"] - m2["accuracy"]) * n <= ACCURACY_ITEMS + 1e-9
             and abs(m1["log_loss"] - m2["log_loss"]) <= LOG_LOSS)
    ratio = b["median"] / a["median"]
    report("distributed", context(dataset="digits", samples=400, image_size=64, global_batch=GLOBAL_BATCH,
                                  backbone="mobilenet_v2", gpu="none (CPU only: GPU timings not measured)"),
           {"one_device_s": a, "two_logical_devices_s": b, "one_device_metrics": m1, "two_device_metrics": m2,
            "distribution": two[0]["distribution"], "metrics_agree": agree,
            "tolerance": f"accuracy within {ACCURACY_ITEMS}/{n} test items, log loss within {LOG_LOSS}",
            "repeatable": all(r["metrics"] == m1 for r in one) and all(r["metrics"] == m2 for r in two),
            "two_over_one_wall": ratio},
           "two_logical_devices_over_one_wall", ratio,
           "reported whatever it is; metrics agree within the stated tolerance", "x")
    if not agree:
        raise SystemExit(f"metrics disagree beyond the tolerance: one device {m1}, two devices {m2}")


if __name__ == "__main__":
    main()
