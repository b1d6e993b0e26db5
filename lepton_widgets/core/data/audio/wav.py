"""Read a WAV file into a 16 kHz mono clip, or say exactly why it cannot be used.

Only the standard library's ``wave`` module and numpy are needed for integer PCM (8-bit unsigned, 16-, 24-
and 32-bit signed, any channel count); IEEE-float and WAVE_FORMAT_EXTENSIBLE files, which ``wave`` refuses,
are read with ``scipy.io.wavfile``. Channels are averaged to mono and any sample rate is resampled to
:data:`SAMPLE_RATE` with ``scipy.signal.resample_poly`` (a polyphase anti-aliasing filter). Samples come
back as float32 in [-1, 1] relative to digital full scale, so level differences between files survive.

Before any sample is decoded the header is checked against ``core/base/limits.py``: the declared sample rate
(:data:`~lepton_widgets.core.base.limits.MIN_WAV_RATE`-:data:`~lepton_widgets.core.base.limits.MAX_WAV_RATE`; a WAV
declaring 1 Hz would otherwise be resampled x16,000) and the duration of the audio present
(:data:`~lepton_widgets.core.base.limits.MAX_WAV_SECONDS`). A ``fmt`` chunk that is too short or says format 0,
0 channels or 0 Hz is a damaged header, not a compression.

Nothing is ever written: the file is read once into memory. Every problem becomes a
:class:`WavRead` with status ``skipped`` and a reason a person can act on (empty file, truncated data,
not a WAV at all, a compressed encoding...); the caller records it and carries on with the other files.

Example:
    >>> import io, os, tempfile, wave
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> tone = (0.5 * 32767 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)).astype("<i2")
    >>> with wave.open(path, "wb") as out:
    ...     out.setnchannels(1); out.setsampwidth(2); out.setframerate(8000); out.writeframes(tone.tobytes())
    >>> clip = read_wav(path)
    >>> clip.status, clip.samples.shape, clip.describe()
    ('converted', (16000,), '8,000 Hz mono 16-bit PCM, 1.00 s')
    >>> read_wav(__file__).reason
    'not a WAV file (no RIFF/WAVE header)'
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from lepton_widgets.core.base import limits
from lepton_widgets.core.data.table import STATUS_CONVERTED, STATUS_OK, STATUS_SKIPPED
from lepton_widgets.core.data.validate import read_checked_bytes

#: Every clip is resampled to this rate (Hz): enough for speech, and what keyword-spotting models use.
SAMPLE_RATE = 16_000
# Files over validate.MAX_FILE_BYTES (256 MB) are not read; a 10-minute 48 kHz stereo 16-bit WAV is ~115 MB.

#: Format tags (WAVEFORMATEX.wFormatTag) that are read, and names for common ones that are not.
PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_TAG_NAMES = {0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
              0x0031: "GSM 6.10", 0x0055: "MP3", 0x0160: "WMA"}
#: First bytes of other audio containers people rename to .wav by mistake.
_OTHER_FORMATS = {b"ID3": "MP3", b"\xff\xfb": "MP3", b"\xff\xf3": "MP3", b"fLaC": "FLAC", b"OggS": "Ogg",
                  b"FORM": "AIFF", b"RIFX": "big-endian WAV (RIFX)"}


@dataclass
class WavRead:
    """What reading one file found. ``samples`` (float32, mono, :data:`SAMPLE_RATE`) is set when usable."""

    status: str
    reason: str = ""
    samples: Optional[np.ndarray] = None
    rate: Optional[int] = None
    channels: Optional[int] = None
    bits: Optional[int] = None
    encoding: str = "PCM"
    frames: Optional[int] = None
    sha256: Optional[str] = None

    @property
    def seconds(self) -> Optional[float]:
        return None if self.frames is None or not self.rate else self.frames / self.rate

    def describe(self) -> str:
        """The source format in words, e.g. ``44,100 Hz stereo 24-bit PCM, 2.50 s``."""
        if self.rate is None:
            return ""
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}-channel")
        text = f"{self.rate:,} Hz {layout} {self.bits}-bit {self.encoding}"
        return text if self.seconds is None else f"{text}, {self.seconds:.2f} s"


def read_wav(path: Union[str, Path]) -> WavRead:
    """Read ``path`` as a mono float32 clip at :data:`SAMPLE_RATE`; status ``ok``, ``converted`` or ``skipped``.

    ``ok`` means the file already was 16 kHz mono; ``converted`` says in ``reason`` what was changed
    (resampled, mixed down). The length is not changed here (see ``spectrogram.fit_length``).
    """
    data, why = read_checked_bytes(path)
    if data is None:
        return WavRead(STATUS_SKIPPED, why)
    result = decode_wav(data)
    result.sha256 = hashlib.sha256(data).hexdigest()
    return result


def decode_wav(data: bytes) -> WavRead:
    """:func:`read_wav` on bytes already in memory."""
    if len(data) == 0:
        return WavRead(STATUS_SKIPPED, "empty file (0 bytes)")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        for magic, name in _OTHER_FORMATS.items():
            if data.startswith(magic):
                return WavRead(STATUS_SKIPPED, f"not a WAV file (looks like {name}); convert it to PCM WAV")
        return WavRead(STATUS_SKIPPED, "not a WAV file (no RIFF/WAVE header)")
    try:
        tag = _check_header(data)
        if tag == PCM:
            raw, found = _read_pcm_with_wave(data)
        elif tag in (IEEE_FLOAT, EXTENSIBLE):
            raw, found = _read_with_scipy(data, tag)
        else:
            raise AssertionError(tag)  # _check_header refuses every other tag
    except _Unusable as exc:
        return WavRead(STATUS_SKIPPED, str(exc))
    return _finish(raw, found)


class _Unusable(Exception):
    """Internal: the file cannot be used; the message is the reason recorded for it."""


def _format_fields(data: bytes) -> tuple[int, int, int, int]:
    """(wFormatTag, channels, sample rate, block align) of the first ``fmt `` chunk (EXTENSIBLE: tag
    0xFFFE); :class:`_Unusable` ("damaged WAV ...") when it is missing, cut short or under 16 bytes."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if chunk_id == b"fmt ":
            if size < 16:
                raise _Unusable(f"damaged WAV header: the 'fmt ' chunk holds {size} bytes; a WAV's has at least 16")
            if offset + 24 > len(data):
                raise _Unusable("damaged WAV header: the file ends inside its 'fmt ' chunk")
            tag, channels, rate, _, block_align = struct.unpack("<HHIIH", data[offset + 8:offset + 22])
            return tag, channels, rate, block_align
        if chunk_id == b"data":
            break
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    raise _Unusable("damaged WAV header: no 'fmt ' chunk before the audio data")


