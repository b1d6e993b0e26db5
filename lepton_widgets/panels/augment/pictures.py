"""The Augment step's preview for pictures and sounds: a few samples, each with augmented copies made by the same
Keras layers as training (:func:`lepton_widgets.core.tasks.image.augment.preview`; a sound is its spectrogram).

Samples come from the checked data (``session.prepared``) when there is one, otherwise from a small built-in set
of the chosen dataset (the Fashion-MNIST sample stands in for the full set and for your own images until they
are checked). Drawing is debounced and runs in a background thread, because the first call builds the layers.

Example:
    >>> from lepton_widgets.config import AugmentConfig
    >>> from lepton_widgets.state import Session
    >>> preview = PicturePreview(Session(dataset="digits"), n_images=2, copies=2, size=32)
    >>> preview.request(AugmentConfig(rotation=0.1), seed=0, source="digits"); preview.wait(60)
    True
    >>> "digits" in preview.caption.value, len(preview.originals[0].value) > 0
    (True, True)
"""

from __future__ import annotations

import html
from typing import Callable, Optional

import ipywidgets as w
import numpy as np

from lepton_widgets.config import AugmentConfig
from lepton_widgets.core.tasks.image.augment import preview
from lepton_widgets.core.tasks.image.previews import quick_table, sample_batch, to_png
from lepton_widgets.i18n import _
from lepton_widgets.panels._background import Latest

#: The settings this preview shows (the picture and sound tasks' augmentations).
PICTURE_FIELDS = ("rotation", "zoom", "translation", "contrast", "brightness")
SOUND_FIELDS = ("time_mask", "freq_mask", "time_shift", "gain_db", "noise")


class PicturePreview:
    """The grid (:attr:`grid`: a row per sample, original then copies) and its :attr:`caption`.

    ``on_failed(error)`` is told when a preview cannot be drawn."""

    def __init__(self, session, n_images: int = 3, copies: int = 4, size: int = 64, debounce_s: float = 0.0,
                 on_failed: Optional[Callable[[Exception], None]] = None):
        self.session, self.n_copies, self.size = session, copies, size
        self.on_failed = on_failed
        self._samples_key: Optional[tuple] = None
        self._samples: Optional[tuple[np.ndarray, str]] = None
        self._previews = Latest(delay=debounce_s)
        self.caption = w.HTML()
        self.originals = [self._image() for _ in range(n_images)]
        self.copies = [[self._image() for _ in range(copies)] for _ in range(n_images)]
        cells = [w.HTML("<b>" + html.escape(_("original")) + "</b>")] + [
            w.HTML("<b>" + html.escape(_("copy {number}").format(number=c + 1)) + "</b>") for c in range(copies)]
        for original, row in zip(self.originals, self.copies):
            cells += [original] + row
        self.grid = w.GridBox(cells, layout=w.Layout(
            grid_template_columns=f"repeat({copies + 1}, {size + 8}px)", grid_gap="4px"))
        self.grid.add_class("lepton-augment-preview")
        self.caption.add_class("lepton-augment-caption")

    def _image(self) -> w.Image:
        return w.Image(format="png", layout=w.Layout(width=f"{self.size}px", height=f"{self.size}px"))

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the grid shows the last request (tests, scripts)."""
        return self._previews.wait(timeout)

    def request(self, cfg: AugmentConfig, seed: int, source) -> None:
        """Draw ``cfg``'s copies of samples of ``source`` (a dataset name or checked ``PreparedData``)."""
        self._previews.request(lambda: self._compute(cfg, seed, source), self._show, self._failed)

    def _compute(self, cfg: AugmentConfig, seed: int, source) -> tuple[str, list[bytes], list[list[bytes]]]:
        images, caption = self._samples_for(source)
        augmented = preview(images, cfg, seed, copies=self.n_copies)   # (copies, N, H, W, 3) uint8
        originals = [to_png(img) for img in images.clip(0, 255).astype(np.uint8)]
        copies = [[to_png(augmented[c, i]) for c in range(self.n_copies)] for i in range(len(images))]
        return caption, originals, copies

    def _samples_for(self, source) -> tuple[np.ndarray, str]:
        # PreparedData by identity (comparing it would compare DataFrames); holding it keeps the id unique.
        key = (source if isinstance(source, str) else id(source), self.session.seed)
        if key != self._samples_key:
            self._samples_ref = source
            if isinstance(source, str):
                table, name = quick_table(source, self.session.seed)
                caption = _("Samples from {dataset}").format(dataset=name)
                if name != source:
                    caption = _("Samples from {dataset}, standing in for {chosen} until Check data has run on "
                                "the Data step").format(dataset=name, chosen=source)
            else:
                table, caption = source.table, _("Samples from the checked data")
            self._samples = (sample_batch(table, len(self.originals), self.size, self.session.seed), caption)
            self._samples_key = key
        return self._samples

    def _show(self, result) -> None:
        caption, originals, copies = result
        self.caption.value = f"<i>{html.escape(caption)}</i>"
        for i, image in enumerate(self.originals):
            image.value = originals[i] if i < len(originals) else b""
        for i, row in enumerate(self.copies):
            for c, image in enumerate(row):
                image.value = copies[i][c] if i < len(copies) else b""

    def _failed(self, error: Exception) -> None:
        if self.on_failed is not None:
            self.on_failed(error)
