"""Augment panel: the training-time augmentations, with a live preview of what they do to real samples.

Each control is linked to its Session trait (``flip``, ``rotation``, ``zoom``, ``translation``,
``contrast``, ``brightness``, for sounds ``time_mask``, ``freq_mask``, ``time_shift``, ``gain_db``,
``noise``, and for texts ``word_dropout``, ``word_swap``, ``word_substitute``); slider ranges are the config's own (0..1, gain
0..40 dB), so a loaded config is never clamped by a widget. The sound and text controls show only for
audio and text datasets; texts get a before/after preview of example sentences instead of pictures.
The preview runs the same Keras layers as training (:func:`lepton_widgets.core.tasks.image.augment.preview`) on a
few samples: from the checked data (``session.prepared``) when there is one, otherwise from a small
built-in set of the chosen dataset (the Fashion-MNIST sample stands in for the full set and for your own
images until they are checked).

Redrawing is debounced (sliders report on release, and a burst of changes within
:attr:`AugmentPanel.DEBOUNCE_S` redraws once) and runs in a background thread, because the first call
builds the Keras layers. The preview seed is fixed, so the same settings give the same pictures; "New
random copies" draws others.

Example:
    >>> from lepton_widgets.state import Session
    >>> session = Session(dataset="digits")
    >>> panel = AugmentPanel(session)
    >>> panel.controls["rotation"].value = 0.1
    >>> session.rotation
    0.1
    >>> panel.wait(60)
    True
"""

from __future__ import annotations

import functools
import html
from typing import Optional

import ipywidgets as w
import numpy as np

from lepton_widgets.config import AugmentConfig, ConfigError
from lepton_widgets.core.tasks.image.augment import preview
from lepton_widgets.core.data import DataError, get_dataset
from lepton_widgets.core.tasks.image.previews import quick_table, sample_batch, to_png
from lepton_widgets.core.tasks.text.augment import augment_text
from lepton_widgets.panels._background import Latest
from lepton_widgets.panels.base import Panel

_STYLE = {"description_width": "120px"}
_HELP = {
    "flip": "mirror images at random",
    "rotation": "fraction of a full turn, either way (0.1 = up to 36 degrees)",
    "zoom": "fraction of the image size, in or out",
    "translation": "fraction of the image size, any direction",
    "contrast": "fraction of the value range",
    "brightness": "fraction of the value range",
    "time_mask": "SpecAugment: silence a stretch of up to this fraction of the clip",
    "freq_mask": "SpecAugment: silence a band of up to this fraction of the frequencies",
    "time_shift": "move the sound by up to this fraction of the clip",
    "gain_db": "louder or quieter by up to this many dB",
    "noise": "mix in noise, up to this fraction of the level range",
    "word_dropout": "drop each word with this probability (never the whole text)",
    "word_swap": "swap neighbouring words with this probability",
    "word_substitute": "replace a word by one of its nearest GloVe neighbours with this probability "
                       "(neighbours share contexts and can be opposites: keep it small)",
}
IMAGE_FIELDS = ("rotation", "zoom", "translation", "contrast", "brightness")
SOUND_FIELDS = ("time_mask", "freq_mask", "time_shift", "gain_db", "noise")
TEXT_FIELDS = ("word_dropout", "word_swap", "word_substitute")
#: The text preview's sentences (fixed, so the same settings always show the same copies).
EXAMPLE_TEXTS = ("The tea arrived fresh and the flavour is rich, smooth and not bitter at all.",
                 "Sadly the box was crushed and half of the biscuits were broken and stale.")
_LABELS = {"time_mask": "Time mask", "freq_mask": "Frequency mask", "time_shift": "Time shift",
           "gain_db": "Gain (dB)", "noise": "Noise", "word_dropout": "Word dropout", "word_swap": "Word swap",
           "word_substitute": "Word substitute"}


@functools.lru_cache(maxsize=1)
def example_neighbours() -> dict:
    """GloVe neighbours of the example sentences' words (the first call reads GloVe, about a second)."""
    from lepton_widgets.core.tasks.text.glove import neighbours_for

    return neighbours_for(EXAMPLE_TEXTS)


