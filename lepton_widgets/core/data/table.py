"""The shapes data takes between loading, validation, splitting and the tf.data pipeline.

A loader (built-in or bring-your-own) produces a :class:`SampleTable`: one row per usable sample with its
label, a content hash and where its pixels live (a file path, or a row of an in-memory ``uint8`` array).
Validation produces a :class:`DataReport` that also lists every file that was skipped and why.
:func:`lepton_widgets.core.data.split.assign_splits` adds the ``split`` column.

Example:
    >>> import numpy as np, pandas as pd
    >>> arrays = np.zeros((4, 8, 8), np.uint8)
    >>> frame = pd.DataFrame({"ref": [f"toy[{i}]" for i in range(4)], "label": ["a", "a", "b", "b"],
    ...                       "sha256": list("wxyz"), "path": [None] * 4, "array_index": range(4)})
    >>> table = SampleTable(frame=frame, class_names=["a", "b"], arrays=arrays, modality="image")
    >>> table.label_indices().tolist()
    [0, 0, 1, 1]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from lepton_widgets.i18n import N_, _

#: Columns every SampleTable frame has. ``path`` is a readable image file (None for array rows);
#: ``array_index`` is the row in ``SampleTable.arrays`` (-1 for file rows); ``ref`` is what a person
#: should see ("shoes/img_001.png" or "fashion_mnist:train[123]").
SAMPLE_COLUMNS = ("ref", "label", "sha256", "path", "array_index")

#: Columns of ``DataReport.frame``: one row per file or sample looked at, usable or not.
REPORT_COLUMNS = ("ref", "label", "status", "reason", "width", "height", "mode", "sha256")

#: Report statuses. ``ok`` and ``converted`` rows are used; the others are not, and ``reason`` says why.
STATUS_OK = "ok"
STATUS_CONVERTED = "converted"
STATUS_SKIPPED = "skipped"
STATUS_DUPLICATE = "duplicate"
#: Left out because the user chose so (``DataConfig.exclude``, e.g. Auto's likely mislabelled examples).
STATUS_EXCLUDED = "excluded"
#: The statuses in words for people (the Data panel's table, the summary); the keys stay as they are.
STATUS_LABELS = {STATUS_OK: N_("ok"), STATUS_CONVERTED: N_("converted"), STATUS_SKIPPED: N_("skipped"),
                 STATUS_DUPLICATE: N_("duplicate"), STATUS_EXCLUDED: N_("excluded")}


def status_label(status: str) -> str:
    """A report status in the current language (``"skipped"`` -> ``"已跳过"`` in Chinese); unknown ones as given."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else str(status)


class DataError(ValueError):
    """The data cannot be used as given; the message says what is wrong and what to do.

    ``report`` is the :class:`DataReport` as far as it got, when there is one, so a UI can still show
    which files were skipped and why.
    """

    def __init__(self, message: str, report: Optional["DataReport"] = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class SampleTable:
    """Usable samples, one row each (see :data:`SAMPLE_COLUMNS`, plus ``split`` once assigned)."""

    frame: pd.DataFrame
    class_names: list[str]
    arrays: Optional[np.ndarray] = None
    modality: str = "image"
    source: str = ""

    def label_indices(self) -> np.ndarray:
        lookup = {name: i for i, name in enumerate(self.class_names)}
        return self.frame["label"].map(lookup).to_numpy(dtype=np.int64)

    def subset(self, split: str) -> "SampleTable":
        """Rows of one split (``train``, ``val`` or ``test``), sharing the class list and arrays."""
        rows = self.frame[self.frame["split"] == split].reset_index(drop=True)
        return SampleTable(rows, self.class_names, self.arrays, self.modality, self.source)

    def __len__(self) -> int:
        return len(self.frame)

    def content_hash(self) -> str:
        """Hash of (content hash, label) of every row, order-independent: the data's identity."""
        import hashlib

        pairs = sorted(zip(self.frame["sha256"], self.frame["label"]))
        digest = hashlib.sha256()
        for sha, label in pairs:
            digest.update(f"{sha}:{label}\n".encode())
        return digest.hexdigest()


@dataclass
class DataReport:
    """What validation found: a per-file frame (see :data:`REPORT_COLUMNS`) and readable findings.

    ``warnings`` are things a person should know (tiny classes, imbalance, conversions); ``errors`` are
    reasons the data cannot be used at all.
    """

    frame: pd.DataFrame
    class_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_used(self) -> int:
        return int(self.frame["status"].isin([STATUS_OK, STATUS_CONVERTED]).sum())

    @property
    def n_skipped(self) -> int:
        return int((~self.frame["status"].isin([STATUS_OK, STATUS_CONVERTED])).sum())

    def problems(self) -> pd.DataFrame:
        """Rows that were not used as-is (skipped, duplicate or converted), with the reason."""
        return self.frame[self.frame["status"] != STATUS_OK].reset_index(drop=True)

    def summary(self) -> str:
        selected = sum(self.class_counts.values())
        first = _("{used} samples usable in {classes} classes; {unused} not usable.").format(
            used=self.n_used, classes=len(self.class_counts), unused=self.n_skipped)
        if self.class_counts and selected < self.n_used:
            first += " " + _("{selected} selected (max_per_class); the other {rest} left out.").format(
                selected=selected, rest=self.n_used - selected)
        lines = [first]
        counts = _(", ").join(f"{name}: {n}" for name, n in self.class_counts.items())
        if counts:
            lines.append(_("Per class: {counts}.").format(counts=counts))
        status_counts = self.frame["status"].value_counts().to_dict() if len(self.frame) else {}
        for status in (STATUS_CONVERTED, STATUS_SKIPPED, STATUS_DUPLICATE):
            if status_counts.get(status):
                lines.append(_("{n} {status} (see report.problems()).").format(n=status_counts[status],
                                                                               status=status_label(status)))
        lines += [_("Note: {text}").format(text=n) for n in self.notes]
        lines += [_("Warning: {text}").format(text=w) for w in self.warnings]
        lines += [_("Error: {text}").format(text=e) for e in self.errors]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "summary": self.summary(),
            "class_counts": self.class_counts,
            "warnings": self.warnings,
            "errors": self.errors,
            "notes": self.notes,
            "n_used": self.n_used,
            "n_skipped": self.n_skipped,
        }


@dataclass
class PreparedData:
    """Validated, split data ready for the pipeline: the table (with ``split``) and its report."""

    table: SampleTable
    report: DataReport

    @property
    def class_names(self) -> list[str]:
        return self.table.class_names

    @property
    def num_classes(self) -> int:
        return len(self.table.class_names)

    def split(self, name: str) -> SampleTable:
        return self.table.subset(name)
