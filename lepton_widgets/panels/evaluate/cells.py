"""The Evaluate step's view of one confusion-matrix cell: thumbnails (with Grad-CAM) for image and sound runs,
the test rows for table runs, the texts for text runs.

The panel side of the task registry: the run's task gives the cell's examples
(:meth:`~lepton_widgets.core.tasks.base.Task.cell_examples`), and :func:`cell_view_for` picks the view that
draws them, by the task's family. Nothing else in the Evaluate panel depends on the kind of data.

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
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.style import card_layout

THUMB_PX = 96
#: Headers of a cell's rows shown to people (the data's own columns keep their names).
ROW_HEADERS = {"ref": N_("row"), "true": N_("true class"), "predicted": N_("predicted class"),
               "confidence": N_("confidence"), "text": N_("text")}


class PicturesCell:
    """A picture or sound run's cell: thumbnails of its test images, each with its Grad-CAM overlay."""

    note = N_("examples with Grad-CAM (where the network looked).")
    unreadable = N_("could not load the images")

    def show(self, panel, items, heading: str, count: int) -> None:
        items = panel.gallery_items = list(items or [])
        more = _(", showing the {count} most confident").format(count=len(items)) if count > len(items) else ""
        panel.gallery_title.value = heading + more + (
            html.escape(_(". Right image: Grad-CAM for the predicted class.")) if items else ".")
        panel.gallery.children = [thumbnail(item) for item in items]


class RowsCell:
    """A table or text run's cell: its test rows (most confident first) with the values or text the model read."""

    note = N_("test rows with their values.")
    unreadable = N_("could not read the rows")

    def show(self, panel, rows, heading: str, count: int) -> None:
        panel.gallery_items = []
        panel.gallery_title.value = heading + (_(", showing the {count} most confident").format(count=len(rows))
                                               if rows is not None and count > len(rows) else "")
        panel.gallery.children = [rows_view(rows)] if rows is not None else []


#: Task family -> how its cells are drawn (sounds share the pictures' family).
CELL_VIEWS = {"image": PicturesCell(), "text": RowsCell(), "tabular": RowsCell()}


def cell_view_for(task):
    """The cell view of ``task`` (a :class:`~lepton_widgets.core.tasks.base.Task`), by its family."""
    return CELL_VIEWS.get(task.family) or CELL_VIEWS["image"]


def thumbnail(item: GalleryItem) -> w.Widget:
    """A picture run's test image, its Grad-CAM overlay and the true and predicted class."""
    images = [w.Image(value=to_png(item.image, min_side=None), format="png", width=THUMB_PX, height=THUMB_PX)]
    if item.overlay is not None:
        overlay = w.Image(value=to_png(item.overlay, min_side=None), format="png", width=THUMB_PX, height=THUMB_PX)
        overlay.add_class("lepton-gradcam")
        images.append(overlay)
    caption = w.HTML(f"<div style='font-size:11px;max-width:{2 * THUMB_PX + 8}px;overflow-wrap:anywhere'>"
                     f"{html.escape(item.ref)}<br>"
                     + html.escape(_("true {true}, predicted {predicted} ({confidence})").format(
                         true=item.true, predicted=item.predicted, confidence=f"{item.confidence:.0%}"))
                     + "</div>")
    box = w.VBox([w.HBox(images), caption], layout=card_layout("4px"))
    box.add_class("lepton-gallery-item")
    return box


def rows_view(rows) -> w.Widget:
    """A table or text run's cell: its rows (a DataFrame, most confident first) as a scrollable table."""
    rows = rows.rename(columns={key: _(label) for key, label in ROW_HEADERS.items()})
    table = w.HTML(rows.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="",
                                classes=["lepton-table", "lepton-cell-rows"], border=0))
    return w.Box([table], layout=w.Layout(max_width="100%", overflow="auto"))
