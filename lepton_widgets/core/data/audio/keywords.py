"""``spoken_keywords``: ten command words synthesised with espeak-ng, generated once into the cache.

The words of the Speech Commands keyword-spotting task (yes, no, up, down, left, right, on, off, stop, go),
each spoken :data:`PER_WORD` times by Debian's ``espeak-ng`` with a seeded draw of accent (7 English
voices), voice variant (7 male, 5 female), speed, pitch and loudness, after a short random silence. The same
seed gives the same bytes: espeak-ng runs in its deterministic mode where it has one (``-D``, 1.52+), and
the steps after it (trim, resample, round to 16 bits) use no randomness. This is
SYNTHETIC speech, not recordings of people: a model trained on it learns espeak-ng's voice and does poorly
on human speech or on another synthesiser (measured: 0.13 / 0.06 accuracy across espeak-ng and flite).

Generation takes a few seconds (one process per clip, a few in parallel) and happens on first use into
``cache_dir("spoken_keywords", <recipe>)``. Clips are written to a temporary folder that is renamed into
place only when complete, so an interrupted generation never leaves a half-filled cache; a later call
starts over. espeak-ng's closing silence is cut and the clip resampled to 16 kHz; the lead silence is
shortened where needed so the word fits the 1 s the spectrogram keeps. The WAVs stay in the cache (16 kHz
mono 16-bit, with ``.manifest.json`` listing every clip's recipe), so the UI can play them
(``loaders.source_wav``).

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.data import prepare_data
    >>> prepared = prepare_data(DataConfig(dataset="spoken_keywords", max_per_class=5), seed=0)  # doctest: +SKIP
    >>> prepared.class_names[:3], prepared.table.arrays.shape[1:]                             # doctest: +SKIP
    (['yes', 'no', 'up'], (64, 98))
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from lepton_widgets.core.base.atomic import atomic_write_text
from lepton_widgets.core.data.audio.loaders import SPECTROGRAM_NOTE, loaded_audio, wav_candidates
from lepton_widgets.core.data.audio.spectrogram import CLIP_SAMPLES
from lepton_widgets.core.data.audio.wav import SAMPLE_RATE, resample
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.data.registry import DatasetSpec, LoadedData, register_dataset
from lepton_widgets.core.data.split import class_seed
from lepton_widgets.core.data.table import DataError
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.i18n import N_, _

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
PER_WORD = 60
SEED = 0
#: Bump when the recipe changes: it names the cache folder, so old clips are never mixed with new ones.
RECIPE_VERSION = 2
ESPEAK = "espeak-ng"
INSTALL_HINT = "install it with `apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng` (macOS)"
#: Each clip is a process spawn; a few at a time keep the CPU busy without starving the UI or training.
MAX_WORKERS = 4
_COMPLETE = ".lepton-complete"
#: Trailing samples quieter than this (about -60 dBFS) are espeak-ng's closing silence and are cut.
SILENCE_LEVEL = 1e-3

_memo: dict[str, tuple] = {}
_memo_lock = threading.Lock()
_generate_lock = threading.Lock()


@dataclass(frozen=True)
class ClipRecipe:
    """How one clip is spoken; the file name says it too, so a person can hear what varies."""

    word: str
    index: int
    accent: str
    variant: str
    speed: int      # words per minute (espeak-ng -s)
    pitch: int      # 0..99 (espeak-ng -p)
    amplitude: int  # 0..200, 100 is normal (espeak-ng -a)
    lead_ms: int    # silence before the word

    @property
    def relative_path(self) -> str:
        return (f"{self.word}/{self.index:03d}_{self.accent}+{self.variant}_s{self.speed}_p{self.pitch}"
                f"_a{self.amplitude}.wav")


def recipes(per_word: int = PER_WORD, seed: int = SEED, words=WORDS) -> list[ClipRecipe]:
    """The seeded recipe of every clip; each word draws from its own stream, so words are independent.

    >>> [r.relative_path for r in recipes(per_word=1, words=("yes",))] == \\
    ...     [r.relative_path for r in recipes(per_word=1, words=("yes",))]
    True
    """
    found = []
    for word in words:
        rng = np.random.default_rng(class_seed(seed, word, "spoken_keywords"))
        for index in range(per_word):
            found.append(ClipRecipe(word, index, str(rng.choice(ACCENTS)), str(rng.choice(VARIANTS)),
                                    int(rng.integers(120, 221)), int(rng.integers(20, 81)),
                                    int(rng.integers(40, 161)), int(rng.integers(0, 201))))
    return found


@functools.lru_cache(maxsize=None)
def _deterministic_option(program: Optional[str]) -> tuple[str, ...]:
    """``("-D",)`` when this espeak-ng has a deterministic mode, else ``()``.

    The breathy voice variants (f2, f3, f5) add noise from espeak-ng's random generator. espeak-ng 1.52 and
    later seed it from the clock's second (``time(NULL)``) unless given ``-D``, which seeds it with 1: without
    it, two generations a second apart differ. 1.51 (Debian 12) has no ``-D`` (an unknown option makes it
    exit without speaking) and uses ``rand()`` unseeded, which is already the same on every run.
    """
    if program is None:
        return ()
    try:
        done = subprocess.run([program, "--help"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ()
    return ("-D",) if b"deterministic" in done.stdout.lower() else ()


def _synthesise(recipe: ClipRecipe, folder: Path) -> None:
    """Speak one clip with espeak-ng into a scratch file, then write it with its lead silence."""
    target = folder / recipe.relative_path
    scratch = target.with_suffix(".espeak.wav")
    command = [ESPEAK, *_deterministic_option(shutil.which(ESPEAK)), "-w", str(scratch),
               "-v", f"{recipe.accent}+{recipe.variant}", "-s", str(recipe.speed),
               "-p", str(recipe.pitch), "-a", str(recipe.amplitude), recipe.word]
    done = subprocess.run(command, capture_output=True, timeout=60)
    if done.returncode != 0 or not scratch.is_file():
        raise DataError(f"espeak-ng failed for {recipe.relative_path} (exit {done.returncode}): "
                        f"{done.stderr.decode(errors='replace').strip()[:300]}")
    with wave.open(str(scratch), "rb") as reader:
        rate, width = reader.getframerate(), reader.getsampwidth()
        frames = reader.readframes(reader.getnframes())
    if width != 2 or reader.getnchannels() != 1:
        raise DataError(f"espeak-ng wrote {reader.getnchannels()} channels of {8 * width}-bit audio; expected 16-bit "
                        "mono")
    speech = np.frombuffer(frames, "<i2").astype(np.float64) / 32768.0
    loud = np.flatnonzero(np.abs(speech) > SILENCE_LEVEL)
    speech = speech[:loud[-1] + 1] if len(loud) else speech  # espeak-ng ends with ~0.1 s of silence
    speech = resample(speech, rate)  # stored at the engine's 16 kHz: the loader then reports clips as ok
    # The drawn lead silence, shortened so the word still fits the 1 s clip the spectrogram keeps.
    lead = min(SAMPLE_RATE * recipe.lead_ms // 1000, max(0, CLIP_SAMPLES - len(speech)))
    clip = np.concatenate([np.zeros(lead), speech])
    pcm = np.clip(np.rint(clip * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(target), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())
    scratch.unlink()


def generate_keywords(target: Path, per_word: int = PER_WORD, seed: int = SEED, words=WORDS,
                      job: Optional[Job] = None) -> Path:
    """Synthesise the set into ``target`` (atomically: all or nothing) and return ``target``.

    Does nothing when ``target`` is already complete. Raises :class:`DataError` when espeak-ng is
    missing or fails, and ``Cancelled`` when ``job.stop_event`` is set; either way nothing is left behind.
    """
    target = Path(target)
    if (target / _COMPLETE).is_file():
        return target
    if shutil.which(ESPEAK) is None:
        raise DataError(f"the spoken_keywords dataset is synthesised with the speech synthesiser espeak-ng, "
                        f"which was not found on PATH; {INSTALL_HINT}")
    job = job or Job()
    plan = recipes(per_word, seed, words)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))  # same file system: rename is atomic
    try:
        for word in words:
            (staging / word).mkdir()
        progress = ProgressReporter(job, len(plan), task="synthesise")
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, os.cpu_count() or 1)) as pool:
            futures = [pool.submit(_synthesise, recipe, staging) for recipe in plan]
            try:
                for future in futures:
                    future.result()
                    progress.step()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        progress.finish()
        manifest = {"recipe_version": RECIPE_VERSION, "seed": seed, "per_word": per_word, "words": list(words),
                    "espeak_ng": _espeak_version(), "clips": [asdict(r) for r in plan]}
        atomic_write_text(staging / ".manifest.json", json.dumps(manifest, indent=1))
        atomic_write_text(staging / _COMPLETE, "complete\n")
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / _COMPLETE).is_file():  # not another process finishing first: a real error
                raise
            shutil.rmtree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _espeak_version() -> str:
    done = subprocess.run([ESPEAK, "--version"], capture_output=True, timeout=30)
    return done.stdout.decode(errors="replace").strip()


def keywords_dir(per_word: int = PER_WORD, seed: int = SEED, words=WORDS) -> Path:
    """Cache folder of one recipe: named by a hash of everything that shapes the clips."""
    key = json.dumps([RECIPE_VERSION, per_word, seed, list(words), ACCENTS, VARIANTS])
    return cache_dir("spoken_keywords") / f"v{RECIPE_VERSION}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def load_spoken_keywords(data_cfg, job: Job) -> LoadedData:
    """Loader of ``spoken_keywords``: generate on first use, then read like a ``wav_folder``."""
    root = keywords_dir()
    with _generate_lock:  # two threads asking at once generate once
        fresh = not (root / _COMPLETE).is_file()
        generate_keywords(root, job=job)
    with _memo_lock:
        cached = _memo.get(str(root))
    if cached is None:
        candidates, classes = wav_candidates(root)
        loaded = loaded_audio(candidates, classes, root, job, [])
        cached = (loaded.records, loaded.arrays, loaded.class_names)
        with _memo_lock:
            _memo.clear()
            _memo[str(root)] = cached
    else:
        ProgressReporter(job, len(cached[0])).finish()  # still tell the UI the validate step is done
    records, arrays, classes = cached
    how = _("synthesised now") if fresh else _("cached")
    notes = [_("spoken_keywords: {clips} clips of {words} words spoken by espeak-ng ({how} in {folder}). "
               "SYNTHETIC speech, not recordings of people.").format(clips=len(records), words=len(WORDS), how=how,
                                                                     folder=root)]
    return LoadedData(records=records.copy(), class_names=list(classes), arrays=arrays, modality="audio",
                      source=str(root), notes=notes + [_(SPECTROGRAM_NOTE)])


#: The dataset card's words (a literal, so the catalogue can translate it; the counts are checked below).
DESCRIPTION = N_("SYNTHETIC: 10 spoken command words (yes, no, up, down, left, right, on, off, stop, go), 60 each, "
                 "made on this machine by the espeak-ng speech synthesiser over 7 accents, 12 voices, speeds, "
                 "pitches and levels. A stand-in for Speech Commands; not human speech.")
assert DESCRIPTION.startswith(f"SYNTHETIC: {len(WORDS)} spoken command words ({', '.join(WORDS)}), {PER_WORD} each")
register_dataset(DatasetSpec(
    name="spoken_keywords", modality="audio", origin="synthetic/substitute", loader=load_spoken_keywords,
    description=DESCRIPTION,
    licence=N_("generated locally with espeak-ng (GPL-3.0 program; its output carries no third-party rights)"),
    class_names=WORDS, homepage="https://github.com/espeak-ng/espeak-ng",
    extra={"needs": "apt-get install espeak-ng"},
))
