"""Bring your own audio: a folder of class folders of ``.wav`` files (``wav_folder``), or a zip of one (``wav_zip``).

Every WAV becomes a log-mel ``uint8`` image (``spectrogram.py``) held in memory, so the rest of the engine
(splitting, the tf.data pipeline, training, evaluation, export) treats it like any built-in image array.
Files that cannot be used get a record with status ``skipped`` and the reason; the others train.

Where the sound lives: array rows keep ``path`` empty, because the pipeline and the gallery read ``path``
as an image file whenever ``array_index`` is -1 (replay tables reset it). Instead each row's ``ref`` is the
WAV's path relative to the folder in ``SampleTable.source``: :func:`source_wav` joins the two, which is
what an audio player in the UI needs.

Example:
    >>> import os, tempfile, wave
    >>> import numpy as np
    >>> from lepton_widgets.config import DataConfig
    >>> root = tempfile.mkdtemp()
    >>> for word, hz in (("low", 300), ("high", 3000)):
    ...     os.makedirs(os.path.join(root, word))
    ...     for i in range(3):
    ...         tone = (0.3 * 32767 * np.sin(2 * np.pi * (hz + 10 * i) * np.arange(8000) / 16000)).astype("<i2")
    ...         with wave.open(os.path.join(root, word, f"{i}.wav"), "wb") as out:
    ...             out.setnchannels(1); out.setsampwidth(2); out.setframerate(16000)
    ...             out.writeframes(tone.tobytes())
    >>> loaded = load_wav_folder(DataConfig(dataset="wav_folder", path=root), Job())
    >>> loaded.modality, loaded.arrays.shape, loaded.records["ref"].tolist()[:2]
    ('audio', (6, 64, 98), ['high/0.wav', 'high/1.wav'])
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from lepton_widgets.core.data.arrays import array_sha256
from lepton_widgets.core.data.audio.spectrogram import N_FRAMES, N_MELS, fit_length, log_mel_images
from lepton_widgets.core.data.audio.wav import read_wav
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.data.registry import (RECORD_COLUMNS, DatasetSpec, LoadedData,
                                               register_dataset)
from lepton_widgets.core.data.safe_zip import extract_zip
from lepton_widgets.core.data.table import STATUS_CONVERTED, DataError, SampleTable
from lepton_widgets.core.data.user_files import dataset_root, list_class_folders, require_path
from lepton_widgets.core.data.validate import FileCandidate
from lepton_widgets.i18n import N_, _

AUDIO_EXTENSIONS = (".wav",)


def wav_candidates(root: Union[str, Path]) -> tuple[list[FileCandidate], list[str]]:
    """The class-folder listing of ``user_files`` with the file-type check redone for audio."""
    candidates, classes = list_class_folders(root)
    for candidate in candidates:
        if candidate.path is None or not candidate.label:
            continue  # already reported (not inside a class folder, ...)
        suffix = candidate.path.suffix.lower()
        if suffix in AUDIO_EXTENSIONS:
            candidate.problem = ""
        else:
            kind = f"file type {suffix}" if suffix else "file type (no extension)"
            candidate.problem = f"unsupported {kind}; audio datasets read .wav files"
    return candidates, classes


def audio_records(candidates: Sequence[FileCandidate], job: Optional[Job] = None
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    """One record per candidate (``registry.RECORD_COLUMNS``) and the spectrograms of the usable ones.

    Usable rows get ``array_index`` into the returned (N, N_MELS, N_FRAMES) ``uint8`` array and the
    spectrogram's content hash, so two files holding the same sound are found as duplicates. ``mode``
    describes the source format (``44,100 Hz stereo 24-bit PCM, 2.50 s``).
    """
    progress = ProgressReporter(job, len(candidates))
    rows, waveforms = [], []
    for candidate in candidates:
        if candidate.problem or candidate.path is None:
            rows.append([candidate.ref, candidate.label, "skipped", candidate.problem or "no file",
                         None, None, None, None, None, -1])
        else:
            clip = read_wav(candidate.path)
            index = -1
            reason = clip.reason
            if clip.samples is not None:
                samples, cut = fit_length(clip.samples)
                if cut:
                    clip.status = STATUS_CONVERTED
                    reason = f"{reason}; {cut}" if reason else cut
                index = len(waveforms)
                waveforms.append(samples)
            usable = index >= 0
            rows.append([candidate.ref, candidate.label, clip.status, reason,
                         N_FRAMES if usable else None, N_MELS if usable else None, clip.describe() or None,
                         clip.sha256, None, index])
        progress.step()
    images = log_mel_images(np.stack(waveforms)) if waveforms else np.zeros((0, N_MELS, N_FRAMES), np.uint8)
    records = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    usable = records["array_index"] >= 0
    # Content hash of what the model sees (the spectrogram), as for built-in arrays.
    records.loc[usable, "sha256"] = [array_sha256(image) for image in images]
    for column in ("width", "height", "array_index"):
        records[column] = records[column].astype("Int64")
    progress.finish()
    return records, images


def loaded_audio(candidates: Sequence[FileCandidate], classes: Sequence[str], root: Path, job: Job,
                 notes: list[str]) -> LoadedData:
    """:class:`LoadedData` (modality ``audio``, ``source`` = the folder the refs are relative to)."""
    records, images = audio_records(candidates, job)
    return LoadedData(records=records, class_names=list(classes), arrays=images, modality="audio",
                      source=str(root), notes=notes + [_(SPECTROGRAM_NOTE)])


SPECTROGRAM_NOTE = N_("Audio: 16 kHz mono, first 1 s (shorter clips padded with silence), shown as 64-band "
                      "log-mel spectrograms (25 ms windows, 10 ms hop) on a fixed -100..+20 dBFS scale.")


def load_wav_folder(data_cfg, job: Job) -> LoadedData:
    """Loader of ``wav_folder``: ``data_cfg.path`` holds one subfolder of ``.wav`` files per class."""
    root = require_path(data_cfg)
    if not root.is_dir():
        raise DataError(f"folder not found: {root}")
    candidates, classes = wav_candidates(root)
    return loaded_audio(candidates, classes, root, job, [f"WAV files read from the folder {root}."])


def load_wav_zip(data_cfg, job: Job) -> LoadedData:
    """Loader of ``wav_zip``: a zip of such a folder, extracted safely once into the cache."""
    archive = require_path(data_cfg)
    folder = extract_zip(archive, job=job)
    root = dataset_root(folder)
    candidates, classes = wav_candidates(root)
    return loaded_audio(candidates, classes, root, job,
                        [f"WAV files read from {archive.name}, extracted (once) to {folder}."])


def source_wav(table: SampleTable, ref: str) -> Optional[Path]:
    """The WAV file behind row ``ref`` of an audio table (for an audio player), or None if it is gone or
    the row is no sound (a picture table's file): the content decides, as when the WAV was read.

    >>> source_wav(SampleTable(pd.DataFrame(), [], modality="image"), "x.wav") is None
    True
    """
    if not table.source:
        return None
    path = Path(table.source) / ref
    try:
        with open(path, "rb") as file:
            header = file.read(12)
    except OSError:  # gone, or a folder
        return None
    return path if header[:4] == b"RIFF" and header[8:12] == b"WAVE" else None


_USER = dict(modality="audio", origin="user", licence=N_("the user's own"))
register_dataset(DatasetSpec(name="wav_folder", loader=load_wav_folder, description=N_("A folder with one "
                             "subfolder of .wav files per class (any rate, depth and channel count)."), **_USER))
register_dataset(DatasetSpec(name="wav_zip", loader=load_wav_zip, description=N_("A zip of such a folder of "
                             ".wav files; extracted safely once into the cache."), **_USER))
