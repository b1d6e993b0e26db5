"""The sound task: the picture task behind a log-mel spectrogram front end.

WAV files become spectrogram images when the data is read (``core/data/audio``), so a sound model is a
picture model whose augmentation is ``augment`` (SpecAugment masks, time shift, gain and noise).
"""

from lepton_widgets.core.custom_layers import add_layer_loader


@add_layer_loader
def _sound_layers() -> None:
    """A stored sound model holds these augmentation layers (inactive at inference); Keras must know them."""
    from lepton_widgets.core.tasks.audio import augment  # noqa: F401  RandomGain, time/frequency masks, ...
