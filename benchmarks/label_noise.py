"""Label noise: does the data doctor find labels flipped on purpose, in a list short enough to look through?

Design (fixed before the run):

* Data: Fashion-MNIST, 100 per class (70 train, 15 val, 15 test per class with the default split, seed 0).
* Noise: 5% of the TRAIN rows (35 of 700) get another class, drawn with ``numpy.random.default_rng(0)``
  (uniform over the 9 other classes). Val rows are left as they are, but the doctor checks them too (Auto
  checks every row it learns or is checked on).
* Features: the default MobileNetV2 with its offline ImageNet weights at 96 px, through the image task's Auto
  kit (``kit.features``: train + val rows, cached on disk like training's features).
* The doctor: ``core.auto.doctor.examine`` with the flipped labels. Its list is cleanlab's
  ``filter_by="low_self_confidence"``: the rows of lowest self-confidence, as many as cleanlab's own count
  (``num_label_issues``). Nothing in the rule sees the flips (see core/auto/label_issues.py).
* Side by side on the same out-of-fold probabilities: cleanlab's default filter (``prune_by_noise_rate``), the
  list a plain ``cleanlab.filter.find_label_issues`` call gives.
* Reported: precision and recall of the flagged list against the flipped rows, its length, the doctor's
  seconds (label check + learning curve + counts), the same figures for noise draws 1 and 2 (details line).
  Target: recall >= 0.70 with a list no longer than twice the flipped (70).

Run: python -m benchmarks.label_noise

Measured (2026-12-06, 2 cores shared with other jobs, Intel Xeon AVX-512; 41 s wall with features cached):

==========  ================================  ================  ===================================
noise seed  doctor: flagged / recall / prec.  flips in first 70  cleanlab default filter (same probs)
==========  ================================  ================  ===================================
0           101 / 0.94 / 0.33  (7.1 s)        32 of 35          135 / 0.83 / 0.21
1           114 / 0.89 / 0.27                 31 of 35          156 / 0.80 / 0.18
2           114 / 0.89 / 0.27                 28 of 35          143 / 0.74 / 0.18
==========  ================================  ================  ===================================

BENCH label_noise_recall = 0.94: the recall target (>= 0.70) is met, the length target (<= 70, twice the 35
flipped) is NOT: the list is 2.9x. What makes it long is not the flips: the probe is right only ~77% of the
time out of fold on these features, and Fashion-MNIST's look-alike classes (shirt, T-shirt, pullover, coat)
put many honestly labelled pictures far from their class; cleanlab's count (``num_label_issues``) counts
them as label issues too (16 of the 101 are val rows, which were never flipped). The flips themselves rank
high: 28-32 of the 35 are in the first 70 rows of the list, so a person who reads it from the top finds
them first. Cutting the list shorter would need a rule that knows
the noise rate; tried and rejected without it: a majority threshold on the suggested class, "given class not
in the top 2", L2 / square-root feature normalisation, averaging 3 cross-validation shuffles (none brought
the list under 2x without losing recall below 0.70).
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np

from benchmarks.common import context
from lepton_widgets.config import RunConfig
from lepton_widgets.core.auto.doctor import examine
from lepton_widgets.core.auto.label_issues import out_of_fold_probabilities
from lepton_widgets.core.tasks.registry import task_for_config

SIZE, PER_CLASS, NOISE, SEED = 96, 100, 0.05, 0
NOISE_SEEDS = (0, 1, 2)


def features_of(per_class: int, size: int = SIZE, seed: int = SEED):
    """The prepared data and the Auto kit's frozen features of its train and val rows."""
    cfg = RunConfig.from_dict({"seed": seed, "data": {"dataset": "fashion_mnist", "max_per_class": per_class},
                               "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": size}})
    kit = task_for_config(cfg).auto_kit()
    prepared = kit.prepare(cfg)
    return prepared, kit.features(cfg, prepared)


