"""A tiny CNN trained from scratch (about 47k parameters): fast tests and CPU workshops.

Four blocks ``block_1`` .. ``block_4`` of 3x3 conv + BatchNorm + ReLU; the first three end in 2x2 max
pooling, so a 16 px image leaves a 2x2 map. Inputs are ``unit``-normalised (x/255).

Example:
    >>> from lepton_widgets.core.backbones import get_backbone, load_backbone
    >>> load_backbone(get_backbone("small_cnn"), "none", 16).output.shape
    (None, 2, 2, 64)
"""

from __future__ import annotations

import keras
from keras import layers

from .registry import register_backbone
from .spec import BackboneSpec
from lepton_widgets.i18n import N_

FILTERS = (16, 32, 48, 64)


def build_small_cnn(image_size: int = 32, name: str = "backbone") -> keras.Model:
    inputs = keras.Input((image_size, image_size, 3), name="input_layer")
    x = inputs
    for i, filters in enumerate(FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block_{i}_conv")(x)
        # momentum 0.9, not Keras' 0.99: trained from scratch on a few hundred images, the running
        # statistics must catch up within a few dozen steps or validation runs on stale statistics.
        x = layers.BatchNormalization(momentum=0.9, name=f"block_{i}_bn")(x)
        x = layers.ReLU(name=f"block_{i}_relu")(x)
        if i < len(FILTERS):
            x = layers.MaxPooling2D(2, name=f"block_{i}_pool")(x)
    return keras.Model(inputs, x, name=name)


def _build(image_size: int, source: str, path: str | None) -> keras.Model:
    model = build_small_cnn(image_size)
    if path:
        model.load_weights(path)
    return model


SPEC = register_backbone(BackboneSpec(
    name="small_cnn",
    family="small_cnn",
    description=N_("Tiny 4-block CNN (~47k params) trained from scratch; for tests and CPU workshops"),
    builder=_build,
    feature_dim=FILTERS[-1],
    normalization="unit",
    block_pattern=r"^(block_\d+)_",
    min_size=16,
    default_size=32,
    weight_sources=("none", "file"),
    licence=N_("Apache-2.0 (ours)"),
))
