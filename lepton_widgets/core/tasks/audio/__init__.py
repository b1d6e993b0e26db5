"""The sound task: the picture task behind a log-mel spectrogram front end.

WAV files become spectrogram images when the data is read (``core/data/audio``), so a sound model is a
picture model whose augmentation is ``augment`` (SpecAugment masks, time shift, gain and noise).
"""
