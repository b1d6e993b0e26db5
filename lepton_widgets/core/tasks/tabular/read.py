"""Read a CSV file into a DataFrame without surprises, and without ever writing to it.

* An empty file, a header without rows, or a binary file is a :class:`DataError` that says so.
* Text that is not UTF-8 is read as Latin-1 (ISO-8859-1, which maps every byte to a character, so
  Excel-on-Windows exports of accented names load) and a warning says where the first non-UTF-8 byte
  was, so the user can check accented values. A UTF-8 byte-order mark is dropped.
* A file that parses as one single column whose header holds ``;`` or a tab is re-read with that
  separator (European Excel writes ``;``), with a note.
* Limits (``core/base/limits.py``) are checked before pandas allocates anything: the file size from ``stat``,
  then the length of every cell and the number of rows while the csv module streams through the text
  (pandas' C parser reads a whole cell before anyone can look at it: one 50 MB cell grew it past 3 GB).
* A NUL byte anywhere refuses the whole file, with the line of the first one: a CSV with NUL bytes is a
  binary or damaged file, and its other rows cannot be trusted either.

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

from lepton_widgets.core.base import limits
from lepton_widgets.core.data.table import DataError


def _decode(raw: bytes, name: str) -> tuple[str, list[str]]:
    nul = raw.find(b"\x00")  # the whole file, not a prefix: a NUL at row 90,000 refuses it like one at row 1
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        utf16 = " (it looks like UTF-16 text: save it as UTF-8)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DataError(f"{name} contains NUL bytes (the first on line {line}), so it is a binary or damaged "
                        f"file, not CSV text{utf16}; the whole file is refused: save it as CSV "
                        f"(comma-separated values) and try again")
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        warning = (f"{name} is not UTF-8 (first bad byte at line {line}); it was read as Latin-1 (ISO-8859-1). "
                   f"Check accented values, or save the file as UTF-8 to be sure.")
        return raw.decode("latin-1"), [warning]


def _check_shape(text: str, name: str) -> None:
    """Stream through ``text`` with the csv module: every cell at most ``limits.MAX_CELL_CHARS`` characters
    and at most ``limits.MAX_TABLE_ROWS`` rows, each stopped at the first offender (nothing is kept)."""
    header = text.split("\n", 1)[0]
    separator = next((s for s in (";", "\t") if "," not in header and s in header), ",")
    previous = csv.field_size_limit(limits.MAX_CELL_CHARS)  # process-wide: restored below
    rows = -1  # the header is not a row
    reader = csv.reader(io.StringIO(text), delimiter=separator, skipinitialspace=True)
    try:
        for cells in reader:
            if cells:  # pandas skips blank lines too
                rows += 1
                if rows > limits.MAX_TABLE_ROWS:
                    raise DataError(f"{name} has more than {limits.MAX_TABLE_ROWS:,} rows, the most a table may "
                                    f"have (LEPTON_MAX_TABLE_ROWS); use a sample of it")
    except csv.Error as error:
        if "field larger than field limit" in str(error):
            raise DataError(f"{name}: the cell on line {reader.line_num} is longer than "
                            f"{limits.MAX_CELL_CHARS:,} characters, the most one cell may hold "
                            f"(LEPTON_MAX_CELL_CHARS); is a quote (\") left open?") from None
        # anything else the csv module dislikes is left to pandas, which says what is wrong
    finally:
        csv.field_size_limit(previous)


def read_csv_file(path: str | Path) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``(frame, notes, warnings)`` of the CSV at ``path``; :class:`DataError` when it cannot be used."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"CSV file {str(path)!r} not found" + (" (it is a folder)" if path.is_dir() else ""))
    size = path.stat().st_size
    if size > limits.MAX_TABLE_BYTES:
        raise DataError(f"{path.name} is {size:,} bytes; a table may be at most {limits.MAX_TABLE_BYTES:,} bytes "
                        f"(LEPTON_MAX_TABLE_BYTES); use a sample of it")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path.name} is empty: a table needs a header line and at least one row")
    text, warnings = _decode(raw, path.name)
    del raw  # only the text is needed from here on
    _check_shape(text, path.name)
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