def flip(features, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ``fraction`` of the train rows moved to another class, and which rows were flipped."""
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(np.asarray(features.split) == "train")
    rows = np.sort(rng.choice(train, int(round(fraction * len(train))), replace=False))
    labels = np.asarray(features.y).copy()
    labels[rows] = (labels[rows] + rng.integers(1, len(features.class_names), len(rows))) % len(features.class_names)
    return labels, rows


def scores(flagged: np.ndarray, flipped: np.ndarray) -> dict:
    hits = int(np.isin(flagged, flipped).sum())
    return {"flagged": int(len(flagged)), "flipped": int(len(flipped)), "found": hits,
            "precision": hits / max(1, len(flagged)), "recall": hits / max(1, len(flipped)),
            "length_ratio": len(flagged) / max(1, len(flipped))}


def doctor_run(prepared, features, noise_seed: int) -> dict:
    labels, flipped = flip(features, NOISE, noise_seed)
    noisy = dataclasses.replace(features, y=labels)
    start = time.perf_counter()
    report = examine(prepared, noisy, seed=SEED)
    seconds = time.perf_counter() - start
    row_of = {sample_id: i for i, sample_id in enumerate(features.ids)}
    flagged = np.array([row_of[item["id"]] for item in report.label_issues], dtype=np.int64)
    out = {"noise_seed": noise_seed, **scores(flagged, flipped), "seconds": seconds,
           "flagged_val_rows": int((np.asarray(features.split)[flagged] == "val").sum()),
           # How high the flips rank (a measurement only: the list is never cut with the truth).
           "found_in_first_2x": int(np.isin(flagged[:2 * len(flipped)], flipped).sum())}

    # Side by side: cleanlab's default filter on out-of-fold probabilities of the same probe.
    import cleanlab.filter

    probs = out_of_fold_probabilities(noisy.x, labels, seed=SEED)
    default = cleanlab.filter.find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    out["cleanlab_default_filter"] = scores(np.asarray(default), flipped)
    return out


def main() -> None:
    start = time.perf_counter()
    prepared, features = features_of(PER_CLASS)
    feature_seconds = time.perf_counter() - start
    runs = [doctor_run(prepared, features, s) for s in NOISE_SEEDS]
    for run in runs:
        base = run["cleanlab_default_filter"]
        print(f"# noise seed {run['noise_seed']}: doctor flagged {run['flagged']} ({run['found']} of "
              f"{run['flipped']} flipped: recall {run['recall']:.2f}, precision {run['precision']:.2f}) in "
              f"{run['seconds']:.1f} s; {run['found_in_first_2x']} in its first {2 * run['flipped']} | cleanlab default filter {base['flagged']} (recall {base['recall']:.2f}, "
              f"precision {base['precision']:.2f})", flush=True)
    main_run = runs[0]
    ctx = context(dataset="fashion_mnist", per_class=PER_CLASS, image_size=SIZE, backbone="mobilenet_v2:offline",
                  rows_checked=len(features.y), train_rows=int((np.asarray(features.split) == "train").sum()),
                  noise=NOISE, noise_seeds=list(NOISE_SEEDS), feature_seconds=feature_seconds)
    print(json.dumps({"benchmark": "label_noise", "context": ctx}))
    print(json.dumps({"benchmark": "label_noise", "runs": runs}, default=float))
    met = main_run["recall"] >= 0.70 and main_run["flagged"] <= 2 * main_run["flipped"]
    print("BENCH " + json.dumps({
        "metric": "label_noise_recall", "value": round(main_run["recall"], 4),
        "target": ">= 0.70 in a list <= 2x flipped", "unit": "fraction", "met": met,
        "precision": round(main_run["precision"], 4), "recall": round(main_run["recall"], 4),
        "flagged": main_run["flagged"], "flipped": main_run["flipped"], "seconds": round(main_run["seconds"], 2),
        "cpu": ctx["cpu"]}))


if __name__ == "__main__":
    main()
