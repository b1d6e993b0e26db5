"""The Evaluate step's view of one confusion-matrix cell: thumbnails (with Grad-CAM) for image and sound runs,
the test rows for table runs, the texts for text runs.

Example:
    >>> import pandas as pd
    >>> "lepton-cell-rows" in rows_view(pd.DataFrame({"text": ["fine"], "confidence": [0.9]})).children[0].value
    True
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.core.tasks.image.gallery import GalleryItem
from lepton_widgets.core.tasks.image.previews import to_png
from lepton_widgets.core.runs.store import RunRecord
from lepton_widgets.core.tasks.tabular import cell_rows, is_tabular_run
from lepton_widgets.core.tasks.text import cell_texts, is_text_run
from lepton_widgets.panels.style import card_layout

THUMB_PX = 96


def row_lister(record: RunRecord):
    """How a run's confusion-matrix cell is listed when it has no pictures: rows of a table, texts; else None."""
    if is_tabular_run(record):
        return cell_rows
    if is_text_run(record):
        return cell_texts
    return None


def thumbnail(item: GalleryItem) -> w.Widget:
    """A picture run's test image, its Grad-CAM overlay and the true and predicted class."""
    images = [w.Image(value=to_png(item.image, min_side=None), format="png", width=THUMB_PX, height=THUMB_PX)]
    if item.overlay is not None:
        overlay = w.Image(value=to_png(item.overlay, min_side=None), format="png", width=THUMB_PX, height=THUMB_PX)
        overlay.add_class("lepton-gradcam")
        images.append(overlay)
    caption = w.HTML(f"<div style='font-size:11px;max-width:{2 * THUMB_PX + 8}px;overflow-wrap:anywhere'>"
                     f"{html.escape(item.ref)}<br>true {html.escape(item.true)}, predicted "
                     f"{html.escape(item.predicted)} ({item.confidence:.0%})</div>")
    box = w.VBox([w.HBox(images), caption], layout=card_layout("4px"))
    box.add_class("lepton-gallery-item")
    return box


def rows_view(rows) -> w.Widget:
    """A table or text run's cell: its rows (a DataFrame, most confident first) as a scrollable table."""
    table = w.HTML(rows.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="",
                                classes=["lepton-table", "lepton-cell-rows"], border=0))
    return w.Box([table], layout=w.Layout(max_width="100%", overflow="auto"))
