"""The sound task: the picture task on spectrograms, with spectrogram augmentation.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> task = task_for_dataset("spoken_keywords")
    >>> task.name, task.family, task.words
    ('audio', 'image', 'sounds')
"""

from __future__ import annotations

from lepton_widgets.core.tasks.image.task import ImageTask
from lepton_widgets.i18n import N_


class AudioTask(ImageTask):
    """Sounds: the same model, training and steps as pictures (the spectrogram is the picture)."""

    name, words, item_words, family = "audio", N_("sounds"), N_("sound"), "image"

    # the picture augmentations act on the spectrogram, then the sound's own (issue 14 item 6)
    augmentations = ImageTask.augmentations + ("time_mask", "freq_mask", "time_shift", "gain_db", "noise")

    # --- Lepton Auto (issue 15): the picture kit with a sound's own defaults (spectrogram augmentation) ---
    def auto_kit(self):
        from lepton_widgets.core.tasks.audio.auto import AudioAutoKit

        return AudioAutoKit(self)

    run_words = "sound run"  # Evaluate and Export panels (issue 14 items 1 and 6)

    # --- predict (issue 14, core side): WAV files in, through the run's own spectrogram transform ---
    input_words, file_inputs = "sounds (.wav)", "sounds"

    def owns_model(self, model) -> bool:
        return False  # a sound model is a picture model: task_for_model answers ImageTask for both
