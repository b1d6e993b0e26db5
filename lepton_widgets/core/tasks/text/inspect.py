"""The test texts behind one confusion-matrix cell of a text run.

Like the tabular twin (``core/tasks/tabular/inspect.py``): the run's ``predictions.csv`` joined with the texts of
those rows, read again with the run's own data settings and seed, so ``array_index`` points at the same text.

Example (needs a trained run; tests/test_text.py runs it)::

    cell_texts(record, true_index=0, predicted_index=1)[["ref", "confidence", "text"]]
"""

from __future__ import annotations

import pandas as pd

from lepton_widgets.core.runs.store import RunRecord
from lepton_widgets.core.tasks.tabular.inspect import CELL_COLUMNS, cell_predictions


def cell_texts(record: RunRecord, true_index: int, predicted_index: int, limit: int = 50) -> pd.DataFrame:
    """Test texts with true class ``true_index`` predicted as ``predicted_index``, most confident first (at most
    ``limit``): ``CELL_COLUMNS`` and ``text``."""
    from lepton_widgets.core.tasks.text.data import prepare_texts

    chosen = cell_predictions(record, true_index, predicted_index, limit)
    config = record.config
    texts = prepare_texts(config.data, config.seed).texts
    return chosen[CELL_COLUMNS].assign(text=[texts[int(i)] for i in chosen["array_index"]])
