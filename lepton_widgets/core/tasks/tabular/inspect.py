"""The test rows behind one confusion-matrix cell of a tabular run, with their column values.

The image runs' gallery shows pictures; a table's "examples" are rows, so this joins the run's
``predictions.csv`` (ref, true, predicted, confidence, and ``array_index``: the row of the loaded table)
with the values of those rows, read again from the run's own data settings. The data is loaded exactly as
training loaded it (same config, same seed), so ``array_index`` points at the same row.

Example (needs a trained run; tests/test_tabular.py runs it)::

    rows = cell_rows(record, true_index=1, predicted_index=0)   # true "bad", predicted "good"
    rows[["ref", "confidence", "duration_in_month"]]
"""

from __future__ import annotations

import pandas as pd

from lepton_widgets.core.runs.store import RunRecord

#: Columns of :func:`cell_rows` before the table's own columns.
CELL_COLUMNS = ["ref", "true", "predicted", "confidence"]


def cell_predictions(record: RunRecord, true_index: int, predicted_index: int, limit: int = 50) -> pd.DataFrame:
    """The rows of ``predictions.csv`` in one cell, most confident first, at most ``limit``, index reset."""
    predictions = record.predictions
    in_cell = (predictions["true_index"] == true_index) & (predictions["predicted_index"] == predicted_index)
    chosen = predictions[in_cell]
    return chosen.sort_values("confidence", ascending=False).head(limit).reset_index(drop=True)


def cell_rows(record: RunRecord, true_index: int, predicted_index: int, limit: int = 50) -> pd.DataFrame:
    """Test rows with true class ``true_index`` predicted as ``predicted_index``, most confident first (at most
    ``limit``): :data:`CELL_COLUMNS`, then the columns the model reads, with their original values."""
    from lepton_widgets.core.tasks.tabular.data import prepare_table

    chosen = cell_predictions(record, true_index, predicted_index, limit)
    config = record.config
    data = prepare_table(config.data, config.seed)
    used = [c for c in data.schema.columns if c in data.features]
    values = data.features.iloc[chosen["array_index"].to_numpy()][used].reset_index(drop=True)
    return pd.concat([chosen[CELL_COLUMNS], values], axis=1)
