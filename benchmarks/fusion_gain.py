"""Fusion gain: the fused model vs the best single run, accuracy on the test split.

Per repeat (one seed: its own split, head initialisation and shuffling): Fashion-MNIST, PER_CLASS images
per class, MobileNetV2 with the offline ImageNet weights at SIZE px. Three members are fine-tuned from that
same pretrained start the way model soups assume (head on cached features, then the last 3 of 19 blocks
unfrozen), differing only in learning rate. Then the ensemble (weights optimised on validation) and the
greedy soup are made with ``core.fusion.fuse.fuse``.

Baseline B: what a user does without fusion, keep the member with the best validation accuracy. A: the fused
model of the two methods with the best validation accuracy (log-loss breaks ties), so the choice is made
on validation and never on test. Value: median over repeats of A's test accuracy minus B's, in percentage
points; each method's gain, and its change in test log-loss, is listed too. Target: >= 0 (fusing does not cost
accuracy on test). With 220 test images one image is 0.45 points, so read small gains as "no loss" rather
than as a win.

Run: python -m benchmarks.fusion_gain   (13.5 min on 2 cores shared with other jobs, load about 5; training
the six members takes most of it, each fusion about a minute)
"""

from __future__ import annotations

import statistics
import tempfile
import time

from benchmarks.common import context, report, summarize
from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.core.fusion.fuse import fuse, fusion_info
from lepton_widgets.core.runs.store import RunStore

SIZE, PER_CLASS, SEEDS = 48, 150, (1, 2)
LEARNING_RATES = (1e-3, 3e-3, 3e-4)
METHODS = ("ensemble", "greedy-soup")  # the uniform soup is in tests/test_fusion.py


def member_config(seed: int, learning_rate: float) -> RunConfig:
    return RunConfig.from_dict({
        "name": f"member-lr{learning_rate:g}", "seed": seed,
        "data": {"dataset": "fashion_mnist", "max_per_class": PER_CLASS},
        "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE, "frozen_depth": 16},
        "train": {"epochs": 5, "fine_tune_epochs": 3, "learning_rate": learning_rate, "batch_size": 32}})


def one_repeat(seed: int, runs_dir: str) -> dict:
    store = RunStore(runs_dir)
    started = time.perf_counter()
    members = [run_experiment(member_config(seed, lr), store=store) for lr in LEARNING_RATES]
    train_s = time.perf_counter() - started
    assert all(m.status == "finished" for m in members), [m.status for m in members]
    fused, seconds = {}, {}
    for method in METHODS:
        started = time.perf_counter()
        fused[method] = fusion_info(fuse(members, method, store=store))
        seconds[method] = time.perf_counter() - started
    info = fused["ensemble"]
    best = next(m for m in info["members"] if m["run_id"] == info["best_member"])
    picked = max(METHODS, key=lambda m: (fused[m]["fused"]["val"]["accuracy"], -fused[m]["fused"]["val"]["log_loss"]))
    return {
        "seed": seed, "members_train_s": train_s, "fuse_s": seconds,
        "test_n": best["test"]["n"], "val_n": best["val"]["n"],
        "members": [{"learning_rate": lr, "val_accuracy": m["val"]["accuracy"], "test_accuracy": m["test"]["accuracy"]}
                    for lr, m in zip(LEARNING_RATES, info["members"])],
        "best_member": {"val_accuracy": best["val"]["accuracy"], "test_accuracy": best["test"]["accuracy"],
                        "test_log_loss": best["test"]["log_loss"]},
        "methods": {m: {"val_accuracy": f["fused"]["val"]["accuracy"], "test_accuracy": f["fused"]["test"]["accuracy"],
                        "test_log_loss": f["fused"]["test"]["log_loss"],
                        "test_gain_points": 100 * f["gain_over_best_member"]["test_accuracy"]}
                    for m, f in fused.items()},
        "ensemble_weights": list(info["weights"].values()),
        "greedy_soup_size": len(fused["greedy-soup"]["soup"]),
        "picked_on_val": picked,
        "picked_test_gain_points": 100 * fused[picked]["gain_over_best_member"]["test_accuracy"],
    }


def summary(repeats: list[dict]) -> dict:
    """Gains over the repeats: of the model picked on validation, and of each method (accuracy, log-loss)."""
    return {
        "picked_test_gain_points": summarize([r["picked_test_gain_points"] for r in repeats]),
        "per_method_test_gain_points": {m: summarize([r["methods"][m]["test_gain_points"] for r in repeats])
                                        for m in METHODS},
        "per_method_test_log_loss_change": {
            m: summarize([r["methods"][m]["test_log_loss"] - r["best_member"]["test_log_loss"] for r in repeats])
            for m in METHODS},
    }


def main() -> None:
    repeats = []
    for seed in SEEDS:
        with tempfile.TemporaryDirectory(prefix="lepton-fusion-bench-") as runs_dir:
            repeats.append(one_repeat(seed, runs_dir))
            print({k: repeats[-1][k] for k in ("seed", "picked_on_val", "picked_test_gain_points")}, flush=True)
    gains = [r["picked_test_gain_points"] for r in repeats]
    report("fusion_gain", context(image_size=SIZE, dataset="fashion_mnist", per_class=PER_CLASS, seeds=list(SEEDS),
                                  backbone="mobilenet_v2 offline, last 3 of 19 blocks fine-tuned",
                                  learning_rates=list(LEARNING_RATES)),
           {**summary(repeats), "repeats": repeats},
           metric="fusion_test_accuracy_gain_vs_best_member", value=statistics.median(gains), target=">= 0",
           unit="points")


if __name__ == "__main__":
    main()
