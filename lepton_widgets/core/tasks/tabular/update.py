"""The table part of an incremental update: new rows read with the run's schema, its MLP widened for new classes.

``core/update/incremental.py`` drives the update (replay, the forgetting meter, the stored version); this says
what differs for tables. New rows are read with the run's column kinds (``tabular.json``'s schema), so a column
the run used as a number is a number in the new rows too; a column the run needs that the new table lacks is
refused by name. The rows ride in the update's tables as ``SampleTable.arrays`` (the feature frame; row ``i``
of a table is ``arrays.iloc[array_index[i]]``), so the shared replay sampling and relabelling carry them along.
The model's preprocessing (normalisation, vocabularies) stays as the run fitted it: a category first seen in
the new rows goes to the out-of-vocabulary slot, as at prediction time. The version's ``tabular.json`` names the
wider class list, so ``predict_frame`` works on it.

Example (trains for real; tests/test_update_text_table.py runs it through ``update_run``)::

    updater = task_for_run(parent).updater(parent)
    data = updater.prepare(DataConfig(dataset="table_csv", path="more.csv", target="species"), 0, Job())
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.data.table import SampleTable
from lepton_widgets.core.tasks.tabular.model import CLASSIFIER, trainable_params
from lepton_widgets.core.tasks.tabular.schema import DROP, TableSchema
from lepton_widgets.core.tasks.tabular.transfer import TABULAR_FILE, read_tabular_info


def rows_of(tables: Sequence[SampleTable]) -> pd.DataFrame:
    """The feature rows of ``tables``, in order (``arrays`` holds each source's feature frame)."""
    frames = [t.arrays.iloc[t.frame["array_index"].to_numpy()] for t in tables if len(t)]
    return pd.concat(frames, ignore_index=True)


class TabularUpdater:
    """Updating a table run with new rows, new classes included."""

    def __init__(self, record) -> None:
        self.record, self.cfg = record, record.config
        self.info = read_tabular_info(record)
        self.schema = TableSchema.from_dict(self.info["schema"])
        # The run's column kinds, forced on the new rows (and on the old ones, re-read to measure forgetting).
        self.column_types = {**{name: DROP for name in self.schema.dropped}, **self.schema.columns,
                             **(self.info.get("column_types") or {})}

    #: What :meth:`user_data` takes, for messages.
    user_data_words = "a .csv table with the run's columns"

    def load_model(self):
        return self.record.load_model()

    def user_data(self, path) -> dict | None:
        """DataConfig fields for the user's own ``.csv`` (its class column named as in the run)."""
        if path.is_file() and path.suffix.lower() == ".csv":
            return {"dataset": "table_csv", "path": str(path.resolve()), "target": self.schema.target}
        return None

    def prepare(self, data_cfg, seed: int, job, *, min_classes: int = 2):
        """``PreparedData`` of a table read with the run's schema; its table carries the feature rows."""
        from lepton_widgets.core.tasks.tabular.data import prepare_table

        data = prepare_table(data_cfg, seed, job=job,
                             column_types=self._types_for(data_cfg, seed, job), min_classes=min_classes)
        absent = [c for c in self.schema.columns if c not in data.features.columns]
        if absent:
            raise ValueError(f"the new table lacks {len(absent)} column(s) run {self.record.run_id} uses: "
                             f"{', '.join(map(repr, absent))}; give rows with the same columns as its data")
        data.prepared.table.arrays = data.features
        return data.prepared

    def _types_for(self, data_cfg, seed, job) -> dict:
        """The run's column kinds, for the columns this table has (a missing one is refused after reading)."""
        from lepton_widgets.core.base.job import Job
        from lepton_widgets.core.data.prepare import checked_spec

        spec = checked_spec(data_cfg, "tabular", "a table")
        quiet = Job(run_id=job.run_id, stop_event=job.stop_event)  # Stop honoured, no progress events for a peek
        header = spec.extra["read_table"](data_cfg, quiet).features.columns
        return {name: kind for name, kind in self.column_types.items() if name in header}

    def notes(self) -> list[str]:
        return []

    def check_model(self, model) -> None:
        if CLASSIFIER not in {layer.name for layer in model.layers}:
            raise ValueError(f"run {self.record.run_id}'s model has no {CLASSIFIER} layer, so it cannot learn "
                             "new classes; update the run it came from")

    def trainable(self, model):
        """Every Dense layer trains, as in the run (the preprocessing layers have nothing to train)."""
        return model, {"frozen_depth": None, "trainable_params": trainable_params(model)}

    def defaults(self) -> tuple[int, float]:
        return self.cfg.train.epochs, self.cfg.train.learning_rate

    def _batches(self, tables: Sequence[SampleTable], labels: bool, seed=None):
        from lepton_widgets.core.tasks.tabular.run import batches

        tables = [t for t in tables if len(t)]
        y = np.concatenate([t.label_indices() for t in tables]) if labels else None
        return batches(self.schema.model_inputs(rows_of(tables)), y, self.cfg.train.batch_size, shuffle_seed=seed)

    def fit_args(self, train: Sequence[SampleTable], val: Sequence[SampleTable], seed: int) -> dict:
        """``model.fit`` arguments: new and replayed rows together, reshuffled each epoch."""
        return {"x": self._batches(train, True, seed), "validation_data": self._batches(val, True),
                "shuffle": False}

    def predict(self, model, table: SampleTable, job, task: str) -> np.ndarray:
        job.check_stop()
        if not len(table):
            return np.zeros((0, model.output_shape[-1]), np.float32)
        return np.asarray(model.predict(self._batches([table], False), verbose=0))

    def write_files(self, writer, classes: list[str]) -> None:
        """``tabular.json`` with the wider class list, so ``predict_frame`` names every class."""
        schema = {**self.info["schema"], "class_names": list(classes)}
        writer.extra["modality"] = "tabular"
        writer.write_json(TABULAR_FILE, {**self.info, "schema": schema, "updated_from": self.record.run_id})
