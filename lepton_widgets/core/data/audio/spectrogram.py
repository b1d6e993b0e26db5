"""Log-mel spectrograms as ``uint8`` images, so audio flows through the image engine unchanged.

Parameters (fixed, so every clip, run and exported model agrees):

* clip: :data:`CLIP_SAMPLES` = 16,000 samples (1 s at 16 kHz); shorter clips are padded with silence at the
  end, longer ones keep their first second (``fit_length``).
* STFT: 25 ms Hann windows (400 samples) every 10 ms (160), FFT size 512 -> 98 frames.
* mel: 64 bands from 20 Hz to 8 kHz (``tf.signal.linear_to_mel_weight_matrix``, HTK mel scale).
* level: power is scaled so a full-scale sine peaks at 0 dB (dBFS) in its band, then mapped LINEARLY from the
  FIXED range [:data:`DB_MIN`, :data:`DB_MAX`] = [-100, +20] dBFS onto 0..255 (0.47 dB per level), clipped.
  The range is absolute, not relative to each clip's maximum, so a quieter recording really is darker and a
  gain of ``g`` dB is exactly an offset of ``g * LEVELS_PER_DB`` grey levels (what ``RandomGain`` uses).
* layout: (64, 98) = (mel band, time frame); row 0 is the HIGHEST band, so shown as an image the
  spectrogram reads like any spectrogram plot (low frequencies at the bottom, time left to right).

Example:
    >>> import numpy as np
    >>> t = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    >>> image = log_mel_images(np.sin(2 * np.pi * 440 * t)[None])[0]
    >>> image.shape, image.dtype.name
    ((64, 98), 'uint8')
    >>> int(np.argmax(image[:, 50])) == row_of_frequency(440.0)
    True
"""

from __future__ import annotations

import functools

import numpy as np

from lepton_widgets.core.data.audio.wav import SAMPLE_RATE

CLIP_SECONDS = 1.0
CLIP_SAMPLES = int(CLIP_SECONDS * SAMPLE_RATE)
FRAME_LENGTH = 400
FRAME_STEP = 160
FFT_LENGTH = 512
N_MELS = 64
F_MIN, F_MAX = 20.0, 8000.0
N_FRAMES = 1 + (CLIP_SAMPLES - FRAME_LENGTH) // FRAME_STEP
#: The fixed level range mapped onto 0..255 (dB re a full-scale sine). -100 dBFS is below 16-bit noise.
DB_MIN, DB_MAX = -100.0, 20.0
LEVELS_PER_DB = 255.0 / (DB_MAX - DB_MIN)
#: Power floor before the log: anything quieter lands on level 0.
_POWER_FLOOR = 10.0 ** (DB_MIN / 10.0) / 10.0
#: A periodic Hann window of FRAME_LENGTH sums to FRAME_LENGTH/2; a sine of amplitude A then peaks at
#: A * sum/2 in the STFT, so dividing the magnitude by sum/2 puts a full-scale sine at 0 dB.
_MAGNITUDE_SCALE = 2.0 / (FRAME_LENGTH / 2.0)


def fit_length(samples: np.ndarray, length: int = CLIP_SAMPLES) -> tuple[np.ndarray, str]:
    """Pad with silence or keep the first ``length`` samples; also a note when something was cut.

    >>> fit_length(np.ones(3), 5)[0].tolist(), fit_length(np.ones(32_000))[1]
    ([1.0, 1.0, 1.0, 0.0, 0.0], 'trimmed 2.00 s to the first 1.00 s')
    """
    samples = np.asarray(samples, np.float32)
    if len(samples) >= length:
        note = "" if len(samples) == length else \
            f"trimmed {len(samples) / SAMPLE_RATE:.2f} s to the first {length / SAMPLE_RATE:.2f} s"
        return samples[:length], note
    return np.pad(samples, (0, length - len(samples))), ""


@functools.lru_cache(maxsize=1)
def _mel_matrix():
    import tensorflow as tf

    return tf.signal.linear_to_mel_weight_matrix(N_MELS, FFT_LENGTH // 2 + 1, SAMPLE_RATE, F_MIN, F_MAX)


def log_mel_db(waveforms: np.ndarray) -> np.ndarray:
    """dBFS log-mel power of (N, CLIP_SAMPLES) float waveforms: float32 (N, N_FRAMES, N_MELS), low band first."""
    import tensorflow as tf

    signal = tf.convert_to_tensor(np.asarray(waveforms, np.float32))
    stft = tf.signal.stft(signal, FRAME_LENGTH, FRAME_STEP, FFT_LENGTH, window_fn=tf.signal.hann_window)
    power = tf.square(tf.abs(stft) * _MAGNITUDE_SCALE)
    mel = tf.tensordot(power, _mel_matrix(), 1)
    return (10.0 * tf.math.log(tf.maximum(mel, _POWER_FLOOR)) / tf.math.log(10.0)).numpy()


def db_to_levels(db: np.ndarray) -> np.ndarray:
    """The fixed dB -> 0..255 mapping (float, unclipped and unrounded), shared with the augmentation layers."""
    return (np.asarray(db, np.float64) - DB_MIN) * LEVELS_PER_DB


def levels_to_db(levels):
    """Inverse of :func:`db_to_levels` (works on numpy arrays and tensors alike)."""
    return levels / LEVELS_PER_DB + DB_MIN


def log_mel_images(waveforms: np.ndarray, batch: int = 256) -> np.ndarray:
    """``uint8`` (N, N_MELS, N_FRAMES) images of (N, CLIP_SAMPLES) waveforms (see the module docstring)."""
    waveforms = np.asarray(waveforms, np.float32)
    if waveforms.ndim != 2 or waveforms.shape[1] != CLIP_SAMPLES:
        raise ValueError(f"waveforms must be (N, {CLIP_SAMPLES}), got {waveforms.shape}")
    out = np.empty((len(waveforms), N_MELS, N_FRAMES), np.uint8)
    for start in range(0, len(waveforms), batch):  # bounded memory for big folders
        db = log_mel_db(waveforms[start:start + batch])
        levels = np.clip(np.rint(db_to_levels(db)), 0, 255).astype(np.uint8)
        out[start:start + batch] = np.transpose(levels, (0, 2, 1))[:, ::-1, :]  # (mel, time), high band on top
    return out


def mel_band_centres() -> np.ndarray:
    """Centre frequency (Hz) of each mel band, lowest band first (HTK mel scale, as tf.signal uses)."""
    to_mel = lambda hz: 1127.0 * np.log1p(np.asarray(hz) / 700.0)  # noqa: E731 - a one-line formula
    edges = np.linspace(to_mel(F_MIN), to_mel(F_MAX), N_MELS + 2)
    return 700.0 * np.expm1(edges[1:-1] / 1127.0)


def row_of_frequency(hz: float) -> int:
    """Image row whose mel band is centred nearest ``hz`` (row 0 is the highest band)."""
    band = int(np.argmin(np.abs(mel_band_centres() - hz)))
    return N_MELS - 1 - band