def _check_header(data: bytes) -> int:
    """The format tag, once the header is whole, the encoding readable and the declared rate and duration
    within ``core/base/limits.py``: all before a single sample is decoded or resampled."""
    tag, channels, rate, block_align = _format_fields(data)
    if tag == 0 or channels == 0 or rate == 0 or block_align == 0:
        raise _Unusable(f"damaged WAV header: its 'fmt ' chunk says format tag 0x{tag:04x}, {channels} channels, "
                        f"{rate:,} Hz, {block_align} bytes per frame")
    if tag not in (PCM, IEEE_FLOAT, EXTENSIBLE):
        name = _TAG_NAMES.get(tag, "unknown")
        raise _Unusable(f"unsupported WAV compression: {name} (format tag 0x{tag:04x}); "
                        "only uncompressed PCM and IEEE-float WAV are read")
    if not limits.MIN_WAV_RATE <= rate <= limits.MAX_WAV_RATE:
        raise _Unusable(f"sample rate {rate:,} Hz is outside {limits.MIN_WAV_RATE:,}-{limits.MAX_WAV_RATE:,} Hz, "
                        f"the rates read (LEPTON_MIN_WAV_RATE, LEPTON_MAX_WAV_RATE); a damaged header, or "
                        f"resample the file")
    payload = _chunk(data, b"data")
    if payload is not None:
        present = min(payload[1], max(0, len(data) - payload[0]))  # a size beyond the file is truncation
        seconds = present // block_align / rate
        if seconds > limits.MAX_WAV_SECONDS:
            raise _Unusable(f"{seconds:,.1f} s of audio, longer than the {limits.MAX_WAV_SECONDS:,} s a clip may be "
                            f"(LEPTON_MAX_WAV_SECONDS); cut it into shorter clips")
    return tag


def _read_pcm_with_wave(data: bytes) -> tuple[np.ndarray, WavRead]:
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate, declared = (reader.getnchannels(), reader.getsampwidth(),
                                               reader.getframerate(), reader.getnframes())
            if channels < 1 or rate < 1 or width not in (1, 2, 3, 4):
                raise _Unusable(f"unsupported WAV layout: {channels} channels, {8 * width}-bit, {rate} Hz")
            frames = reader.readframes(declared)
    except (wave.Error, EOFError, struct.error) as exc:
        raise _Unusable(f"damaged WAV header: {exc or type(exc).__name__}") from None
    found = WavRead(STATUS_OK, rate=rate, channels=channels, bits=8 * width, frames=declared)
    present = len(frames) // (width * channels)
    _check_length(declared, present, rate)
    return _pcm_to_float(frames[:present * width * channels], width).reshape(present, channels), found


def _check_length(declared: int, present: int, rate: int) -> None:
    if declared == 0:
        raise _Unusable("zero-length audio (the WAV holds no samples)")
    if present < declared:
        raise _Unusable(f"truncated WAV: the header declares {declared:,} frames ({declared / rate:.2f} s) but "
                        f"only {present:,} are in the file")


