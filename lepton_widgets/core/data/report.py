"""From a loader's records to the usable table and the report: duplicates, class checks, warnings.

This part knows nothing about images, so every modality shares it. Exact duplicates (same content hash)
keep their first copy; a copy under a different label is a warning, because one of the two labels is
wrong. A class with no usable sample is left out with a warning; fewer than two classes, or a class too
small to appear in train, val and test, is a :class:`DataError` (see :data:`MIN_PER_CLASS`).

Example:
    >>> import numpy as np
    >>> from lepton_widgets.core.data.arrays import loaded_from_arrays
    >>> images = np.arange(8, dtype=np.uint8).reshape(8, 1, 1); images[7] = images[6]
    >>> table, report = build_report(loaded_from_arrays("toy", images, [0, 0, 0, 1, 1, 1, 1, 1], ["a", "b"]))
    >>> len(table), report.frame["status"].tolist()[-1], report.class_counts
    (7, 'duplicate', {'a': 3, 'b': 4})
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.data.registry import LoadedData
from lepton_widgets.core.data.table import (REPORT_COLUMNS, SAMPLE_COLUMNS, STATUS_CONVERTED, STATUS_DUPLICATE,
                                            STATUS_OK, DataError, DataReport, SampleTable, status_label)
from lepton_widgets.i18n import _

#: A class needs one sample in each of train, val and test. Smaller classes are an error rather than
#: being dropped quietly: the user put the class there and expects the model to predict it.
MIN_PER_CLASS = 3
#: Largest/smallest class ratio above which the report warns about imbalance.
IMBALANCE_RATIO = 3.0
_MAX_EXAMPLES = 3
#: Where a reason's per-file details start: ':' or '(' (ASCII, or full-width in a Chinese reason).
_DETAIL = re.compile(r"[:(\uff1a\uff08]")


def build_report(loaded: LoadedData, min_classes: int = 2) -> tuple[SampleTable, DataReport]:
    """Deduplicate and check classes; :class:`DataError` (with ``.report``) when the data is unusable.

    ``min_classes`` is 2 for data a classifier is trained on alone; new data for an update may hold a
    single class (core/update/incremental.py), since the run being updated brings the others."""
    records = loaded.records.reset_index(drop=True).copy()
    warnings = list(loaded.warnings)
    _mark_duplicates(records, warnings)
    usable = records["status"].isin([STATUS_OK, STATUS_CONVERTED])
    counts = records.loc[usable, "label"].value_counts()
    declared = list(loaded.class_names) + sorted(set(counts.index) - set(loaded.class_names))
    class_names = []
    for name in declared:
        if counts.get(name, 0) == 0:
            warnings.append(_("class {name} has no usable images; left out").format(name=name))
        else:
            class_names.append(name)
    report = DataReport(frame=records[list(REPORT_COLUMNS)],
                        class_counts={name: int(counts[name]) for name in class_names},
                        warnings=warnings, notes=list(loaded.notes))
    _check_classes(report, class_names, min_classes)
    frame = records.loc[usable, list(SAMPLE_COLUMNS)].reset_index(drop=True)
    frame["array_index"] = frame["array_index"].fillna(-1).astype(np.int64)
    frame["path"] = frame["path"].astype(object).where(frame["path"].notna(), None)
    table = SampleTable(frame=frame, class_names=class_names, arrays=loaded.arrays, modality=loaded.modality,
                        source=loaded.source)
    return table, report


def _mark_duplicates(records: pd.DataFrame, warnings: list[str]) -> None:
    usable = records["status"].isin([STATUS_OK, STATUS_CONVERTED])
    used = records[usable]
    duplicated = used["sha256"].duplicated(keep="first")
    if not duplicated.any():
        return
    first = used[~duplicated].set_index("sha256")
    dups = used[duplicated]
    kept_ref = dups["sha256"].map(first["ref"])
    kept_label = dups["sha256"].map(first["label"])
    conflict = dups["label"] != kept_label
    same, labelled = _("same content as {ref}"), _("same content as {ref} (labelled {label} there)")
    reason = pd.Series([(labelled if clash else same).format(ref=ref, label=label) for ref, label, clash in
                        zip(kept_ref.astype(str), kept_label.astype(str), conflict)], index=dups.index, dtype=object)
    records.loc[dups.index, "status"] = STATUS_DUPLICATE
    records.loc[dups.index, "reason"] = reason
    if conflict.any():
        examples = [f"{ref} ({label}) = {kept} ({kept_lab})" for ref, label, kept, kept_lab in
                    zip(dups["ref"][conflict], dups["label"][conflict], kept_ref[conflict], kept_label[conflict])]
        examples = "; ".join(examples[:_MAX_EXAMPLES])
        warnings.append(_("{n} file(s) have the same content as a file with another label; only the first copy "
                          "is used, so check the labels: {examples}").format(n=int(conflict.sum()), examples=examples))


def _check_classes(report: DataReport, class_names: list[str], min_classes: int = 2) -> None:
    def fail(message: str) -> None:
        report.errors.append(message)
        raise DataError(message, report=report)

    if len(class_names) < min_classes:
        if min_classes <= 1:
            message = _("a class with usable samples is needed; found none.")
        elif class_names:
            message = _("at least {n} classes with usable samples are needed; found only '{name}'.").format(
                n=min_classes, name=_shown(class_names[0]))
        else:
            message = _("at least {n} classes with usable samples are needed; found none.").format(n=min_classes)
        fail(f"{message} {_skip_summary(report)}")
    small = {name: n for name, n in report.class_counts.items() if n < MIN_PER_CLASS}
    if small:
        listed = _(", ").join(_("'{name}' has {n}").format(name=_shown(name), n=n) for name, n in small.items())
        fail(_("each class needs at least {min} usable samples (one each for train, val and test): {listed}. "
               "Add samples or remove the class.").format(min=MIN_PER_CLASS, listed=listed))


def _shown(name) -> str:
    """A class name as ``repr`` writes it inside its quotes: control characters (a NUL byte...) made visible."""
    return repr(str(name))[1:-1]


def _skip_summary(report: DataReport) -> str:
    """The commonest reasons files were not used: usually the hint the user needs (wrong layout, ...)."""
    if len(report.frame) == 0:
        return _("No files or samples were found at all.")
    unused = report.frame[~report.frame["status"].isin([STATUS_OK, STATUS_CONVERTED])]
    if len(unused) == 0:
        return _("All {n} files/samples were usable.").format(n=len(report.frame))
    # Drop per-file details after ':' or '(' so identical causes group together.
    causes = unused["reason"].astype(str).map(_cause)
    top = _("; ").join(f"{cause} ({n})" for cause, n in causes.value_counts().head(_MAX_EXAMPLES).items())
    return _("{unused} of {total} files/samples were not usable; commonest reasons: {top}.").format(
        unused=len(unused), total=len(report.frame), top=top)


def class_warnings(class_counts: dict[str, int], min_class_size: int) -> list[str]:
    """Tiny classes and imbalance, from the counts that will really be used."""
    found = []
    for name, n in class_counts.items():
        if n < min_class_size:
            found.append(_("class {name} is tiny: {n} usable samples; add at least {min} per class so the model "
                           "can learn it (until then its scores are unreliable)").format(name=name, n=n,
                                                                                      min=min_class_size))
    if class_counts:
        largest = max(class_counts, key=class_counts.get)
        smallest = min(class_counts, key=class_counts.get)
        ratio = class_counts[largest] / class_counts[smallest]
        if ratio > IMBALANCE_RATIO:
            found.append(_("classes are imbalanced: {largest} has {n_largest} samples, {smallest} {n_smallest} "
                           "({ratio}x); add samples of {smallest}, or cap the big classes with max_per_class")
                         .format(largest=largest, n_largest=class_counts[largest], smallest=smallest,
                                 n_smallest=class_counts[smallest], ratio=f"{ratio:.1f}"))
    return found


def _cause(reason: str) -> str:
    """A reason without its per-file details (after ':' or '(', ASCII or full-width as Chinese writes them), so
    identical causes count together."""
    return _DETAIL.split(reason, 1)[0].strip() or _("no reason given")


def report_summary_lines(frame: pd.DataFrame, where: str = "", warnings: Sequence[str] = (),
                         top: int = 5) -> list[str]:
    """A data report (the ``data_report.csv`` frame) in a few terminal lines: files used, converted and not
    used, the commonest reasons with their counts, data warnings (an empty class...) and where the full report
    is. What ``lepton train`` prints after a run, so a skipped or converted file is never silent.

    >>> frame = pd.DataFrame({"ref": ["a.png", "b.png", "c.gif", "d.png"], "status": ["ok", "skipped",
    ...     "converted", "skipped"], "reason": [None, "not an image: cannot identify", "converted from GIF",
    ...     "not an image: cannot identify"]})
    >>> print("\\n".join(report_summary_lines(frame, "runs/x/data_report.csv")))
    data: 2 of 4 files/samples used (1 converted), 2 not used
      2 skipped: not an image
      1 converted: converted from GIF
    full data report: runs/x/data_report.csv
    """
    status = frame["status"].astype(str) if "status" in frame else pd.Series([], dtype=str)
    used = status.isin([STATUS_OK, STATUS_CONVERTED])
    converted = int((status == STATUS_CONVERTED).sum())
    template = (_("data: {used} of {total} files/samples used ({converted} converted), {unused} not used")
                if converted else _("data: {used} of {total} files/samples used, {unused} not used"))
    lines = [template.format(used=int(used.sum()), total=len(frame), converted=converted,
                             unused=int((~used).sum()))]
    odd = frame[status != STATUS_OK]
    if len(odd):
        reasons = odd["reason"].fillna("").astype(str).map(_cause) if "reason" in odd else ""
        counts = pd.DataFrame({"status": status[odd.index], "cause": reasons}).value_counts()
        # Not-used rows first, then conversions; commonest first within each.
        ordered = sorted(counts.items(), key=lambda item: (item[0][0] == STATUS_CONVERTED, -item[1]))
        for (kind, cause), n in ordered[:top]:
            lines.append("  " + _("{n} {status}: {cause}").format(n=n, status=status_label(kind), cause=cause))
        if len(ordered) > top:
            lines.append("  " + _("... and {n} other reasons").format(n=len(ordered) - top))
    lines += ["  " + _("warning: {text}").format(text=text) for text in warnings]
    if where:
        lines.append(_("full data report: {where}").format(where=where))
    return lines
