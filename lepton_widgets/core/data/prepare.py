"""``prepare_data``: from a :class:`DataConfig` to validated, deduplicated, capped and split data.

Steps: look the dataset up in the registry; its loader reads and validates every file or sample (emitting
Progress events with task ``validate`` and honouring the stop event); only the ``classes`` asked for are
kept (in that order); duplicates and unusable classes are handled (``report.py``); ``max_per_class`` is
applied with the seed; the stratified split is assigned with the seed; warnings about tiny or imbalanced
classes are added from the counts that will really be used. Capping and splitting are seeded per class,
so keeping fewer classes leaves the kept classes' rows and splits exactly as they are with every class.
Samples the user chose to leave out (``data.exclude``: content hashes, or prefixes of them) are marked
``excluded`` before any of that, for every modality, so the data report lists them with the reason.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.base.events import ListSink
    >>> sink = ListSink()
    >>> from lepton_widgets.core.base.job import Job
    >>> prepared = prepare_data(DataConfig(dataset="digits", max_per_class=20), seed=1, job=Job(sink=sink))
    >>> len(prepared.table), sorted(prepared.table.frame["split"].unique())
    (200, ['test', 'train', 'val'])
    >>> {e.task for e in sink.of_kind("progress")}
    {'validate'}
    >>> some = prepare_data(DataConfig(dataset="digits", max_per_class=20, classes=["7", "1"]), seed=1)
    >>> some.class_names, len(some.table)
    (['7', '1'], 40)
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import pandas as pd

from lepton_widgets.config import ConfigError, DataConfig
from lepton_widgets.i18n import N_, _
from lepton_widgets.core.data.registry import DatasetSpec, LoadedData, get_dataset, list_datasets
from lepton_widgets.core.data.report import build_report, class_warnings
from lepton_widgets.core.data.split import assign_splits, cap_per_class, cross_validation_folds
from lepton_widgets.core.data.table import (SAMPLE_COLUMNS, STATUS_CONVERTED, STATUS_EXCLUDED, STATUS_OK, DataError,
                                            PreparedData, SampleTable)

#: The data report's reason for a sample left out by ``data.exclude`` (translated when the report is made).
EXCLUDED_REASON = N_("left out by your choice: likely mislabelled (Auto's label check)")
from lepton_widgets.core.base.job import Job


def prepare_data(data_cfg: DataConfig, seed: int, *, job: Optional[Job] = None,
                 min_classes: int = 2) -> PreparedData:
    """Load, validate, deduplicate, cap and split ``data_cfg``'s dataset with ``seed``.

    Raises :class:`DataError` when nothing sensible remains (fewer than ``min_classes`` usable classes, a
    class with fewer than 3 usable samples); its ``report`` attribute then holds what validation found.
    Raises :class:`~lepton_widgets.core.base.events.Cancelled` when ``job`` is asked to stop; its sink gets the
    loader's Progress events.
    """
    try:
        data_cfg.validate()
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    spec = get_dataset(data_cfg.dataset)
    job = job or Job()
    loaded = spec.loader(data_cfg, job)
    job.check_stop()
    test_loaded = None
    if data_cfg.test_path:
        if not spec.needs_path:
            raise DataError(_("data.test_path is for your own data (folder, zip, csv, ...): {name} holds out its "
                              "own test samples").format(name=repr(data_cfg.dataset)))
        # Same kind, same loader, same checks: the test folder is read exactly as the training one.
        test_loaded = spec.loader(dataclasses.replace(data_cfg, path=data_cfg.test_path, test_path=None), job)
        job.check_stop()
    return prepared_from_loaded(loaded, data_cfg, seed, min_classes, test_loaded=test_loaded)


def checked_spec(data_cfg: DataConfig, modality: str, noun: str) -> DatasetSpec:
    """``data_cfg`` validated and its registry entry, which must be of ``modality`` (``noun`` names it in the
    refusal, e.g. "a table") and have its ``path`` when it is a bring-your-own kind: raises :class:`DataError`."""
    try:
        data_cfg.validate()
    except ConfigError as exc:
        raise DataError(str(exc)) from None
    spec = get_dataset(data_cfg.dataset)
    if data_cfg.dataset not in list_datasets(modality=modality):  # the registry's index of that kind's datasets
        raise DataError(_("{name} is a {modality} dataset, not {noun}").format(name=repr(data_cfg.dataset),
                                                                              modality=spec.modality, noun=noun))
    if data_cfg.test_path:  # refused rather than ignored: the user would believe their test set was used
        raise DataError(_("data.test_path is for pictures and sounds so far; {noun} keeps its own held-out test "
                          "rows: leave test_path empty").format(noun=noun))
    if spec.needs_path and not data_cfg.path:
        raise DataError(_("data.path is required for {name}").format(name=repr(data_cfg.dataset)))
    return spec


def prepared_from_loaded(loaded: LoadedData, data_cfg: DataConfig, seed: int, min_classes: int = 2,
                         keep_arrays: bool = True, test_loaded: Optional[LoadedData] = None) -> PreparedData:
    """The steps every modality shares after loading: keep ``data_cfg.classes``, build the report (duplicates,
    unusable classes), cap per class, count, warn and split, all seeded. Tables and texts keep their rows
    elsewhere and pass ``keep_arrays=False`` so the table holds no arrays for the image pipeline."""
    loaded = keep_classes(loaded, data_cfg.classes)
    loaded = exclude_samples(loaded, data_cfg.exclude)
    table, report = build_report(loaded, min_classes)
    if not keep_arrays:
        table.arrays = None
    table, note = cap_per_class(table, data_cfg.max_per_class, seed)
    if note:
        report.notes.append(note)
    report.class_counts = {name: int(n) for name, n in table.frame["label"].value_counts()
                           .reindex(table.class_names).items()}
    report.warnings += class_warnings(report.class_counts, data_cfg.min_class_size)
    folds = cross_validation_folds(report.class_counts, data_cfg.cv_below, data_cfg.cv_folds)
    if folds and report.class_counts:
        report.notes.append(_("Tiny data (smallest class: {n} samples, under cv_below={below}): a picture or "
                              "sound run uses {folds}-fold cross-validation on all of it instead of the split "
                              "shown here.").format(n=min(report.class_counts.values()), below=data_cfg.cv_below,
                                                    folds=folds))
    if test_loaded is None:
        table = assign_splits(table, data_cfg.val_fraction, data_cfg.test_fraction, seed)
    else:  # the user's own test set: nothing of the training data is held out for testing
        table = assign_splits(table, data_cfg.val_fraction, 0.0, seed)
        table = with_test_set(table, test_loaded, report, data_cfg.test_path or "")
    return PreparedData(table=table, report=report)


def with_test_set(table: SampleTable, test_loaded: LoadedData, report, source: str) -> SampleTable:
    """``table`` plus the usable samples of ``test_loaded`` as its ``test`` split.

    Test samples of classes the training data lacks are left out, and so are exact copies of training
    samples (same content hash: a copy in both would score as seen); the report says how many of each.
    """
    records = test_loaded.records
    usable = records[records["status"].isin([STATUS_OK, STATUS_CONVERTED])].copy()
    usable = usable.drop_duplicates("sha256")
    unknown = sorted(set(usable["label"].astype(str)) - set(table.class_names))
    if unknown:
        report.warnings.append(_("test_path: classes not in the training data left out: {classes}").format(
            classes=", ".join(unknown)))
    usable = usable[usable["label"].astype(str).isin(table.class_names)]
    copies = usable["sha256"].isin(set(table.frame["sha256"]))
    if copies.any():
        report.warnings.append(_("test_path: {n} test samples are copies of training samples; left out of the "
                                 "test set").format(n=int(copies.sum())))
    usable = usable[~copies]
    if usable.empty:
        raise DataError(_("data.test_path ({source}): no usable test samples of the training classes").format(
            source=source), report=report)
    frame = usable[list(SAMPLE_COLUMNS)].reset_index(drop=True)
    frame["array_index"] = frame["array_index"].fillna(-1).astype(np.int64)
    frame["path"] = frame["path"].astype(object).where(frame["path"].notna(), None)
    arrays = table.arrays
    if test_loaded.arrays is not None:
        offset = 0 if arrays is None else len(arrays)
        frame.loc[frame["array_index"] >= 0, "array_index"] += offset
        arrays = test_loaded.arrays if arrays is None else np.concatenate([arrays, test_loaded.arrays])
    frame["split"] = "test"
    counts = frame["label"].value_counts()
    report.notes.append(_("test_path: {n} test samples from {source} (per class: {counts}); {unused} not used; "
                          "nothing held out of the training data.").format(
        n=f"{len(frame):,}", source=source, unused=f"{len(records) - len(usable):,}",
        counts=", ".join(f"{name}: {int(counts.get(name, 0))}" for name in table.class_names)))
    return SampleTable(pd.concat([table.frame, frame], ignore_index=True), table.class_names, arrays,
                       table.modality, table.source)


def exclude_samples(loaded: LoadedData, exclude: Optional[list[str]]) -> LoadedData:
    """``loaded`` with the records whose content hash is (or starts with) one of ``exclude`` marked
    ``excluded`` (:data:`EXCLUDED_REASON`): not used, but listed in the data report. Every copy of an excluded
    sample goes, so a duplicate cannot bring it back. Ids that match nothing are a note, not an error.

    >>> import numpy as np
    >>> from lepton_widgets.core.data.arrays import loaded_from_arrays
    >>> loaded = loaded_from_arrays("toy", np.arange(4, dtype=np.uint8).reshape(4, 1, 1), [0, 0, 1, 1], ["a", "b"])
    >>> out = exclude_samples(loaded, [loaded.records["sha256"][0][:12], "0" * 64])
    >>> out.records["status"].tolist(), out.notes[-2][:45]
    (['excluded', 'ok', 'ok', 'ok'], 'data.exclude: 1 sample(s) left out by your ch')
    """
    if not exclude:
        return loaded
    records = loaded.records.copy()
    hashes = records["sha256"].fillna("").astype(str).str.lower()
    # Whole ids by one set lookup (Auto's lists may be long); a prefix must be long enough not to match by
    # accident, and a shorter id must be a whole hash.
    known = set(hashes)
    whole = {i for i in exclude if i in known}
    hit = hashes.isin(whole).to_numpy().copy()
    unknown = []
    for sample_id in dict.fromkeys(i for i in exclude if i not in whole):
        matches = np.zeros(len(records), dtype=bool)
        if len(sample_id) >= DataConfig.EXCLUDE_MIN_PREFIX:
            matches = hashes.str.startswith(sample_id).to_numpy()
        if matches.any():
            hit |= matches
        else:
            unknown.append(sample_id)
    # Only samples that would have been used: a file already skipped keeps its own reason.
    usable = records["status"].isin([STATUS_OK, STATUS_CONVERTED]).to_numpy()
    records.loc[hit & usable, "status"] = STATUS_EXCLUDED
    records.loc[hit & usable, "reason"] = _(EXCLUDED_REASON)
    notes = list(loaded.notes)
    notes.append(_("data.exclude: {n} sample(s) left out by your choice (likely mislabelled); the data report "
                   "lists them.").format(n=int((hit & usable).sum())))
    if unknown:
        shown = ", ".join(sample_id[:12] for sample_id in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        notes.append(_("data.exclude: {n} id(s) match no sample of this data (already gone, or of another "
                       "dataset or class): {ids}").format(n=len(unknown), ids=shown))
    return dataclasses.replace(loaded, records=records, notes=notes)


def keep_classes(loaded: LoadedData, classes: Optional[list[str]]) -> LoadedData:
    """Only the records of ``classes``, which become the class list in that order (``None``: all).

    Raises :class:`DataError` naming the available classes when one of ``classes`` is not in the data.
    """
    if classes is None:
        return loaded
    labels = loaded.records["label"]
    present = [name for name in labels.dropna().astype(str).unique() if name]
    available = list(loaded.class_names) + sorted(set(present) - set(loaded.class_names))
    unknown = [name for name in classes if name not in available]
    if unknown:
        raise DataError(_("data.classes: {unknown} not found in {source}; available classes: {available}").format(
            unknown=", ".join(map(repr, unknown)), source=loaded.source or _("the data"),
            available=", ".join(map(repr, available))))
    kept = labels.isin(classes)
    notes = list(loaded.notes)
    if len(classes) < len(available):
        notes.append(_("classes: keeping {n} of {total} classes ({names}); {left} samples of the other classes "
                       "left out.").format(n=len(classes), total=len(available), names=", ".join(classes),
                                           left=f"{int((~kept).sum()):,}"))
    return LoadedData(records=loaded.records[kept].reset_index(drop=True), class_names=list(classes),
                      arrays=loaded.arrays, modality=loaded.modality, source=loaded.source, notes=notes,
                      warnings=list(loaded.warnings))
