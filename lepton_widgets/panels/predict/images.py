"""Predict view for image models: one card per uploaded image, with the Grad-CAM map beside it when there is one.

Example:
    >>> from types import SimpleNamespace
    >>> failed = SimpleNamespace(name="notes.txt", error="not an image", top=[], image=None, overlay=None)
    >>> "lepton-predict-item" in image_card(failed)._dom_classes
    True
"""

from __future__ import annotations

import ipywidgets as w

from lepton_widgets.core.tasks.image.previews import to_png
from lepton_widgets.panels.predict.common import SHOW_PX, bars_html, error_line, name_caption
from lepton_widgets.panels.style import card_layout


def image_card(prediction) -> w.Widget:
    """Name, the image (and its Grad-CAM overlay), top-3 bars; or the reason it was not predicted."""
    caption = name_caption(prediction.name)
    if prediction.error is not None:
        items = [caption, error_line(prediction.error)]
    else:
        images = [w.Image(value=to_png(prediction.image, min_side=SHOW_PX), format="png", width=SHOW_PX,
                          height=SHOW_PX)]
        if prediction.overlay is not None:
            overlay = w.Image(value=to_png(prediction.overlay, min_side=SHOW_PX), format="png", width=SHOW_PX,
                              height=SHOW_PX)
            overlay.add_class("lepton-gradcam")
            images.append(overlay)
        items = [caption, w.HBox(images), w.HTML(bars_html(prediction.top))]
    box = w.VBox(items, layout=card_layout())
    box.add_class("lepton-predict-item")
    return box
