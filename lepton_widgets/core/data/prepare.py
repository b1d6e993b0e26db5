"""``prepare_data``: from a :class:`DataConfig` to validated, deduplicated, capped and split data.

Steps: look the dataset up in the registry; its loader reads and validates every file or sample (emitting
Progress events with task ``validate`` and honouring the stop event); duplicates and unusable classes are
handled (``report.py``); ``max_per_class`` is applied with the seed; the stratified split is assigned with
the seed; warnings about tiny or imbalanced classes are added from the counts that will really be used.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.events import ListSink
    >>> sink = ListSink()
    >>> prepared = prepare_data(DataConfig(dataset="digits", max_per_class=20), seed=1, sink=sink)
    >>> len(prepared.table), sorted(prepared.table.frame["split"].unique())
    (200, ['test', 'train', 'val'])
    >>> {e.task for e in sink.of_kind("progress")}
    {'validate'}
"""

from __future__ import annotations

import threading
from typing import Optional

from lepton_widgets.config import ConfigError, DataConfig
from lepton_widgets.core.data.registry import LoadContext, get_dataset
from lepton_widgets.core.data.report import build_report, class_warnings
from lepton_widgets.core.data.split import assign_splits, cap_per_class
from lepton_widgets.core.data.table import DataError, PreparedData
from lepton_widgets.core.events import EventSink, check_stop


def prepare_data(data_cfg: DataConfig, seed: int, sink: Optional[EventSink] = None,
                 stop_event: Optional[threading.Event] = None, run_id: str = "") -> PreparedData:
    """Load, validate, deduplicate, cap and split ``data_cfg``'s dataset with ``seed``.

    Raises :class:`DataError` when nothing sensible remains (fewer than 2 usable classes, a class with
    fewer than 3 usable samples); its ``report`` attribute then holds what validation found. Raises
    :class:`~lepton_widgets.core.events.Cancelled` when ``stop_event`` is set.
    """
    try:
        data_cfg.validate()
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    spec = get_dataset(data_cfg.dataset)
    loaded = spec.loader(data_cfg, LoadContext(sink=sink, stop_event=stop_event, run_id=run_id))
    check_stop(stop_event)
    table, report = build_report(loaded)
    table, note = cap_per_class(table, data_cfg.max_per_class, seed)
    if note:
        report.notes.append(note)
    report.class_counts = {name: int(n) for name, n in table.frame["label"].value_counts()
                           .reindex(table.class_names).items()}
    report.warnings += class_warnings(report.class_counts, data_cfg.min_class_size)
    table = assign_splits(table, data_cfg.val_fraction, data_cfg.test_fraction, seed)
    return PreparedData(table=table, report=report)
