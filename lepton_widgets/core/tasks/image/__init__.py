"""The picture task: a pretrained image backbone with a new head (see ``task.py`` for the parts)."""

from lepton_widgets.core.custom_layers import add_layer_loader


@add_layer_loader
def _picture_layers() -> None:
    """A stored VGG16 picture model holds CaffePreprocess, its input normalisation; Keras must know it."""
    from lepton_widgets.core.backbones import normalization  # noqa: F401
