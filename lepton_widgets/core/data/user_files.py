"""Bring your own images: a folder of class folders, a zip of one, or a CSV of ``path,label`` rows.

Loaders list files, report the ones that cannot be images (wrong type, missing, no label) and hand the
rest to :func:`validate.validate_files`. The user's files are only read, never changed or moved.

Folder layout: one subfolder per class, images anywhere below it (jpg, jpeg, png, bmp, gif, webp; any
case). Hidden files and folders are ignored; other files are reported as skipped. A zip holds the same
layout, optionally inside one top folder. A CSV names files relative to its own folder (or absolute).

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("cats", "dogs"):
    ...     os.makedirs(os.path.join(root, cls))
    ...     Image.new("RGB", (8, 8), "red").save(os.path.join(root, cls, "1.png"))
    >>> open(os.path.join(root, "cats", "notes.txt"), "w").close()
    >>> candidates, classes = list_class_folders(root)
    >>> classes, [(c.ref, c.problem) for c in candidates]
    (['cats', 'dogs'], [('cats/1.png', ''), ('cats/notes.txt', 'unsupported file type .txt'), ('dogs/1.png', '')])
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.registry import DatasetSpec, LoadedData, register_dataset
from lepton_widgets.core.data.safe_zip import extract_zip
from lepton_widgets.core.data.table import (REPORT_COLUMNS, SAMPLE_COLUMNS, STATUS_CONVERTED, STATUS_OK, DataError,
                                            DataReport, SampleTable)
from lepton_widgets.core.data.validate import FileCandidate, validate_files
from lepton_widgets.i18n import N_, _

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
CSV_COLUMNS = ("path", "label")
_IGNORED_DIRS = ("__MACOSX",)


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_DIRS


def _type_problem(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    if suffix in IMAGE_EXTENSIONS:
        return ""
    return (_("unsupported file type {suffix}").format(suffix=suffix) if suffix
            else _("unsupported file type (no extension)"))


def list_class_folders(root: Union[str, Path]) -> tuple[list[FileCandidate], list[str]]:
    """Candidates in a stable (sorted) order and the class names (one per non-hidden subfolder)."""
    root = Path(root)
    candidates: list[FileCandidate] = []
    classes: list[str] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if _hidden(entry.name):
            continue
        if entry.is_dir():
            classes.append(entry.name)
            candidates += _walk_class(root, entry.name)
        else:
            candidates.append(FileCandidate(entry.name, "", None, _("not inside a class folder (move it into "
                                                                    "the subfolder named after its class)")))
    return candidates, classes


def _walk_class(root: Path, label: str) -> list[FileCandidate]:
    found = []
    for folder, dirs, files in os.walk(root / label):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))  # in place: os.walk then skips hidden folders
        for name in sorted(files):
            if _hidden(name):
                continue
            path = Path(folder) / name
            found.append(FileCandidate(path.relative_to(root).as_posix(), label, path, _type_problem(name)))
    return found


def _records(candidates: list[FileCandidate], classes: list[str], source: str, job: Job,
             notes: list[str]) -> LoadedData:
    return LoadedData(records=validate_files(candidates, job), class_names=classes, modality="image",
                      source=source, notes=notes)


def require_path(data_cfg) -> Path:
    """``data_cfg.path`` (user-expanded) of a bring-your-own kind; a DataError when it is not set."""
    if not data_cfg.path:
        raise DataError(_("data.path is required for dataset {name}").format(name=repr(data_cfg.dataset)))
    return Path(data_cfg.path).expanduser()


def load_folder(data_cfg, job: Job) -> LoadedData:
    root = require_path(data_cfg)
    if not root.is_dir():
        raise DataError(_("folder not found: {path}").format(path=root))
    candidates, classes = list_class_folders(root)
    return _records(candidates, classes, str(root), job, [_("Images read from the folder {path}.").format(path=root)])


def dataset_root(folder: Path) -> Path:
    """The folder itself, or its only subfolder when that holds the class folders (a zipped top folder)."""
    entries = [e for e in folder.iterdir() if not _hidden(e.name)]
    if len(entries) == 1 and entries[0].is_dir():
        inner = entries[0]
        if any(e.is_dir() and not _hidden(e.name) for e in inner.iterdir()):
            return inner
    return folder


def load_zip(data_cfg, job: Job) -> LoadedData:
    archive = require_path(data_cfg)
    folder = extract_zip(archive, job=job)
    root = dataset_root(folder)
    candidates, classes = list_class_folders(root)
    note = _("Images read from {name}, extracted (once) to {folder}.").format(name=archive.name, folder=folder)
    return _records(candidates, classes, str(archive), job, [note])


def read_csv_candidates(csv_path: Union[str, Path]) -> tuple[list[FileCandidate], list[str]]:
    """Candidates from a ``path,label`` CSV (header names are matched ignoring case and spaces)."""
    csv_path = Path(csv_path)
    raw = csv_path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # utf-8-sig also accepts the BOM Excel writes
    except UnicodeDecodeError as exc:
        raise DataError(_("{name} is not UTF-8 text (byte {byte} at position {position}); save it as UTF-8 "
                          "(in Excel: 'CSV UTF-8')").format(name=csv_path.name, byte=f"0x{raw[exc.start]:02x}",
                                                            position=exc.start)) from None
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        found = ", ".join(repr(h) for h in (rows[0] if rows else [])) or _("none (empty file)")
        raise DataError(_("{name} needs the columns {needed}; found columns: {found}; missing: {missing}").format(
            name=csv_path.name, needed=", ".join(CSV_COLUMNS), found=found, missing=", ".join(missing)))
    path_col, label_col = header.index("path"), header.index("label")
    candidates, labels = [], set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        cell = lambda i: row[i].strip() if i < len(row) else ""  # noqa: E731 - short rows are allowed
        written, label = cell(path_col), cell(label_col)
        if label:
            labels.add(label)
        path = Path(written).expanduser()
        path = path if path.is_absolute() else csv_path.parent / path
        problem = ""
        if not written:
            problem = _("empty path (line {line})").format(line=line)
        elif not label:
            problem = _("empty label (line {line})").format(line=line)
        elif not path.is_file():
            problem = _("file not found: {path} (line {line})").format(path=path, line=line)
        else:
            problem = _type_problem(path.name)
        candidates.append(FileCandidate(written or f"line {line}", label, path if written else None, problem))
    return candidates, sorted(labels)


def load_csv(data_cfg, job: Job) -> LoadedData:
    csv_path = require_path(data_cfg)
    if not csv_path.is_file():
        raise DataError(_("CSV file not found: {path}").format(path=csv_path))
    candidates, classes = read_csv_candidates(csv_path)
    return _records(candidates, classes, str(csv_path), job, [_("Images listed in {path}.").format(path=csv_path)])


def files_table(paths: Sequence[Union[str, Path]], class_names: Sequence[str],
                job: Optional[Job] = None) -> tuple[SampleTable, DataReport]:
    """Validate loose, unlabelled files (to predict them): usable ones in a table, every file in the report.

    The file name's extension is not checked here (the content decides; odd formats are converted on a
    copy). Duplicates are kept: each file asked about gets its prediction.

    >>> table, report = files_table(["/no/such.png"], ["cats", "dogs"])
    >>> len(table), report.frame.loc[0, "reason"]
    (0, 'file not found')
    """
    candidates = []
    for given in paths:
        path = Path(given)
        found = path.is_file()
        candidates.append(FileCandidate(str(given), "", path if found else None, "" if found else _("file not found")))
    records = validate_files(candidates, job)
    usable = records["status"].isin([STATUS_OK, STATUS_CONVERTED])
    frame = records.loc[usable, list(SAMPLE_COLUMNS)].reset_index(drop=True)
    frame["array_index"] = np.int64(-1)
    table = SampleTable(frame=frame, class_names=list(class_names), modality="image", source="files")
    return table, DataReport(frame=records[list(REPORT_COLUMNS)])


# Marked for the catalogue; the Data step shows them through ``_()`` (panels/dataset/choices.py).
_USER = dict(modality="image", origin="user", licence=N_("the user's own"))
register_dataset(DatasetSpec(name="folder", loader=load_folder, description=N_("A folder with one subfolder "
                             "of images per class (jpg, png, bmp, gif, webp)."), **_USER))
register_dataset(DatasetSpec(name="zip", loader=load_zip, description=N_("A zip of such a folder; extracted "
                             "safely once into the cache."), **_USER))
register_dataset(DatasetSpec(name="csv", loader=load_csv, description=N_("A CSV with columns path,label; "
                             "paths relative to the CSV's folder or absolute."), **_USER))