class AugmentPanel(Panel):
    """Augmentation controls bound to the Session, and a preview grid (one row per sample image).

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = AugmentPanel(Session(dataset="digits"))
        >>> sorted(panel.controls)[:6]
        ['brightness', 'contrast', 'flip', 'freq_mask', 'gain_db', 'noise']
        >>> panel.sound_box.layout.display          # digits are images: the sound controls are hidden
        'none'
        >>> panel                                      # in a notebook cell  # doctest: +SKIP
    """

    title = "Augment"
    N_IMAGES = 3
    COPIES = 4
    SIZE = 64
    DEBOUNCE_S = 0.25

    def build(self) -> w.Widget:
        self._shuffle = 0
        self._samples_key: Optional[tuple] = None
        self._samples: Optional[tuple[np.ndarray, str]] = None
        self._previews = Latest(delay=self.DEBOUNCE_S)
        self.controls: dict[str, w.ValueWidget] = {
            "flip": w.Dropdown(options=AugmentConfig.FLIP_MODES, description="Flip", style=_STYLE)}
        for name in IMAGE_FIELDS + SOUND_FIELDS + TEXT_FIELDS:
            top, step = (AugmentConfig.MAX_GAIN_DB, 0.5) if name == "gain_db" else (1.0, 0.01)
            self.controls[name] = w.FloatSlider(min=0.0, max=top, step=step, readout_format=".2f",
                                                continuous_update=False,
                                                description=_LABELS.get(name, name.capitalize()), style=_STYLE)
        rows = {}
        for name, control in self.controls.items():
            control.add_class(f"lepton-aug-{name}")
            w.link((self.session, name), (control, "value"))
            rows[name] = w.HBox([control, w.HTML(f"<span style='color:#666'>{_HELP[name]}</span>")])
        self.sound_box = w.VBox([w.HTML("<b>Sound</b> (on the log-mel spectrogram the model sees)"),
                                 *(rows[name] for name in SOUND_FIELDS)])
        self.sound_box.add_class("lepton-aug-sound")
        self.text_preview = w.HTML()
        self.text_box = w.VBox([w.HTML("<b>Text</b> (training texts only)"), *(rows[name] for name in TEXT_FIELDS),
                                self.text_preview])
        self.text_box.add_class("lepton-aug-text")

        self.reshuffle = w.Button(description="New random copies", tooltip="draw other random augmentations")
        self.reshuffle.on_click(self._new_copies)
        self.caption = w.HTML()
        self.message = w.HTML()
        self.originals = [self._image() for _ in range(self.N_IMAGES)]
        self.copies = [[self._image() for _ in range(self.COPIES)] for _ in range(self.N_IMAGES)]
        cells = [w.HTML("<b>original</b>")] + [w.HTML(f"<b>copy {c + 1}</b>") for c in range(self.COPIES)]
        for original, copies in zip(self.originals, self.copies):
            cells += [original] + copies
        self.grid = w.GridBox(cells, layout=w.Layout(
            grid_template_columns=f"repeat({self.COPIES + 1}, {self.SIZE + 8}px)", grid_gap="4px"))
        for widget, css in ((self.reshuffle, "aug-reshuffle"), (self.grid, "augment-preview"),
                            (self.caption, "augment-caption"), (self.message, "augment-message")):
            widget.add_class(f"lepton-{css}")

        self.session.observe(self._changed, list(self.controls) + ["seed", "prepared", "dataset"])
        self.session.observe(self._show_modality_controls, "dataset")
        self._show_modality_controls()
        self.refresh()
        return w.VBox([
            w.HTML("<h3>Augmentation</h3><div>Random changes applied to training images only; validation, "
                   "test and exported models see the images unchanged.</div>"),
            *(rows[name] for name in ("flip",) + IMAGE_FIELDS), self.sound_box, self.text_box,
            self.message, w.HBox([self.caption, self.reshuffle]), self.grid,
        ])

    def _modality(self) -> str:
        try:
            return get_dataset(self.session.dataset).modality
        except DataError:  # an unknown name: the Data step says so
            return "image"

    def _show_modality_controls(self, change=None) -> None:
        modality = self._modality()
        self.sound_box.layout.display = "" if modality == "audio" else "none"
        self.text_box.layout.display = "" if modality == "text" else "none"
        self.grid.layout.display = "none" if modality == "text" else ""  # texts: the before/after list instead

    def _show_text_preview(self) -> None:
        """Two copies of each example sentence, augmented as training would (pure Python, so drawn at once)."""
        s = self.session
        neighbours = None
        if s.word_substitute > 0:
            try:
                neighbours = example_neighbours()
            except ConfigError as error:  # GloVe not installed: say so, show the rest
                self.message.value = f"<b style='color:#c62828'>{html.escape(str(error))}</b>"
        rows = []
        for index, text in enumerate(EXAMPLE_TEXTS):
            copies = [augment_text(text, word_dropout=s.word_dropout, word_swap=s.word_swap,
                                   word_substitute=s.word_substitute, neighbours=neighbours,
                                   seed=s.seed + self._shuffle, epoch=epoch, index=index) for epoch in range(2)]
            rows.append(f"<tr><td>{html.escape(text)}</td>"
                        + "".join(f"<td>{html.escape(copy)}</td>" for copy in copies) + "</tr>")
        self.text_preview.value = ("<table class='lepton-table lepton-text-preview'><tr><th>example sentence</th>"
                                   "<th>epoch 1</th><th>epoch 2</th></tr>" + "".join(rows) + "</table>")

    def _image(self) -> w.Image:
        return w.Image(format="png", layout=w.Layout(width=f"{self.SIZE}px", height=f"{self.SIZE}px"))

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the preview shows the current settings (tests, scripts)."""
        return self._previews.wait(timeout)

    # --- redraw ------------------------------------------------------------------------------------

    def _changed(self, change) -> None:
        self.refresh()

    def _new_copies(self, button=None) -> None:
        self._shuffle += 1
        self.refresh()

    def refresh(self) -> None:
        """Ask for a preview of the current settings (debounced, in a background thread)."""
        s = self.session
        modality = self._modality()
        if modality == "tabular":
            self.message.value = "<i>Tables train without augmentation: these settings apply to images and sounds.</i>"
            return
        if modality == "text":
            self.message.value = ""
            self._show_text_preview()
            return
        cfg = AugmentConfig(flip=s.flip, **{name: getattr(s, name) for name in IMAGE_FIELDS + SOUND_FIELDS})
        try:
            cfg.validate()
        except ConfigError as error:
            self.message.value = f"<b style='color:#c62828'>{html.escape(str(error))}</b>"
            return
        self.message.value = "" if cfg.active else "<i>No augmentation: every copy equals the original.</i>"
        seed, source = s.seed + self._shuffle, (s.prepared if s.prepared is not None else s.dataset)
        self._previews.request(lambda: self._compute(cfg, seed, source), self._show, self._failed)

    def _compute(self, cfg: AugmentConfig, seed: int, source) -> tuple[str, list[bytes], list[list[bytes]]]:
        images, caption = self._samples_for(source)
        augmented = preview(images, cfg, seed, copies=self.COPIES)   # (copies, N, H, W, 3) uint8
        originals = [to_png(img) for img in images.clip(0, 255).astype(np.uint8)]
        copies = [[to_png(augmented[c, i]) for c in range(self.COPIES)] for i in range(len(images))]
        return caption, originals, copies

    def _samples_for(self, source) -> tuple[np.ndarray, str]:
        # PreparedData by identity (comparing it would compare DataFrames); holding it keeps the id unique.
        key = (source if isinstance(source, str) else id(source), self.session.seed)
        if key != self._samples_key:
            self._samples_ref = source
            if isinstance(source, str):
                table, name = quick_table(source, self.session.seed)
                caption = f"Samples from {name}"
                if name != source:
                    caption += f", standing in for {source} until Check data has run on the Data step"
            else:
                table, caption = source.table, "Samples from the checked data"
            self._samples = (sample_batch(table, self.N_IMAGES, self.SIZE, self.session.seed), caption)
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
        self.message.value = (f"<b style='color:#c62828'>Preview failed:</b> "
                              f"{html.escape(type(error).__name__)}: {html.escape(str(error))}")
