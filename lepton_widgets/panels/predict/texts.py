"""Predict view for text models: one row per text, the text (cut at 300 characters) beside its top-3 bars.

Example:
    >>> from types import SimpleNamespace
    >>> view = text_rows([SimpleNamespace(text="what a lovely film", top=[("positive", 0.8)])])
    >>> len(view.children), "lepton-predict-text-row" in view.children[0]._dom_classes
    (1, True)
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.panels.predict.common import bars_html


def text_rows(predictions) -> w.Widget:
    """All the texts' rows, one under the other."""
    return w.VBox([_text_row(p) for p in predictions])


def _text_row(prediction) -> w.Widget:
    shown = prediction.text if len(prediction.text) <= 300 else prediction.text[:300].rstrip() + " ..."
    text = w.HTML(f"<div style='font-size:12px;width:380px;overflow-wrap:anywhere'>{html.escape(shown)}</div>")
    row = w.HBox([text, w.HTML(bars_html(prediction.top))],
                 layout=w.Layout(padding="4px 0", border_bottom="1px solid #eee", align_items="center"))
    row.add_class("lepton-predict-text-row")
    return row
