"""Augment panel: the training-time augmentations, with a live preview of what they do to real samples.

Each control is linked to its Session trait (``flip``, ``rotation``, ``zoom``, ``translation``,
``contrast``, ``brightness``, for sounds ``time_mask``, ``freq_mask``, ``time_shift``, ``gain_db``,
``noise``, and for texts ``word_dropout``, ``word_swap``, ``word_substitute``); slider ranges are the config's own (0..1, gain
0..40 dB), so a loaded config is never clamped by a widget. Which controls and which preview show is the
data's task's answer (``task.augmentations``, the settings its training applies): the sound controls for
sounds, the word controls with a before/after preview of example sentences (``texts.py``) for texts, the
picture preview (``pictures.py``: the same Keras layers as training, on a few real samples) wherever the
picture settings apply; a task that applies none says so.

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

import html
from typing import Optional

import ipywidgets as w

from lepton_widgets.config import AugmentConfig, ConfigError
from lepton_widgets.core.tasks import all_tasks, task_for_dataset
from lepton_widgets.panels.augment.pictures import PICTURE_FIELDS, SOUND_FIELDS, PicturePreview
from lepton_widgets.panels.augment.texts import TEXT_FIELDS, TextPreview
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import Panel
from lepton_widgets.panels.dataset.choices import task_words
from lepton_widgets.panels.glossary import term, words_used_here

_STYLE = {"description_width": "120px"}
#: One line of plain words beside each control (catalogue strings, translated when shown).
_HELP = {
    "flip": N_("mirror images at random"),
    "rotation": N_("turn by up to this fraction of a full turn, either way (0.1 = up to 36 degrees)"),
    "zoom": N_("zoom in or out by up to this fraction of the image size"),
    "translation": N_("shift by up to this fraction of the image size, any direction"),
    "contrast": N_("change the contrast by up to this fraction"),
    "brightness": N_("make it lighter or darker by up to this fraction"),
    "time_mask": N_("SpecAugment: silence a stretch of up to this fraction of the clip"),
    "freq_mask": N_("SpecAugment: silence a band of up to this fraction of the pitches"),
    "time_shift": N_("move the sound by up to this fraction of the clip"),
    "gain_db": N_("louder or quieter by up to this many dB"),
    "noise": N_("mix in noise, up to this fraction of the level range"),
    "word_dropout": N_("drop each word with this probability (never the whole text)"),
    "word_swap": N_("swap neighbouring words with this probability"),
    "word_substitute": N_("replace a word by one of its nearest GloVe neighbours with this probability "
                          "(neighbours share contexts and can be opposites: keep it small)"),
}
IMAGE_FIELDS = PICTURE_FIELDS
_LABELS = {"flip": N_("Flip"), "rotation": N_("Rotation"), "zoom": N_("Zoom"), "translation": N_("Translation"),
           "contrast": N_("Contrast"), "brightness": N_("Brightness"),
           "time_mask": N_("Time mask"), "freq_mask": N_("Frequency mask"), "time_shift": N_("Time shift"),
           "gain_db": N_("Gain (dB)"), "noise": N_("Noise"), "word_dropout": N_("Word dropout"),
           "word_swap": N_("Word swap"), "word_substitute": N_("Word substitute")}
#: The flip choices' words (the values are the config's own).
_FLIP_WORDS = {"none": N_("no flip"), "horizontal": N_("left-right"), "vertical": N_("up-down"),
               "horizontal_and_vertical": N_("left-right and up-down")}
#: The technical words this step uses (the "words used here" line).
WORDS = ("augmentation", "overfitting", "validation", "test_set")


class AugmentPanel(Panel):
    """Augmentation controls bound to the Session, and a preview of what they do.

    Example:
        >>> from lepton_widgets.state import Session
        >>> panel = AugmentPanel(Session(dataset="digits"))
        >>> sorted(panel.controls)[:6]
        ['brightness', 'contrast', 'flip', 'freq_mask', 'gain_db', 'noise']
        >>> panel.sound_box.layout.display          # digits are images: the sound controls are hidden
        'none'
        >>> panel                                      # in a notebook cell  # doctest: +SKIP
    """

    title = N_("Augment")
    N_IMAGES = 3
    COPIES = 4
    SIZE = 64
    DEBOUNCE_S = 0.25

    def build(self) -> w.Widget:
        self._shuffle = 0
        self.controls: dict[str, w.ValueWidget] = {
            "flip": w.Dropdown(options=[(_(_FLIP_WORDS.get(mode, mode)), mode) for mode in AugmentConfig.FLIP_MODES],
                               description=_(_LABELS["flip"]), style=_STYLE)}
        for name in IMAGE_FIELDS + SOUND_FIELDS + TEXT_FIELDS:
            top, step = (AugmentConfig.MAX_GAIN_DB, 0.5) if name == "gain_db" else (1.0, 0.01)
            self.controls[name] = w.FloatSlider(min=0.0, max=top, step=step, readout_format=".2f",
                                                continuous_update=False,
                                                description=_(_LABELS[name]), style=_STYLE)
        rows = {}
        for name, control in self.controls.items():
            control.add_class(f"lepton-aug-{name}")
            w.link((self.session, name), (control, "value"))
            rows[name] = w.HBox([control, w.HTML(f"<span style='color:#666'>{html.escape(_(_HELP[name]))}</span>")])
        sound_words = _("{sound} (on the {spectrogram} the model sees)").format(
            sound="<b>" + html.escape(_("Sound")) + "</b>", spectrogram=term("spectrogram"))
        self.sound_box = w.VBox([w.HTML(sound_words),
                                 *(rows[name] for name in SOUND_FIELDS)])
        self.sound_box.add_class("lepton-aug-sound")
        self.texts = TextPreview(self.session)
        self.text_preview = self.texts.html
        self.text_box = w.VBox([w.HTML("<b>" + html.escape(_("Text")) + "</b> " + html.escape(_("(training texts only)"))),
                                *(rows[name] for name in TEXT_FIELDS),
                                self.text_preview])
        self.text_box.add_class("lepton-aug-text")

        self.reshuffle = w.Button(description=_("New random copies"), tooltip=_("draw other random changes"))
        self.reshuffle.on_click(self._new_copies)
        self.message = w.HTML()
        self.pictures = PicturePreview(self.session, self.N_IMAGES, self.COPIES, self.SIZE, self.DEBOUNCE_S,
                                       on_failed=self._failed)
        # the preview's parts, under the names the panel has always had
        self.caption, self.grid = self.pictures.caption, self.pictures.grid
        self.originals, self.copies = self.pictures.originals, self.pictures.copies
        for widget, css in ((self.reshuffle, "aug-reshuffle"), (self.message, "augment-message")):
            widget.add_class(f"lepton-{css}")

        self.session.observe(self._changed, list(self.controls) + ["seed", "prepared", "dataset"])
        self.session.observe(self._show_task_controls, "dataset")
        self._show_task_controls()
        self.refresh()
        intro = _("{augmentation}: small random changes made to the training pictures only, so the model learns "
                  "what matters rather than memorising pixels ({overfitting}). The {validation}, the {test_set} "
                  "and exported models see the pictures unchanged.").format(
            augmentation=term("augmentation", _("Augmentation")), overfitting=term("overfitting"),
            validation=term("validation"), test_set=term("test_set"))
        return w.VBox([
            w.HTML("<h3>" + html.escape(_("Augmentation")) + f"</h3><div>{intro}</div>"), words_used_here(WORDS),
            *(rows[name] for name in ("flip",) + IMAGE_FIELDS), self.sound_box, self.text_box,
            self.message, w.HBox([self.caption, self.reshuffle]), self.grid,
        ])

    def _applies(self) -> set:
        """The augmentation settings the chosen data's training applies (its task's)."""
        return set(task_for_dataset(self.session.dataset).augmentations)

    def _show_task_controls(self, change=None) -> None:
        applies = self._applies()
        self.sound_box.layout.display = "" if applies & set(SOUND_FIELDS) else "none"
        self.text_box.layout.display = "" if applies & set(TEXT_FIELDS) else "none"
        # texts: the before/after list instead of the picture grid
        self.grid.layout.display = "" if applies & set(PICTURE_FIELDS) else "none"

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the preview shows the current settings (tests, scripts)."""
        return self.pictures.wait(timeout)

    # --- redraw ------------------------------------------------------------------------------------

    def _changed(self, change) -> None:
        self.refresh()

    def _new_copies(self, button=None) -> None:
        self._shuffle += 1
        self.refresh()

    def refresh(self) -> None:
        """Ask for a preview of the current settings (debounced, in a background thread)."""
        s = self.session
        task = task_for_dataset(s.dataset)
        applies = set(task.augmentations)
        if not applies:
            takers = [task_words(t) for t in all_tasks() if t.augmentations]
            takers = (_("{first} and {last}").format(first=_(", ").join(takers[:-1]), last=takers[-1])
                      if len(takers) > 1 else "".join(takers))
            words = task_words(task)
            self.message.value = "<i>" + html.escape(_(
                "{data} train without augmentation: these settings apply to {others}.").format(
                data=words[:1].upper() + words[1:], others=takers)) + "</i>"
            return
        if applies & set(TEXT_FIELDS):
            self.message.value = self.texts.show(self._shuffle)
        if not applies & set(PICTURE_FIELDS):
            return
        cfg = AugmentConfig(flip=s.flip, **{name: getattr(s, name) for name in IMAGE_FIELDS + SOUND_FIELDS})
        try:
            cfg.validate()
        except ConfigError as error:
            self.message.value = f"<b style='color:#c62828'>{html.escape(str(error))}</b>"
            return
        self.message.value = "" if cfg.active else (
            "<i>" + html.escape(_("No augmentation: every copy equals the original.")) + "</i>")
        source = s.prepared if s.prepared is not None else s.dataset
        self.pictures.request(cfg, s.seed + self._shuffle, source)

    def _failed(self, error: Exception) -> None:
        self.message.value = ("<b style='color:#c62828'>" + html.escape(_("Preview failed:")) + "</b> "
                              f"{html.escape(type(error).__name__)}: {html.escape(str(error))}")
