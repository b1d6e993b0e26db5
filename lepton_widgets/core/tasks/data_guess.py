"""Which kind of data is this? A :class:`~lepton_widgets.config.DataConfig` for anything the Data step takes.

:func:`data_config_for` answers it for a built-in dataset's name or a path to your own data, by looking at
names and headers only (nothing is extracted, converted or written; your files are only read):

============================================== ===============================================================
what you give                                  what it becomes (``DataConfig.dataset``)
============================================== ===============================================================
a built-in name (``digits``, ``german_credit``) that dataset, with DataConfig's defaults
a folder of class subfolders of images         ``folder``
... of ``.wav`` sounds                         ``wav_folder``
... of ``.txt`` texts                          ``text_folder``
a ``.zip`` of such image (sound) folders       ``zip`` (``wav_zip``)
a ``.csv`` with ``path`` and ``label`` columns ``csv`` (image files listed with their class)
a ``.csv`` with a column of free text          ``text_csv``
any other ``.csv``                             ``table_csv``
============================================== ===============================================================

A file or folder here wins over a built-in dataset of the same name (``digits/`` is your folder). A CSV's class
column is ``target`` when given, else the one named label, class, target, y or outcome (any case); without one
the error lists the columns so you can name it. Your own data keeps every example (``max_per_class`` None). Anything else (a missing path, a lone file, a folder that mixes kinds) is a
:class:`~lepton_widgets.core.data.table.DataError` that says what was found and what is expected.

This is the one place that tells kinds of data apart by their files, so Auto (``core/auto``), the CLI and
the workbench ask it rather than guessing for themselves.

Example:
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("cats", "dogs"):
    ...     (root / name).mkdir()
    ...     Image.new("RGB", (8, 8), "red").save(root / name / "1.png")
    >>> cfg = data_config_for(root)
    >>> cfg.dataset, cfg.max_per_class
    ('folder', None)
    >>> data_config_for("digits").dataset, data_config_for("digits").max_per_class
    ('digits', 100)
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Optional, Union

import pandas as pd

from lepton_widgets.config import DataConfig
from lepton_widgets.core.data.audio.loaders import AUDIO_EXTENSIONS
from lepton_widgets.core.data.registry import list_datasets
from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.data.user_files import CSV_COLUMNS, IMAGE_EXTENSIONS
from lepton_widgets.core.tasks.tabular.read import read_csv_file
from lepton_widgets.core.tasks.tabular.schema import missing_column_message
from lepton_widgets.core.tasks.text.data import TEXT_SUFFIX, _text_column

#: Class-column names a CSV is read with when no ``target`` is given (compared ignoring case).
TARGET_NAMES = ("label", "class", "target", "y", "outcome")
#: A kind of file wins a folder when it is at least this share of the files it holds; the others are reported
#: as skipped by the loader. Below it the folder mixes kinds and the user must say which one they mean.
MAJORITY = 0.9
#: A CSV column holds free text (not categories) when its values are mostly distinct and have several words.
FREE_TEXT_DISTINCT = 0.5
FREE_TEXT_WORDS = 3.0

#: kind of file -> (folder dataset, zip dataset or None, what people call it)
_KINDS = {"image": ("folder", "zip", "images"), "audio": ("wav_folder", "wav_zip", ".wav sounds"),
          "text": ("text_folder", None, ".txt texts")}
_EXPECTED = ("a built-in dataset's name, a folder with one subfolder per class (of images, .wav sounds or .txt "
             "texts), a .zip of such a folder, or a .csv file")


def data_config_for(data: Union[str, Path, DataConfig], *, target: Optional[str] = None) -> DataConfig:
    """The DataConfig for ``data``: a built-in dataset's name or a path (see the module docstring).

    ``target`` names a CSV's class column (a table's or a text CSV's; a built-in table's default otherwise).
    Raises :class:`DataError` (a ``ValueError``) in plain words when the data cannot be recognised."""
    if isinstance(data, DataConfig):
        return data
    text = str(data).strip()
    if not text:
        raise DataError(f"No data given: name {_EXPECTED}.")
    path = Path(text).expanduser()
    builtins = list_datasets(include_user=False)
    if text in builtins and not path.exists():
        return DataConfig(dataset=text, target=target) if target else DataConfig(dataset=text)
    if not path.exists():
        if os.sep not in text and "/" not in text and not path.suffix:
            raise DataError(f"{text!r} is neither a built-in dataset nor a file or folder here. Built-in datasets: "
                            f"{', '.join(builtins)}.")
        raise DataError(f"{text} was not found (no such file or folder). Give {_EXPECTED}.")
    path = path.resolve()
    if path.is_dir():
        return _own(_folder_kind(path), path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _own(_zip_kind(path), path)
    if suffix == ".csv":
        return _csv_config(path, target)
    return _refuse_file(path)


def _own(dataset: str, path: Path, **fields) -> DataConfig:
    """The user's own data: every example is used (the built-ins' cap is for quick demos)."""
    return DataConfig(dataset=dataset, path=str(path), max_per_class=None, **fields)


# --- folders and zips ------------------------------------------------------------------------------------------

def _kind_of(name: str) -> Optional[str]:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix == TEXT_SUFFIX:
        return "text"
    return None


def _hidden(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"  # what the loaders skip too


def _folder_kind(root: Path) -> str:
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir() and not _hidden(e.name))
    if not classes:
        loose = Counter(filter(None, (_kind_of(e.name) for e in os.scandir(root) if e.is_file())))
        found = f" (it holds {_counted(loose)} directly)" if loose else ""
        raise DataError(f"{root.name} has no class subfolders{found}. Put each class's files in a subfolder named "
                        f"after the class, e.g. {root.name}/cats/1.png and {root.name}/dogs/1.png.")
    kinds = [_kind_of(file) for name in classes for _, dirs, files in _walk(root / name) for file in files]
    counts, others = Counter(filter(None, kinds)), kinds.count(None)
    return _choose(counts, others, f"the folder {root.name} ({len(classes)} class subfolders)", zipped=False)


def _walk(folder: Path):
    """``os.walk`` without hidden files and folders (names only: nothing is opened)."""
    for where, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not _hidden(d)]  # in place: os.walk then skips them
        yield where, dirs, [f for f in files if not _hidden(f)]


def _zip_kind(archive: Path) -> str:
    try:
        with zipfile.ZipFile(archive) as handle:
            names = [info.filename for info in handle.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{archive.name} is not a readable zip file ({error}). Give {_EXPECTED}.") from None
    names = [n for n in names if not any(_hidden(part) for part in PurePosixPath(n).parts)]
    counts = Counter(filter(None, (_kind_of(n) for n in names)))
    others = sum(_kind_of(n) is None for n in names)
    return _choose(counts, others, f"the zip {archive.name}", zipped=True)


def _choose(counts: Counter, others: int, where: str, *, zipped: bool) -> str:
    """The dataset for the kind of file that makes up (nearly) all of ``where``, or a DataError saying why not."""
    if not counts:
        extra = f" ({others} file(s) of other types)" if others else ""
        raise DataError(f"{where} holds no images, .wav sounds or .txt texts{extra}. Expected one subfolder per "
                        f"class holding images (jpg, png, bmp, gif, webp), .wav sounds or .txt texts.")
    (kind, top), total = counts.most_common(1)[0], sum(counts.values())
    if top < MAJORITY * total:
        raise DataError(f"{where} mixes kinds of files: {_counted(counts)}. Auto learns from one kind at a time: "
                        f"keep only the images, only the sounds or only the texts in it.")
    folder_name, zip_name, words = _KINDS[kind]
    if zipped and zip_name is None:
        raise DataError(f"{where} holds {words}: a zip of texts is not read directly. Unzip it and give the folder "
                        f"(one subfolder of .txt files per class).")
    return zip_name if zipped else folder_name


def _counted(counts: Counter) -> str:
    words = {"image": "image(s)", "audio": ".wav sound(s)", "text": ".txt text(s)"}
    return ", ".join(f"{n} {words[k]}" for k, n in counts.most_common())


# --- CSV files -------------------------------------------------------------------------------------------------

def _csv_config(path: Path, target: Optional[str]) -> DataConfig:
    frame, _, _ = read_csv_file(path)  # its own clear errors: empty, binary, not UTF-8, too big
    columns = [str(c) for c in frame.columns]
    lowered = {c.strip().lower(): c for c in columns}
    images_listed = target is None or target.strip().lower() == "label"  # the csv loader's class column
    if images_listed and all(name in lowered for name in CSV_COLUMNS) and _lists_images(frame[lowered["path"]]):
        return _own("csv", path)
    label = _target_column(columns, target, path.name)
    text = _free_text_column(frame, label, path.name)
    return _own("text_csv" if text else "table_csv", path, target=label)


def _lists_images(paths: pd.Series) -> bool:
    """Whether a ``path`` column names image files (the ``csv`` loader's format), not some other value."""
    written = [str(v).strip() for v in paths.dropna() if str(v).strip()]
    return bool(written) and sum(_kind_of(v) == "image" for v in written) >= MAJORITY * len(written)


def _target_column(columns: list[str], target: Optional[str], source: str) -> str:
    if target is not None:
        if target not in columns:
            raise DataError(missing_column_message(target, columns, "class column", source))
        return target
    for name in TARGET_NAMES:
        found = [c for c in columns if c.strip().lower() == name]
        if found:
            return found[0]
    shown = ", ".join(repr(c) for c in columns[:40]) + (f", ... ({len(columns)} in all)" if len(columns) > 40 else "")
    raise DataError(f"{source}: which column holds the class to learn? None is named {', '.join(TARGET_NAMES)}. "
                    f"Its columns are: {shown}. Name the class column (lepton auto ... --target COLUMN).")


def _free_text_column(frame: pd.DataFrame, target: str, source: str) -> Optional[str]:
    """The text CSV's text column when ``frame`` holds free text (the ``text_csv`` loader's own rule picks
    it), else ``None``: a table, whose text columns are categories (few distinct values, or short ones)."""
    if "text" in frame.columns and target != "text":
        return "text"
    free = [c for c in frame.columns if c != target and _is_free_text(frame[c])]
    if len(free) != 1:
        return None  # none, or several: a table (the tabular reader handles text columns as categories)
    try:
        column = _text_column(frame, target, source)
    except DataError:
        return None  # other text-like columns beside it: the text loader would refuse it, so a table
    return column if column == free[0] else None


def _is_free_text(series: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    values = series.dropna().astype(str).str.strip()
    values = values[values != ""]
    if len(values) == 0:
        return False
    distinct = values.nunique() / len(values)
    words = values.str.split().str.len().mean()
    return distinct >= FREE_TEXT_DISTINCT and words >= FREE_TEXT_WORDS


def _refuse_file(path: Path) -> DataConfig:
    kind = _kind_of(path.name)
    if kind is not None:
        words = _KINDS[kind][2]
        raise DataError(f"{path.name} is a single file; Auto learns from many labelled examples. Put your {words} "
                        f"in a folder with one subfolder per class (e.g. data/cats/, data/dogs/) and give the "
                        f"folder.")
    raise DataError(f"{path.name}: files of type {path.suffix or '(no extension)'} are not data Auto can read. "
                    f"Give {_EXPECTED}.")


__all__ = ["TARGET_NAMES", "data_config_for"]
