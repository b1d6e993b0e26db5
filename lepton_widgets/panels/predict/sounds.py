"""Predict view for sound models: one card per uploaded WAV, with the spectrogram the model saw, a player and
what was changed to fit it (resampled, cut, padded).

Example:
    >>> from types import SimpleNamespace
    >>> failed = SimpleNamespace(name="hum.wav", error="not a WAV file", top=[], overlay=None, sound=None)
    >>> sound_card(failed).children[1].value.startswith("<div class='lepton-predict-error'")
    True
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.core.tasks.image.previews import to_png
from lepton_widgets.panels.predict.common import SHOW_PX, bars_html, error_line, name_caption
from lepton_widgets.panels.style import card_layout


def sound_card(prediction) -> w.Widget:
    """Name, the spectrogram the model saw (and its Grad-CAM), a player, what was changed, top-3 bars."""
    from lepton_widgets.core.data.audio import N_FRAMES

    caption = name_caption(prediction.name)
    if prediction.error is not None:
        items = [caption, error_line(prediction.error)]
    else:
        width = round(SHOW_PX * N_FRAMES / prediction.spectrogram.shape[0])  # keep the picture's proportions
        spectrogram = w.Image(value=to_png(prediction.spectrogram, min_side=SHOW_PX), format="png", width=width,
                              height=SHOW_PX)
        spectrogram.add_class("lepton-spectrogram")
        pictures = [spectrogram]
        if prediction.overlay is not None:
            overlay = w.Image(value=to_png(prediction.overlay, min_side=SHOW_PX), format="png", width=SHOW_PX,
                              height=SHOW_PX)
            overlay.add_class("lepton-gradcam")
            pictures.append(overlay)
        items = [caption, w.HBox(pictures)]
        if prediction.sound:
            items.append(w.Audio(value=prediction.sound, format="wav", autoplay=False, loop=False,
                                 layout=w.Layout(width=f"{width}px")))
        if prediction.note:
            items.append(w.HTML(f"<div style='color:#555;font-size:11px;max-width:{width}px'>"
                                f"{html.escape(prediction.note)}</div>"))
        items.append(w.HTML(bars_html(prediction.top)))
    box = w.VBox(items, layout=card_layout())
    box.add_class("lepton-predict-item")
    return box