def _pcm_to_float(frames: bytes, width: int) -> np.ndarray:
    """Little-endian PCM bytes to float32 in [-1, 1); 8-bit WAV is unsigned (128 is silence)."""
    if width == 1:
        return (np.frombuffer(frames, np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:
        # No numpy 24-bit type: place each 3-byte sample in the top of an int32, then shift back (sign kept).
        triplets = np.frombuffer(frames, np.uint8).reshape(-1, 3)
        padded = np.zeros((len(triplets), 4), np.uint8)
        padded[:, 1:] = triplets
        return (padded.view("<i4").reshape(-1) >> 8).astype(np.float32) / float(1 << 23)
    dtype = {2: "<i2", 4: "<i4"}[width]
    return (np.frombuffer(frames, dtype).astype(np.float64) / float(1 << (8 * width - 1))).astype(np.float32)


def _read_with_scipy(data: bytes, tag: int) -> tuple[np.ndarray, WavRead]:
    import warnings

    from scipy.io import wavfile  # deferred: only float and EXTENSIBLE files need it

    declared = _declared_frames(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # unknown chunks (LIST, ...) are fine
            rate, samples = wavfile.read(io.BytesIO(data), mmap=False)
    except ValueError as exc:
        text = str(exc)
        if "format" in text.lower() or "not understood" in text.lower():
            raise _Unusable(f"unsupported WAV encoding ({text}); only uncompressed PCM and IEEE-float "
                            "WAV are read") from None
        raise _Unusable(f"damaged WAV file: {text}") from None
    except Exception as exc:  # noqa: BLE001 - scipy raises several types for damaged files
        raise _Unusable(f"damaged WAV file: {exc or type(exc).__name__}") from None
    samples = samples.reshape(len(samples), -1)
    kind, itemsize = samples.dtype.kind, samples.dtype.itemsize
    if declared is not None:
        _check_length(declared, len(samples), rate)
    if kind == "f":
        audio, bits, encoding = samples.astype(np.float32), 8 * itemsize, "float"
    elif kind == "u":
        audio, bits, encoding = (samples.astype(np.float32) - 128.0) / 128.0, 8, "PCM"
    else:  # scipy returns 24-bit PCM left-justified in int32, so full scale is 2**31 either way
        audio = (samples.astype(np.float64) / float(1 << (8 * itemsize - 1))).astype(np.float32)
        bits, encoding = _bits_per_sample(data) or 8 * itemsize, "PCM"
    found = WavRead(STATUS_OK, rate=int(rate), channels=samples.shape[1], bits=bits, encoding=encoding,
                    frames=len(samples))
    if tag == EXTENSIBLE:
        found.encoding += " (extensible)"
    return audio, found


def _chunk(data: bytes, wanted: bytes) -> Optional[tuple[int, int]]:
    """(offset of the payload, declared size) of the first chunk ``wanted``."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if chunk_id == wanted:
            return offset + 8, size
        offset += 8 + size + (size & 1)
    return None


def _bits_per_sample(data: bytes) -> Optional[int]:
    fmt = _chunk(data, b"fmt ")
    return struct.unpack("<H", data[fmt[0] + 14:fmt[0] + 16])[0] if fmt and fmt[1] >= 16 else None


def _declared_frames(data: bytes) -> Optional[int]:
    fmt, payload = _chunk(data, b"fmt "), _chunk(data, b"data")
    if not fmt or not payload or fmt[1] < 16:
        return None
    block_align = struct.unpack("<H", data[fmt[0] + 12:fmt[0] + 14])[0]
    return payload[1] // block_align if block_align else None


def _finish(raw: np.ndarray, found: WavRead) -> WavRead:
    """Mix down, resample, and say what changed."""
    if not np.all(np.isfinite(raw)):
        return WavRead(STATUS_SKIPPED, "WAV holds NaN or infinite samples", rate=found.rate,
                       channels=found.channels, bits=found.bits, encoding=found.encoding, frames=found.frames)
    mono = raw.mean(axis=1, dtype=np.float64) if raw.shape[1] > 1 else raw[:, 0].astype(np.float64)
    changes = []
    if found.channels > 1:
        changes.append(f"mixed {found.channels} channels to mono")
    if found.rate != SAMPLE_RATE:
        mono = resample(mono, found.rate)
        changes.append(f"resampled {found.rate:,} Hz to {SAMPLE_RATE:,} Hz")
    found.samples = mono.astype(np.float32)
    if changes:
        found.status, found.reason = STATUS_CONVERTED, "; ".join(changes)
    return found


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """``samples`` at ``rate`` resampled to ``target`` Hz (polyphase, with scipy's anti-aliasing filter).

    >>> resample(np.ones(44_100), 44_100).shape
    (16000,)
    """
    from scipy.signal import resample_poly  # deferred: scipy.signal takes ~0.3 s to import

    common = math.gcd(int(rate), int(target))
    return resample_poly(samples, target // common, int(rate) // common)
