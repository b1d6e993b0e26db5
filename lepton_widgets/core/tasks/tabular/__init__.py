"""Tables (CSV with numeric and categorical columns) as a first-class modality.

Importing this package registers the tabular datasets (``german_credit``, ``breast_cancer`` and the
bring-your-own ``table_csv``); ``lepton_widgets.core.data`` imports it, so they are always listed.
``run_experiment`` sends their configs to :func:`run_tabular_experiment`. Only the data module loads
eagerly (``core.data`` imports this package); the names below that need Keras load on first use.

Modules: ``read`` (CSV files), ``schema`` (column kinds, raw columns -> inputs), ``data`` (datasets,
validation, split), ``model`` (preprocessing layers + MLP), ``transfer`` (a tabular run seeds another),
``run`` (one run end to end), ``predict`` (a stored run on new rows), ``inspect`` (the rows behind a
confusion-matrix cell), ``portfolios`` (the German Credit transfer demonstration).

Example:
    >>> from lepton_widgets.core.data import list_datasets
    >>> list_datasets(modality="tabular")
    ['breast_cancer', 'german_credit', 'table_csv']
"""

from importlib import import_module

from lepton_widgets.core.tasks.tabular.data import (
    LoadedTable,
    TabularData,
    is_tabular_dataset,
    prepare_table,
    table_records,
)
from lepton_widgets.core.tasks.tabular.schema import TableSchema, infer_column_types

_LAZY = {"run_tabular_experiment": "run", "roc_auc": "run", "predict_frame": "predict",
         "load_tabular_run": "predict", "TransferRefused": "transfer", "is_tabular_run": "transfer",
         "cell_rows": "inspect"}

__all__ = [
    "LoadedTable",
    "TableSchema",
    "TabularData",
    "TransferRefused",
    "cell_rows",
    "infer_column_types",
    "is_tabular_dataset",
    "is_tabular_run",
    "load_tabular_run",
    "predict_frame",
    "prepare_table",
    "roc_auc",
    "run_tabular_experiment",
    "table_records",
]


def __getattr__(name: str):
    """Keras-heavy names load on first use, so importing ``core.data`` stays free of import cycles."""
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
