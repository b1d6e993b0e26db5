"""Predict rows of a table with a stored tabular run: a DataFrame (or CSV file) in, classes out.

The run's ``model.keras`` takes raw columns, so this only reads the run's schema (``tabular.json``) to
name the inputs, checks the columns are there, and predicts. A category the model never saw goes to the
OOV slot and a missing value is imputed (see ``model.py``), so neither stops a prediction. Columns the
model does not use (the target too) are ignored.

Example (needs a trained run; tests/test_tabular.py runs it)::

    frame = predict_frame("runs/20261130-101500-credit-1a2b3c", pd.read_csv("new_loans.csv"))
    frame[["label", "confidence"]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lepton_widgets.core.runs.store import as_record
from lepton_widgets.core.tasks.tabular.schema import TableSchema
from lepton_widgets.core.tasks.tabular.transfer import read_tabular_info


def load_tabular_run(run) -> tuple:
    """``(model, schema)`` of a finished tabular run (a ``RunRecord``, run id or folder)."""
    record = as_record(run)
    schema = TableSchema.from_dict(read_tabular_info(record)["schema"])
    return record.load_model(), schema


def predict_frame(run, rows: pd.DataFrame | str | Path, *, model=None, schema: TableSchema | None = None,
                  batch_size: int = 256) -> pd.DataFrame:
    """One row per input row: ``label``, ``confidence`` and a ``p(<class>)`` column per class.

    ``rows`` is a DataFrame or a CSV path (read like training tables). Pass ``model``/``schema`` to
    predict many times without reloading.
    """
    from lepton_widgets.core.tasks.tabular.read import read_csv_file
    from lepton_widgets.core.tasks.tabular.run import batches

    if not isinstance(rows, pd.DataFrame):
        rows = read_csv_file(rows)[0]
    if model is None or schema is None:
        model, schema = load_tabular_run(run)
    probs = np.asarray(model.predict(batches(schema.model_inputs(rows), batch_size=batch_size), verbose=0))
    names = schema.class_names
    out = pd.DataFrame({"label": [names[i] for i in probs.argmax(axis=1)], "confidence": probs.max(axis=1)})
    for i, name in enumerate(names):
        out[f"p({name})"] = probs[:, i]
    return out
