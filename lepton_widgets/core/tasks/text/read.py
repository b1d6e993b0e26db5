"""Read text files without surprises and without ever writing to them.

* UTF-8 (a byte-order mark is dropped) is read as is.
* Bytes that are not UTF-8 are read as Latin-1 (ISO-8859-1 maps every byte to a character, so old
  Windows/Excel exports of accented text still load); the caller reports it (status ``converted``,
  ``not UTF-8 ...``), so the user can check the accents.
* A file with NUL bytes anywhere is binary (a PDF or Word file renamed ``.txt``): :class:`NotText`, the
  whole file is skipped (a NUL at the end is no different from one at the start).
* A file over ``limits.MAX_TEXT_BYTES`` is not read (:class:`NotText`, the size checked before reading).

CSV files go through ``core/tasks/tabular/read.py``'s :func:`read_csv_file`, which has the same rule and also
finds ``;``- and tab-separated files.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "review.txt"
    >>> _ = path.write_bytes("Caf\\xe9 au lait, tr\\xe8s bon".encode("latin-1"))
    >>> read_text_file(path)
    ('Café au lait, très bon', 'not UTF-8 (first bad byte at offset 3): read as Latin-1')
"""

from __future__ import annotations

from pathlib import Path

from lepton_widgets.core.base import limits


class NotText(ValueError):
    """The file is not a text file; the message says why."""


def decode_text(raw: bytes) -> tuple[str, str]:
    """``(text, note)``; ``note`` is empty for UTF-8 and says where the first bad byte was otherwise."""
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise NotText(f"binary file (it contains NUL bytes, the first at offset {nul}), not plain text")
    try:
        return raw.decode("utf-8-sig"), ""
    except UnicodeDecodeError as error:
        return raw.decode("latin-1"), f"not UTF-8 (first bad byte at offset {error.start}): read as Latin-1"


def read_text_file(path: str | Path) -> tuple[str, str]:
    """The text of ``path`` and a note (see :func:`decode_text`); :class:`NotText` for binary or too large
    files (the size is checked before anything is read)."""
    path = Path(path)
    size = path.stat().st_size
    if size > limits.MAX_TEXT_BYTES:
        raise NotText(f"file too large ({size:,} bytes; a text file may be at most {limits.MAX_TEXT_BYTES:,} bytes, "
                      f"LEPTON_MAX_TEXT_BYTES)")
    return decode_text(path.read_bytes())
