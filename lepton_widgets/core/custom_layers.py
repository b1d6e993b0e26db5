"""Make Lepton's own Keras layers known before a saved model is loaded.

Keras finds a custom class only if the module that registers it (``@register_keras_serializable``) has been
imported. Training imports those modules anyway, so a model always reloads in the process that trained it,
but a fresh process (``lepton eval``, the Predict app, a notebook that only opens runs) would fail with
``Could not locate class 'RandomGain'``. Every loader calls :func:`register_custom_layers` first.

Example:
    >>> register_custom_layers()
    >>> import keras
    >>> keras.saving.get_registered_object("lepton>RandomGain").__name__
    'RandomGain'
"""

from __future__ import annotations


def register_custom_layers() -> None:
    """Import every module that registers layers a stored Lepton model may contain (cheap after the first call)."""
    from lepton_widgets.core.tasks.audio import augment  # noqa: F401  spectrogram augmentations (inactive at inference)
    from lepton_widgets.core.backbones import normalization  # noqa: F401  CaffePreprocess (VGG16)
