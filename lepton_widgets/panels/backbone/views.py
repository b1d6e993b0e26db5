"""What the Backbone step shows for each task's data: the panel side of the task registry.

:func:`backbone_view` is the one place that picks a view for a task (by ``task.name``): pictures and sounds
choose an image backbone; tables see a note (their runs train an MLP) above the same controls; texts choose an
encoder and a sequence length instead (:class:`EncoderControls`). A new task adds one entry to
:data:`BACKBONE_VIEWS`.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> backbone_view(task_for_dataset("food_reviews")).controls
    'encoders'
    >>> backbone_view(task_for_dataset("digits")).note
    ''
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as w

from lepton_widgets.config import BackboneConfig
from lepton_widgets.core.tasks.text.encoder import TEXT_BACKBONE, text_encoder_name
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE
from lepton_widgets.i18n import N_, _
from lepton_widgets.panels.base import syncing

#: (heading, plain text) of the note above the controls for tables and texts; translated when shown.
TABLE_NOTE = (N_("This dataset is a table."), N_(
    "Its runs train a small network (an MLP) on its columns; the picture backbone, image size and frozen "
    "blocks below are ignored. To reuse what another table taught, choose the weights \"your run\" and one "
    "of your table runs: the columns both tables share keep what was learned about them."))
TEXT_NOTE = (N_("This dataset is text."), N_(
    "Choose how the texts are read: MiniLM (all-MiniLM-L6-v2, 6 transformer layers, 22.7M parameters; "
    "minutes to train here) or GloVe 6B 50-d word vectors (light; seconds). Weights \"offline pack\" is "
    "pretrained, \"none\" starts from random numbers, \"your run\" reuses one of your text runs. The "
    "sequence length counts word pieces (MiniLM) or words (GloVe); longer texts are cut. The Freeze step "
    "counts MiniLM's transformer layers, or GloVe's one word table."))
#: The text encoders, as the encoder list shows them (labels translated when shown).
TEXT_ENCODER_CHOICES = ((N_("MiniLM: all-MiniLM-L6-v2 (22.7M parameters)"), TEXT_BACKBONE),
                        (N_("GloVe 6B 50-d word vectors (light)"), GLOVE_BACKBONE))


@dataclass(frozen=True)
class BackboneView:
    """One task's Backbone step: ``controls`` names the control group shown (``backbones``: the image
    backbone, image size and ranking; ``encoders``: :class:`EncoderControls`); ``note`` says what of the
    step applies (a (heading, text) pair of catalogue strings, "" for none): :func:`note_html` draws it."""

    controls: str = "backbones"
    note: tuple | str = ""


#: The panel side of the task registry: task name -> what the Backbone step shows for its data.
BACKBONE_VIEWS = {
    "image": BackboneView(),
    "audio": BackboneView(),
    "tabular": BackboneView(note=TABLE_NOTE),
    "text": BackboneView(controls="encoders", note=TEXT_NOTE),
}


def note_html(note) -> str:
    """A view's note in the current language (HTML: the heading in bold, then the text); "" for none."""
    if not note:
        return ""
    heading, text = note
    return f"<b>{html.escape(_(heading))}</b> {html.escape(_(text))}"


def backbone_view(task) -> BackboneView:
    """The Backbone step's view of ``task``'s data (a task without an entry gets the image controls)."""
    return BACKBONE_VIEWS.get(task.name, BackboneView())


class EncoderControls:
    """The text encoder (MiniLM or GloVe, written to ``session.backbone``) and the sequence length (linked to
    ``session.sequence_length``), in :attr:`box`.

    Example:
        >>> from lepton_widgets.state import Session
        >>> controls = EncoderControls(Session(backbone="glove_6b_50d"), {})
        >>> controls.encoder.value == GLOVE_BACKBONE, controls.box.children[1] is controls.sequence_length
        (True, True)
    """

    def __init__(self, session, style: dict):
        self.session = session
        self._syncing = False
        self.encoder = w.Dropdown(options=[(_(label), value) for label, value in TEXT_ENCODER_CHOICES],
                                  description=_("Text encoder"), style=style,
                                  layout=w.Layout(width="520px"))
        self.sequence_length = w.IntSlider(min=8, max=BackboneConfig.MAX_SEQUENCE_LENGTH, step=8,
                                           description=_("Sequence length"), continuous_update=False,
                                           style=style)
        w.link((session, "sequence_length"), (self.sequence_length, "value"))
        self.box = w.VBox([self.encoder, self.sequence_length])
        self.encoder.add_class("lepton-text-encoder")
        self.sequence_length.add_class("lepton-sequence-length")
        self.encoder.observe(self._chosen, "value")
        self.show()

    def _chosen(self, change) -> None:
        if not self._syncing:
            self.session.backbone = change["new"]

    def show(self) -> None:
        """Show the encoder a text run would use with ``session.backbone`` (MiniLM unless it names GloVe)."""
        with syncing(self):
            self.encoder.value = text_encoder_name(self.session.backbone)
