"""Make Lepton's own Keras layers known before a saved model is loaded.

Keras finds a custom class only if the module that registers it (``@register_keras_serializable``) has been
imported. Training imports those modules anyway, so a model always reloads in the process that trained it,
but a fresh process (``lepton eval``, the Predict app, a notebook that only opens runs) would fail with
``Could not locate class 'RandomGain'``. Every loader calls :func:`register_custom_layers` first.

Which modules those are is not known here: this module sits at the bottom of the layers (the run store and
the export loader call it), so the tasks that own the layers add a loader with :func:`add_layer_loader` when
they are imported (``import lepton_widgets`` imports every task).

Example:
    >>> register_custom_layers()
    >>> import keras
    >>> keras.saving.get_registered_object("lepton>RandomGain").__name__
    'RandomGain'
"""

from __future__ import annotations

from typing import Callable

_LOADERS: list[Callable[[], None]] = []


def add_layer_loader(loader: Callable[[], None]) -> Callable[[], None]:
    """Call ``loader`` (a function that imports modules registering Keras layers) before every model load."""
    if loader not in _LOADERS:
        _LOADERS.append(loader)
    return loader


def register_custom_layers() -> None:
    """Import every module that registers layers a stored Lepton model may contain (cheap after the first call)."""
    for loader in list(_LOADERS):
        loader()
