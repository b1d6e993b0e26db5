"""Column types of a table, how they are inferred, and how raw columns become model inputs.

Every column except the target is a feature of one kind:

* ``numeric``: normalised with the train split's mean and variance; a missing value becomes the train
  mean (0 after normalising) and, in a column that has missing values anywhere, a ``was missing``
  indicator input is added so the model can still tell;
* ``categorical``: looked up in the train split's vocabulary and one-hot encoded; every value unseen in
  train (at predict time too) falls into one out-of-vocabulary (OOV) slot, and a missing value is the
  empty string, a category of its own;
* ``drop``: not used (the report says why).

Inference rule (:func:`infer_column_types`), per column, on the non-missing values:

1. no value at all, or one single value: ``drop`` (empty / constant columns carry no information);
2. numbers (or text that all parses as numbers): ``numeric``, except whole numbers with at most
   :data:`MAX_INTEGER_CATEGORIES` distinct values, each seen twice on average (codes, ratings, counts
   like 1-4), which are ``categorical``;
3. booleans and other text: ``categorical``, except text where every value differs in a table of 20
   rows or more (an identifier, such as a customer number), which is ``drop``.

``column_types={"column": "numeric" | "categorical" | "drop"}`` overrides the rule for named columns.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": [21, 35, 47, 52, 33, 60], "rating": [1, 2, 1, 3, 2, 1],
    ...                       "city": list("abacba"), "country": ["x"] * 6, "y": ["no", "yes"] * 3})
    >>> columns, dropped = infer_column_types(frame, "y")
    >>> columns
    {'age': 'numeric', 'rating': 'categorical', 'city': 'categorical'}
    >>> dropped["country"]
    "constant: every row is 'x'"
    >>> category_strings(pd.Series([1.0, None, "b"])).tolist()
    ['1', '', 'b']
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from lepton_widgets.core.data.table import DataError

NUMERIC, CATEGORICAL, DROP = "numeric", "categorical", "drop"
KINDS = (NUMERIC, CATEGORICAL, DROP)
#: Whole-number columns with at most this many distinct values are treated as categories.
MAX_INTEGER_CATEGORIES = 10
#: Text columns where every value differs are identifiers once the table has this many rows.
MIN_ROWS_FOR_IDENTIFIER = 20
#: How a missing categorical value is spelled inside the model.
MISSING_CATEGORY = ""


def close_matches(name: str, options: list[str]) -> list[str]:
    """Column names close to ``name`` (case-insensitive equality first): the "did you mean" list."""
    same_case = [o for o in options if o.lower() == name.lower()]
    lowered = {o.lower(): o for o in options}
    fuzzy = [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    return list(dict.fromkeys(same_case + fuzzy))


def missing_column_message(name: str, columns: list[str], what: str, where: str) -> str:
    """``what 'name' not found in where; columns: ...; did you mean ...?``"""
    hint = close_matches(name, columns)
    shown = ", ".join(repr(c) for c in columns[:40]) + (f", ... ({len(columns)} in all)" if len(columns) > 40 else "")
    message = f"{what} {name!r} not found in {where}; its columns are: {shown}"
    if hint:
        message += f". Did you mean {' or '.join(repr(h) for h in hint)}?"
    return message


def _is_whole(values: pd.Series) -> bool:
    return bool(np.all(np.mod(values.to_numpy(dtype=np.float64), 1.0) == 0))


def _infer_one(series: pd.Series, n_rows: int) -> tuple[str, str]:
    """(kind, reason) for one column; ``reason`` explains a ``drop`` or a notable choice."""
    values = series.dropna()
    if len(values) and not pd.api.types.is_numeric_dtype(values):
        values = values[values.astype(str).str.strip() != ""]
    if len(values) == 0:
        return DROP, "empty: every value is missing"
    distinct = values.nunique()
    if distinct == 1:
        return DROP, f"constant: every row is {values.iloc[0]!r}"
    if pd.api.types.is_bool_dtype(values):
        return CATEGORICAL, ""
    numbers = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        if _is_whole(numbers) and distinct <= MAX_INTEGER_CATEGORIES and distinct * 2 <= len(values):
            return CATEGORICAL, f"whole numbers with {distinct} distinct values"
        return NUMERIC, ""
    if distinct == len(values) and n_rows >= MIN_ROWS_FOR_IDENTIFIER:
        return DROP, "identifier: every value differs"
    return CATEGORICAL, ""


def infer_column_types(frame: pd.DataFrame, target: str,
                       overrides: Optional[dict[str, str]] = None) -> tuple[dict[str, str], dict[str, str]]:
    """``({feature: numeric|categorical}, {dropped column: reason})`` by the module's rule and ``overrides``.

    Raises :class:`DataError` for an override naming a column that does not exist, an unknown kind, or
    ``numeric`` on a column whose values are not numbers.
    """
    overrides = dict(overrides or {})
    features = [c for c in frame.columns if c != target]
    for name, kind in overrides.items():
        if name not in features:
            raise DataError(missing_column_message(name, features, "column_types names column", "the table"))
        if kind not in KINDS:
            raise DataError(f"column_types[{name!r}] must be one of {KINDS}, got {kind!r}")
    columns: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name in features:
        if name in overrides:
            kind, reason = overrides[name], "set by column_types"
            if kind == NUMERIC:
                raw = frame[name].dropna()
                bad = raw[pd.to_numeric(raw, errors="coerce").isna()]
                if len(bad):
                    raise DataError(f"column_types[{name!r}] is 'numeric' but the column holds text such as "
                                    f"{bad.astype(str).unique()[:3].tolist()}")
        else:
            kind, reason = _infer_one(frame[name], len(frame))
        if kind == DROP:
            dropped[name] = reason
        else:
            columns[name] = kind
    return columns, dropped


def category_strings(series: pd.Series) -> pd.Series:
    """Category values as the strings the model looks up: whole floats lose their ``.0`` (a column of codes
    read with a missing value becomes float), missing values become :data:`MISSING_CATEGORY`."""
    def one(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return MISSING_CATEGORY
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return series.astype(object).map(one)


def numeric_values(series: pd.Series) -> np.ndarray:
    """A numeric column as float32; text that is not a number becomes NaN (imputed like a missing value)."""
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float32)


def _input_names(columns: list[str]) -> dict[str, str]:
    """A Keras-safe, unique input name for each column (the dict keys of the model's inputs)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", column).strip("_")[:48] or "column"
        name, i = base, 2
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        taken.add(name)
        names[column] = name
    return names


@dataclass
class TableSchema:
    """What a tabular model expects: the target, the classes and each feature column's kind.

    ``missing_indicators`` lists numeric columns with missing values somewhere in the data: each gets a
    ``was missing`` input next to its value. ``inputs`` maps each column to the model's input name.
    """

    target: str
    class_names: list[str]
    columns: dict[str, str]
    dropped: dict[str, str] = field(default_factory=dict)
    missing_indicators: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.inputs:
            self.inputs = _input_names(list(self.columns))

    @property
    def numeric(self) -> list[str]:
        return [c for c, kind in self.columns.items() if kind == NUMERIC]

    @property
    def categorical(self) -> list[str]:
        return [c for c, kind in self.columns.items() if kind == CATEGORICAL]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "TableSchema":
        return cls(**raw)

    def model_inputs(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw columns of ``frame`` as the model's input dict (``(n, 1)`` arrays); extra columns are ignored.

        Raises :class:`DataError` naming the feature columns ``frame`` lacks.
        """
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise DataError(f"the table lacks {len(absent)} column(s) the model needs: "
                            f"{', '.join(map(repr, absent))}; it has: {', '.join(map(repr, frame.columns))}")
        out: dict[str, np.ndarray] = {}
        for column, kind in self.columns.items():
            if kind == NUMERIC:
                out[self.inputs[column]] = numeric_values(frame[column]).reshape(-1, 1)
            else:
                out[self.inputs[column]] = category_strings(frame[column]).to_numpy(dtype=str).reshape(-1, 1)
        return out
