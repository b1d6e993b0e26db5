"""Auto against the default: Lepton Auto with a 5-minute budget against the README's default configuration
(what a user gets without changing a setting), on the same data with the same seed.

Datasets: Fashion-MNIST at 100 per class, digits (scikit-learn's 8x8 handwritten digits, the default 100 per
class), German Credit (every row, as the README's example; judged by ROC AUC, as credit scoring is) and the
fine-food reviews (the default 100 per class; the default text encoder is MiniLM with its layers frozen).
Both sides are scored on the same test split (the split is seeded by the data config and the seed, which
are the same), and Auto chooses on validation only.

Value: the mean gain of Auto over the default in points (accuracy; ROC AUC for credit). Target: at least +2,
with no dataset worse and every Auto wall time within the budget plus 10%.

Run: python -m benchmarks.auto_vs_default              (about 25 minutes on 2 cores: 4 x (5 min + default))
     python -m benchmarks.auto_vs_default digits 2m    (one dataset, another budget)
"""

from __future__ import annotations

import sys
import tempfile
import time

from benchmarks.common import context, report
from lepton_widgets.api import train
from lepton_widgets.config import RunConfig
from lepton_widgets.core.auto import parse_budget, run_auto

#: name -> (the README's default config, the metric it is judged by)
DATASETS = {
    "fashion_mnist": ({"data": {"dataset": "fashion_mnist", "max_per_class": 100}}, "accuracy"),
    "digits": ({"data": {"dataset": "digits"}}, "accuracy"),
    "german_credit": ({"data": {"dataset": "german_credit", "max_per_class": None}}, "roc_auc"),
    "food_reviews": ({"data": {"dataset": "food_reviews"}}, "accuracy"),
}
BUDGET = "5m"
SEED = 42


def one(name: str, budget: str, runs_dir: str) -> dict:
    raw, metric = DATASETS[name]
    cfg = RunConfig.from_dict({**raw, "seed": SEED, "name": f"default {name}"})
    started = time.perf_counter()
    default = train(cfg, runs_dir=runs_dir)
    default_s = time.perf_counter() - started
    started = time.perf_counter()
    result = run_auto(cfg.data, budget=budget, seed=SEED, runs_dir=runs_dir, fresh=True)
    auto_s = time.perf_counter() - started
    best = result.best_run()
    auto_value = best.metrics.get(metric) if best is not None else None
    row = {"dataset": name, "metric": metric, "default": default.metrics.get(metric), "auto": auto_value,
           "gain_points": None if auto_value is None else 100 * (auto_value - default.metrics[metric]),
           "default_s": round(default_s, 1), "auto_s": round(auto_s, 1),
           "within_budget": auto_s <= 1.1 * parse_budget(budget), "auto_status": result.status,
           "auto_choice": next((e["label"] for e in result.entries if e["run_id"] == result.best_run_id), None),
           "auto_stages": {k: v["status"] for k, v in result.stages.items()},
           "default_backbone": cfg.backbone.name}
    print(row, flush=True)
    return row


def main(argv: list[str]) -> None:
    names = [a for a in argv if a in DATASETS] or list(DATASETS)
    budget = next((a for a in argv if a not in DATASETS), BUDGET)
    with tempfile.TemporaryDirectory() as runs_dir:
        rows = [one(name, budget, runs_dir) for name in names]
    gains = [r["gain_points"] for r in rows if r["gain_points"] is not None]
    mean_gain = sum(gains) / len(gains) if gains else float("nan")
    report("auto_vs_default", context(budget=budget, seed=SEED),
           {"rows": rows, "no_dataset_worse": all(g >= 0 for g in gains) and len(gains) == len(rows),
            "all_within_budget": all(r["within_budget"] for r in rows)},
           "mean_gain_points", mean_gain, ">= +2 points, none worse, every Auto within budget + 10%", "points")


if __name__ == "__main__":
    main(sys.argv[1:])
