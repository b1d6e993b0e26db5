"""The leaderboard: every model Auto made, its validation score, and which one it chose.

Auto compares models on validation data only (the test split is never used to choose). A run's validation
score is read from what the run itself stored:

* a cross-validated run (tiny data): the mean accuracy of its held-out folds;
* a fused run: the fused model's validation score in its ``fusion.json``;
* any other run: its history's ``val_<metric>`` at the epoch the kept weights come from (the lowest
  ``val_loss``: the best-weights callback restores that epoch).

Example:
    >>> history = [{"val_loss": 0.9, "val_accuracy": 0.70}, {"val_loss": 0.5, "val_accuracy": 0.81},
    ...            {"val_loss": 0.6, "val_accuracy": 0.83}]
    >>> history_score(history, "accuracy")
    0.81
"""

from __future__ import annotations

import math
from typing import Optional

import pandas as pd

#: Leaderboard columns, in the order the CLI and the workbench show them.
COLUMNS = ["label", "stage", "val_score", "metric", "test_accuracy", "test_roc_auc", "seconds", "run_id", "kept",
           "note"]


def number(value) -> Optional[float]:
    """``value`` as a float, or ``None`` when it is missing, not a number or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def history_score(history: list[dict], metric: str) -> Optional[float]:
    """``val_<metric>`` at the epoch of the lowest ``val_loss`` (the restored weights), else its best value."""
    key = f"val_{metric}"
    rows = [row for row in history if number(row.get(key)) is not None]
    if not rows:
        return None
    with_loss = [row for row in rows if number(row.get("val_loss")) is not None]
    if with_loss:
        return number(min(with_loss, key=lambda row: float(row["val_loss"]))[key])
    return max(number(row[key]) for row in rows)


def validation_score(record, metric: str) -> Optional[float]:
    """The validation score Auto compares ``record`` by (see the module docstring); ``None`` if it has none."""
    metrics = record.metrics
    if metric == "accuracy" and number(metrics.get("cv_accuracy_mean")) is not None:
        return number(metrics["cv_accuracy_mean"])
    fusion = record._read_dict("fusion.json")
    if fusion:
        return number((fusion.get("fused") or {}).get("val", {}).get(metric))
    return history_score(record.history, metric)


def entry(record, *, label: str, stage: str, metric: str, seconds: float, note: str = "") -> dict:
    """One leaderboard row for the finished run ``record``."""
    metrics = record.metrics
    return {"label": label, "stage": stage, "val_score": validation_score(record, metric), "metric": metric,
            "test_accuracy": number(metrics.get("accuracy")), "test_roc_auc": number(metrics.get("roc_auc")),
            "seconds": round(float(seconds), 1), "run_id": record.run_id, "kept": True, "note": note}


def best_entry(entries: list[dict]) -> Optional[dict]:
    """The kept entry with the highest validation score (the earliest one on a tie: simpler, cheaper)."""
    scored = [e for e in entries if e.get("kept") and e.get("val_score") is not None]
    return max(scored, key=lambda e: e["val_score"]) if scored else None


def frame(entries: list[dict]) -> pd.DataFrame:
    """The leaderboard as a DataFrame, best validation score first, with a ``chosen`` column."""
    table = pd.DataFrame(entries, columns=COLUMNS)
    best = best_entry(entries)
    table["chosen"] = table["run_id"] == (best["run_id"] if best else None)
    return table.sort_values("val_score", ascending=False, na_position="last", kind="mergesort").reset_index(drop=True)
