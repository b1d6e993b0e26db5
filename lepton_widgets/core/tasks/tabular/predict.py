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

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

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


# --- the Predict app and `lepton predict` (TabularTask.open_for_prediction / predict_rows) -----------------

#: Where a tabular run keeps the predictions people ask for (inside the run folder).
PREDICTED_DIR = "predicted"


@dataclass
class TableRunModel:
    """A tabular run's model and the schema that names its input columns, loaded once."""

    record: object
    model: object
    schema: object
    path: str
    modality: str = "tabular"

    @property
    def class_names(self) -> list[str]:
        return list(self.schema.class_names)

    @property
    def columns(self) -> list[str]:
        """The columns an uploaded table must have (others, the target included, are ignored)."""
        return list(self.schema.columns)


def open_table_model(path) -> TableRunModel:
    """The table run whose folder holds the ``model.keras`` at ``path``, loaded to predict many times."""
    from lepton_widgets.core.runs.store import model_file_run

    record = model_file_run(path, "table", "column schema")
    model, schema = load_tabular_run(record)
    return TableRunModel(record, model, schema, str(path))


@dataclass
class TablePredictions:
    """``frame``: ``label``, ``confidence``, ``p(<class>)`` per input row (input order); ``rows``: the input
    as read; ``saved``: the CSV holding both (a new file, never the user's)."""

    name: str
    frame: pd.DataFrame
    rows: pd.DataFrame
    saved: Path

    def preview(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` rows as saved: row number, prediction columns, then the input columns."""
        return _joined(self.frame.head(n), self.rows.head(n))


def predict_table_csv(model: TableRunModel, csv_path: str | Path, *, name: Optional[str] = None,
                      out_dir: Optional[str | Path] = None) -> TablePredictions:
    """Predict every row of the CSV at ``csv_path`` and save the predictions as a new CSV.

    ``name`` is what the user called the file (defaults to its name); ``out_dir`` defaults to the run's
    ``predicted/`` folder (a temp folder when the run folder is read-only), never next to the user's file.
    A CSV lacking columns the model needs raises ``DataError`` (a ``ValueError``) naming them, as
    :func:`predict_frame` does.
    """
    from lepton_widgets.core.tasks.tabular.read import read_csv_file

    name = name or Path(csv_path).name
    rows = read_csv_file(csv_path)[0]
    frame = predict_frame(model.record, rows, model=model.model, schema=model.schema)
    saved = _save_csv(_joined(frame, rows), Path(out_dir) if out_dir is not None else
                      model.record.path / PREDICTED_DIR, name)
    return TablePredictions(name, frame, rows, saved)


def _joined(predictions: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Row number (1 = first data row), predictions, then the input columns; an input column whose name
    clashes with a prediction column (a target called ``label``) is kept as ``<name> (input)``."""
    taken = {"row", *predictions.columns}
    inputs = rows.reset_index(drop=True).rename(columns=lambda c: f"{c} (input)" if c in taken else c)
    numbers = pd.DataFrame({"row": np.arange(1, len(predictions) + 1)})
    return pd.concat([numbers, predictions.reset_index(drop=True), inputs], axis=1)


def _save_csv(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    from lepton_widgets.core.base.atomic import atomic_write_text
    from lepton_widgets.core.base.safe_csv import to_safe_csv
    from lepton_widgets.core.data.uploads import clean_name

    stem = clean_name(name).removesuffix(".zip").removesuffix(".csv").removesuffix(".CSV") or "table"
    file = f"{stem}-predicted-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 1_000_000:06d}.csv"
    text = to_safe_csv(frame)  # the user's cells come along: a spreadsheet must not run them as formulas
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(folder / file, text)
    except OSError:  # a read-only run folder (shared runs): the predictions still get written somewhere
        return atomic_write_text(Path(tempfile.mkdtemp(prefix="lepton-predicted-")) / file, text)


def table_rows(model: TableRunModel, inputs, top_k: int) -> list[tuple]:
    """``(name, top, error)`` per row of every CSV file in ``inputs`` (a file that fails: one row, its reason)."""
    out = []
    for item in inputs:
        try:
            frame = predict_frame(model.record, Path(item), model=model.model, schema=model.schema)
        except (OSError, ValueError) as error:  # missing, unreadable, or lacking a column: said per file
            out.append((str(item), [], f"{Path(item).name}: {error}"))
            continue
        for n, (_, row) in enumerate(frame.iterrows(), 1):
            probabilities = np.array([row[f"p({c})"] for c in model.class_names], dtype=float)
            top = [(model.class_names[i], float(probabilities[i])) for i in np.argsort(probabilities)[::-1][:top_k]]
            out.append((f"{item}:row {n}", top, None))
    return out
