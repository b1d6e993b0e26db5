"""Predict view for table models: the first rows of the uploaded CSV with their predictions, and where the full
predictions were saved (with a download link when the file is small enough to carry in the page).

Example:
    >>> import pandas as pd
    >>> "the first 1 of 5 rows" in _table_html(pd.DataFrame({"label": ["a"], "confidence": [0.9]}), 5)
    True
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import ipywidgets as w

from lepton_widgets.i18n import _

TABLE_ROWS = 10          # rows of an uploaded table shown in the panel (all of them are saved)
MAX_DOWNLOAD_BYTES = 5 * 2**20  # bigger prediction files are offered by path only (a link carries the bytes)


def table_view(result) -> w.Widget:
    """The preview of a :class:`~lepton_widgets.core.predict.any_modality.TablePredictions` and its saved file."""
    preview = w.HTML(_table_html(result.preview(TABLE_ROWS), len(result.frame)))
    preview.add_class("lepton-predict-table")
    saved = w.HTML(_saved_html(result.saved))
    saved.add_class("lepton-predict-saved")
    return w.VBox([preview, saved])


def _table_html(preview, total: int) -> str:
    shown = (_("Predictions for the first {shown} of {total} rows").format(shown=len(preview), total=total)
             if total > len(preview) else _("Predictions for all {total} rows").format(total=total))
    table = preview.to_html(index=False, escape=True, float_format=lambda x: f"{x:.3f}", border=0)
    columns = _("(label, confidence, the probability of each class, then your columns):")
    return (f"<div style='font-size:12px;color:#555'>{html.escape(shown)} {html.escape(columns)}</div>"
            f"<div style='max-width:100%;overflow-x:auto;font-size:12px'>{table}</div>")


def _saved_html(saved: Path) -> str:
    line = _("All predictions are saved to {path}").format(path=f"<code>{html.escape(str(saved))}</code>")
    size = saved.stat().st_size if saved.is_file() else 0
    if 0 < size <= MAX_DOWNLOAD_BYTES:  # a data link carries the file itself: only for reasonable sizes
        data = base64.b64encode(saved.read_bytes()).decode("ascii")
        line += (f" &middot; <a download='{html.escape(saved.name)}' href='data:text/csv;base64,{data}'>"
                 + html.escape(_("download")) + "</a>")
    return f"<div style='font-size:12px'>{line}.</div>"
