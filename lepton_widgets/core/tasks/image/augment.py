"""Augmentation as Keras preprocessing layers.

The layers sit inside the model, in front of the backbone's normalisation, so they see raw [0, 255]
pixels. Keras runs them only while training (``training=True``); at inference they pass images through
unchanged, which is why an exported model needs no separate augmentation switch.

Example:
    >>> from lepton_widgets.config import AugmentConfig
    >>> block = build_augmentation(AugmentConfig(flip="horizontal", rotation=0.1), seed=0)
    >>> [layer.__class__.__name__ for layer in block.layers]
    ['RandomFlip', 'RandomRotation']
"""

from __future__ import annotations

from typing import Optional

import keras

from lepton_widgets.config import AugmentConfig
from lepton_widgets.core.tasks.audio.augment import audio_layers  # spectrogram layers (audio data); registers them

#: Value range of the images the layers see (raw RGB); brightness/contrast need it to clip correctly.
PIXEL_RANGE = (0.0, 255.0)


def augmentation_layers(cfg: AugmentConfig, seed: int) -> list[keras.layers.Layer]:
    """One Keras layer per active augmentation, each seeded from ``seed`` so runs repeat."""
    layers: list[keras.layers.Layer] = []
    if cfg.flip != "none":
        layers.append(keras.layers.RandomFlip(cfg.flip, seed=seed))
    if cfg.rotation > 0:
        layers.append(keras.layers.RandomRotation(cfg.rotation, fill_mode="reflect", seed=seed + 1))
    if cfg.zoom > 0:
        layers.append(keras.layers.RandomZoom(cfg.zoom, fill_mode="reflect", seed=seed + 2))
    if cfg.translation > 0:
        layers.append(
            keras.layers.RandomTranslation(cfg.translation, cfg.translation, fill_mode="reflect", seed=seed + 3)
        )
    if cfg.contrast > 0:
        layers.append(keras.layers.RandomContrast(cfg.contrast, value_range=PIXEL_RANGE, seed=seed + 4))
    if cfg.brightness > 0:
        layers.append(keras.layers.RandomBrightness(cfg.brightness, value_range=PIXEL_RANGE, seed=seed + 5))
    return layers + audio_layers(cfg, seed)


def build_augmentation(cfg: AugmentConfig, seed: int) -> Optional[keras.Sequential]:
    """A ``Sequential`` named ``augmentation`` holding the active layers, or ``None`` when nothing is on."""
    layers = augmentation_layers(cfg, seed)
    if not layers:
        return None
    return keras.Sequential(layers, name="augmentation")


def preview(images, cfg: AugmentConfig, seed: int, copies: int = 4):
    """Augmented copies of ``images`` (N, H, W, 3) as if training: shape (copies, N, H, W, 3), uint8.

    Used by the Augment panel's preview grid and by tests that check the layers really change pixels.
    """
    import numpy as np

    block = build_augmentation(cfg, seed)
    batch = np.asarray(images, dtype="float32")
    if block is None:
        return np.repeat(batch[None], copies, axis=0).clip(0, 255).astype("uint8")
    out = [keras.ops.convert_to_numpy(block(batch, training=True)) for _ in range(copies)]
    return np.stack(out).clip(0, 255).astype("uint8")
