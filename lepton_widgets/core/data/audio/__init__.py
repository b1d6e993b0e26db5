"""Audio classification through the image engine: WAV files become log-mel spectrogram images.

Importing this package registers the audio datasets: ``wav_folder`` and ``wav_zip`` (bring your own
``.wav`` files, one subfolder per class) and ``spoken_keywords`` (ten synthetic command words made with
espeak-ng). Each loader returns ``uint8`` (64, 98) spectrograms as in-memory arrays with modality
``audio``, so splitting, training, tuning, evaluation and export work unchanged; the spectrogram augmentations
live in :mod:`lepton_widgets.core.tasks.audio.augment`.

Example:
    >>> from lepton_widgets.core.data import list_datasets
    >>> import lepton_widgets.core.data.audio
    >>> list_datasets(modality="audio")
    ['spoken_keywords', 'wav_folder', 'wav_zip']
"""

from lepton_widgets.core.data.audio import keywords, loaders  # noqa: F401 - they register specs
from lepton_widgets.core.data.audio.loaders import audio_records, source_wav, wav_candidates
from lepton_widgets.core.data.audio.spectrogram import (CLIP_SAMPLES, DB_MAX, DB_MIN, LEVELS_PER_DB, N_FRAMES,
                                                        N_MELS, log_mel_images, row_of_frequency)
from lepton_widgets.core.data.audio.wav import SAMPLE_RATE, WavRead, read_wav

__all__ = ["read_wav", "WavRead", "SAMPLE_RATE", "log_mel_images", "row_of_frequency", "CLIP_SAMPLES", "N_MELS",
           "N_FRAMES", "DB_MIN", "DB_MAX", "LEVELS_PER_DB", "audio_records", "wav_candidates", "source_wav"]
