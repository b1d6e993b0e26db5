"""Spectrogram augmentations as Keras layers: SpecAugment masks, time shift, gain and noise.

They work on what the model's input sees for audio data: a log-mel spectrogram image (``core/data/audio``)
resized to (B, S, S, 3) float pixels in [0, 255], with frequency on the height axis and time on the width
axis. Pixel values are dB on the fixed scale of ``spectrogram.py`` (:data:`LEVELS_PER_DB` grey levels per
dB), which makes two of the layers exact rather than approximate:

* :class:`RandomGain`: a gain of ``g`` dB multiplies the signal's power by 10^(g/10), i.e. adds ``g`` dB to
  every band, i.e. adds ``g * LEVELS_PER_DB`` to every pixel. The resize before it is a weighted average
  with weights summing to 1, so the offset passes through it unchanged. Only pixels pushed past 0 or 255 are
  clipped, as they would be in a spectrogram of the louder/quieter sound.
* :class:`RandomNoise`: noise is ADDED IN THE POWER DOMAIN (pixel -> dB -> power, + noise power, -> dB ->
  pixel), as real background noise adds to a sound, instead of adding noise to pixels. The noise has equal
  expected power in every band with the exponential (chi-squared, 2 d.o.f.) spread of a noise periodogram.

Like Keras' ``Random*`` layers they act only while training (``training=True``); at inference they return
their input, and ``export.inference_model`` drops them (their names start with ``Random``).

Example:
    >>> import numpy as np
    >>> image = np.full((16, 8, 10, 3), 100.0, "float32")
    >>> out = RandomTimeMask(0.5, seed=0)(image, training=True).numpy()
    >>> masked = (out[..., 0] == 0).all(axis=1)   # (sample, time): whole columns, every frequency row
    >>> bool(masked.any()), int(masked.sum(axis=1).max()) <= 5, bool((out.transpose(0, 2, 1, 3)[~masked] == 100).all())
    (True, True, True)
    >>> bool((RandomTimeMask(0.5, seed=0)(image, training=False).numpy() == image).all())
    True
"""

from __future__ import annotations

import keras
from keras import ops

from lepton_widgets.core.data.audio.spectrogram import DB_MIN, LEVELS_PER_DB

#: Frequency is the image height, time the width (see ``spectrogram.py``).
FREQ_AXIS, TIME_AXIS = 1, 2


