"""Read a CSV file into a DataFrame without surprises, and without ever writing to it.

* An empty file, a header without rows, or a binary file is a :class:`DataError` that says so.
* Text that is not UTF-8 is read as Latin-1 (ISO-8859-1, which maps every byte to a character, so
  Excel-on-Windows exports of accented names load) and a warning says where the first non-UTF-8 byte
  was, so the user can check accented values. A UTF-8 byte-order mark is dropped.
* A file that parses as one single column whose header holds ``;`` or a tab is re-read with that
  separator (European Excel writes ``;``), with a note.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_bytes("name;city\\nJos\\xe9;M\\xe1laga\\n".encode("latin-1"))
    >>> frame, notes, warnings = read_csv_file(path)
    >>> frame.iloc[0].tolist(), notes[0].split(":")[0], warnings[0].split(";")[0]
    (['José', 'Málaga'], 'separator', 't.csv is not UTF-8 (first bad byte at line 2)')
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from lepton_widgets.core.data.table import DataError


def _decode(raw: bytes, name: str) -> tuple[str, list[str]]:
    if b"\x00" in raw[:8192]:
        raise DataError(f"{name} looks like a binary file (it contains NUL bytes), not a CSV text file; "
                        f"save it as CSV (comma-separated values) and try again")
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        warning = (f"{name} is not UTF-8 (first bad byte at line {line}); it was read as Latin-1 (ISO-8859-1). "
                   f"Check accented values, or save the file as UTF-8 to be sure.")
        return raw.decode("latin-1"), [warning]


def read_csv_file(path: str | Path) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``(frame, notes, warnings)`` of the CSV at ``path``; :class:`DataError` when it cannot be used."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"CSV file {str(path)!r} not found" + (" (it is a folder)" if path.is_dir() else ""))
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path.name} is empty: a table needs a header line and at least one row")
    text, warnings = _decode(raw, path.name)
    notes: list[str] = []
    try:
        frame = pd.read_csv(io.StringIO(text), skipinitialspace=True)
        header = text.splitlines()[0]
        if frame.shape[1] == 1:
            for separator, label in ((";", "semicolon"), ("\t", "tab")):
                if separator in header:
                    frame = pd.read_csv(io.StringIO(text), sep=separator, skipinitialspace=True)
                    notes.append(f"separator: {path.name} is {label}-separated; read it that way.")
                    break
    except pd.errors.EmptyDataError:
        raise DataError(f"{path.name} has no header line: a table needs column names on its first line") from None
    except (pd.errors.ParserError, csv.Error) as error:
        raise DataError(f"{path.name} is not a well-formed CSV file: {error}") from None
    if len(frame) == 0:
        raise DataError(f"{path.name} has a header ({', '.join(map(str, frame.columns))}) but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, notes, warnings