class _SpecLayer(keras.layers.Layer):
    """Shared plumbing: a seed generator, identity at inference, config round trip."""

    def __init__(self, factor: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.factor <= 0:
            return inputs
        return self.augment(ops.cast(inputs, self.compute_dtype))

    def augment(self, images):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def _uniform(self, batch, low=0.0, high=1.0):
        return keras.random.uniform((batch,), low, high, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


def _band_mask(images, axis: int, max_fraction: float, start_u, width_u):
    """1 inside a band of the ``axis`` positions (start and width from uniforms in [0, 1)), else 0."""
    length = ops.shape(images)[axis]
    length_f = ops.cast(length, "float32")
    width = ops.floor(width_u * (max_fraction * length_f + 1.0))  # 0 .. floor(fraction * length)
    start = ops.floor(start_u * (length_f - width + 1.0))
    positions = ops.cast(ops.arange(length), "float32")[None, :]
    inside = ops.logical_and(positions >= start[:, None], positions < (start + width)[:, None])
    shape = [-1, 1, 1, 1]
    shape[axis] = length
    return ops.reshape(ops.cast(inside, images.dtype), shape)


@keras.saving.register_keras_serializable(package="lepton")
class RandomTimeMask(_SpecLayer):
    """SpecAugment time mask: zero (silence) one band of up to ``factor`` of the time frames per sample."""

    def augment(self, images):
        batch = ops.shape(images)[0]
        mask = _band_mask(images, TIME_AXIS, self.factor, self._uniform(batch), self._uniform(batch))
        return images * (1.0 - mask)


@keras.saving.register_keras_serializable(package="lepton")
class RandomFrequencyMask(_SpecLayer):
    """SpecAugment frequency mask: zero one band of up to ``factor`` of the mel rows per sample."""

    def augment(self, images):
        batch = ops.shape(images)[0]
        mask = _band_mask(images, FREQ_AXIS, self.factor, self._uniform(batch), self._uniform(batch))
        return images * (1.0 - mask)


@keras.saving.register_keras_serializable(package="lepton")
class RandomTimeShift(_SpecLayer):
    """Move the sound by up to ``factor`` of the clip length earlier or later; the gap is silence (0).

    Shifts are whole frames (pixel columns), so frames are moved, never interpolated.
    """

    def augment(self, images):
        batch, width = ops.shape(images)[0], ops.shape(images)[TIME_AXIS]
        limit = ops.floor(self.factor * ops.cast(width, "float32"))
        shift = ops.floor(self._uniform(batch) * (2.0 * limit + 1.0)) - limit  # integers in [-limit, limit]
        source = ops.cast(ops.arange(width), "float32")[None, :] - shift[:, None]
        valid = ops.logical_and(source >= 0, source < ops.cast(width, "float32"))
        index = ops.cast(ops.clip(source, 0, ops.cast(width, "float32") - 1.0), "int32")
        index = ops.broadcast_to(index[:, None, :, None], ops.shape(images))
        moved = ops.take_along_axis(images, index, axis=TIME_AXIS)
        return moved * ops.cast(valid, images.dtype)[:, None, :, None]


@keras.saving.register_keras_serializable(package="lepton")
class RandomGain(_SpecLayer):
    """Change the level by a uniform ``[-factor, +factor]`` dB: exactly ``dB * LEVELS_PER_DB`` grey levels."""

    def augment(self, images):
        return apply_gain(images, self._uniform(ops.shape(images)[0], -self.factor, self.factor))


def apply_gain(images, gain_db):
    """Spectrogram pixels of the same sound ``gain_db`` (one value per sample) louder: an exact offset.

    >>> import numpy as np
    >>> apply_gain(np.array([[[[0.0, 100.0, 250.0]]]], "float32"), np.array([6.0], "float32")).numpy().tolist()
    [[[[12.75, 112.75, 255.0]]]]
    """
    offset = ops.cast(ops.convert_to_tensor(gain_db) * LEVELS_PER_DB, images.dtype)[:, None, None, None]
    return ops.clip(images + offset, 0.0, 255.0)


@keras.saving.register_keras_serializable(package="lepton")
class RandomNoise(_SpecLayer):
    """Mix in noise at a level drawn per sample from the floor up to ``factor`` of the pixel range.

    ``factor`` 0.5 means noise up to level 127.5, i.e. ``DB_MIN + 127.5 / LEVELS_PER_DB`` = -40 dBFS per band.
    """

    def augment(self, images):
        batch = ops.shape(images)[0]
        noise_level = self._uniform(batch, 0.0, self.factor * 255.0)
        noise_db = noise_level / LEVELS_PER_DB + DB_MIN
        # Exponential spread per pixel, as a noise periodogram has; the same for the 3 grey channels.
        spread = -ops.log(1.0 - keras.random.uniform(ops.shape(images)[:3], seed=self.seed_generator))
        noise_power = ops.power(10.0, noise_db / 10.0)[:, None, None] * spread
        signal_power = ops.power(10.0, (images / LEVELS_PER_DB + DB_MIN) / 10.0)
        mixed_db = 10.0 * ops.log(signal_power + ops.cast(noise_power[..., None], images.dtype)) / ops.log(10.0)
        return ops.clip((mixed_db - DB_MIN) * LEVELS_PER_DB, 0.0, 255.0)


def audio_layers(cfg, seed: int) -> list[keras.layers.Layer]:
    """The active spectrogram layers of an ``AugmentConfig``, in a fixed order, seeded from ``seed``.

    Order: level changes (gain, then noise) before the masks and the shift, so a masked band stays silent.

    >>> from lepton_widgets.config import AugmentConfig
    >>> [l.__class__.__name__ for l in audio_layers(AugmentConfig(time_mask=0.1, gain_db=6), seed=0)]
    ['RandomGain', 'RandomTimeMask']
    """
    layers = []
    if cfg.gain_db > 0:
        layers.append(RandomGain(cfg.gain_db, seed=seed + 10))
    if cfg.noise > 0:
        layers.append(RandomNoise(cfg.noise, seed=seed + 11))
    if cfg.time_shift > 0:
        layers.append(RandomTimeShift(cfg.time_shift, seed=seed + 12))
    if cfg.time_mask > 0:
        layers.append(RandomTimeMask(cfg.time_mask, seed=seed + 13))
    if cfg.freq_mask > 0:
        layers.append(RandomFrequencyMask(cfg.freq_mask, seed=seed + 14))
    return layers
