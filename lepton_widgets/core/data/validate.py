"""Check every image file with Pillow, and convert the ones tf.data cannot read natively.

Each file gets one record. A file is opened lazily first (header only) so a decompression bomb is caught
from its declared size before any pixels are decoded; then it is verified and fully decoded, which finds
truncated and corrupt files. 8-bit grey or RGB JPEG/PNG/BMP files are what ``tf.io.decode_image`` reads
correctly, so they are used where they are (status ``ok``). Everything else Pillow can read (CMYK, 16-bit,
alpha, palette, GIF, WEBP, 1-bit...) is converted once to an 8-bit RGB PNG in ``cache_dir("converted")``
named by the original's content hash (status ``converted``). The user's files are only ever read.

Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> os.environ["LEPTON_HOME"] = tempfile.mkdtemp()
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.new("RGBA", (4, 3), (255, 0, 0, 128)).save(path)
    >>> check = check_image_file(path)
    >>> check.status, check.reason, (check.width, check.height, check.mode)
    ('converted', 'converted from PNG RGBA with transparency (composited on white) to 8-bit RGB PNG', (4, 3, 'RGBA'))
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from lepton_widgets.core.base.atomic import atomic_write
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.data.registry import RECORD_COLUMNS
from lepton_widgets.core.data.table import STATUS_CONVERTED, STATUS_OK, STATUS_SKIPPED
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.i18n import _

#: Images with more pixels than this are refused before decoding (Pillow's own default is ~89 M).
PIXEL_LIMIT = 40_000_000
#: Files larger than this are not read at all.
MAX_FILE_BYTES = 256 << 20
#: The only decoders Pillow may use, whatever the file is called. Others (EPS runs Ghostscript, ...) are
#: attack surface a dataset does not need; a file in another format is reported as not an image.
PILLOW_FORMATS = ("JPEG", "PNG", "BMP", "DIB", "GIF", "WEBP")  # JPEG also opens MPO (camera) files
#: Formats and modes ``tf.io.decode_image`` decodes to the same pixels Pillow sees (PNG/BMP checked further).
NATIVE_MODES = {"JPEG": ("L", "RGB"), "PNG": ("L", "RGB"), "BMP": ("RGB",)}


@dataclass
class FileCandidate:
    """A file a loader found. ``problem`` set means it is reported as skipped without being opened."""

    ref: str
    label: str
    path: Optional[Path]
    problem: str = ""


@dataclass
class ImageCheck:
    status: str
    reason: str = ""
    width: Optional[int] = None
    height: Optional[int] = None
    mode: Optional[str] = None
    sha256: Optional[str] = None
    path: Optional[str] = None  # what the pipeline reads: the original or the converted copy


def read_checked_bytes(path: Union[str, Path]) -> tuple[Optional[bytes], str]:
    """A user file's bytes, or ``None`` and why it is skipped: empty, over :data:`MAX_FILE_BYTES`, unreadable.
    The size is checked before reading, so a huge file is never loaded into memory."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return None, _("empty file (0 bytes)")
        if size > MAX_FILE_BYTES:
            return None, _("file too large ({size} bytes; limit {limit})").format(size=f"{size:,}", limit=f"{MAX_FILE_BYTES:,}")
        return path.read_bytes(), ""
    except OSError as exc:
        return None, _("cannot read file: {error}").format(error=exc.strerror or exc)


def check_image_file(path: Union[str, Path]) -> ImageCheck:
    """Validate one image file and, if needed, convert it; see the module docstring."""
    data, why = read_checked_bytes(path)
    if data is None:
        return ImageCheck(STATUS_SKIPPED, why)
    sha = hashlib.sha256(data).hexdigest()
    check = _check_bytes(data, sha)
    check.sha256 = sha
    if check.status == STATUS_OK:
        check.path = str(path)
    return check


def _check_bytes(data: bytes, sha: str) -> ImageCheck:
    with warnings.catch_warnings():
        # Our own, lower limit is checked below with the real width and height in the message.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)
        except Image.DecompressionBombError as exc:
            return ImageCheck(STATUS_SKIPPED, _("decompression bomb: {size} pixels").format(size=_bomb_size(data, exc)))
        except UnidentifiedImageError:
            return ImageCheck(STATUS_SKIPPED, _("not an image (not JPEG, PNG, BMP, GIF or WEBP data)"))
        except Exception as exc:  # noqa: BLE001 - any failure to parse the header means unreadable
            return ImageCheck(STATUS_SKIPPED, _("unreadable image header: {error}").format(error=exc))
        fmt, mode, (width, height) = image.format or "image", image.mode, image.size
        found = dict(width=width, height=height, mode=mode)
        if width * height > PIXEL_LIMIT:
            return ImageCheck(STATUS_SKIPPED, _("decompression bomb: {width} x {height} pixels (limit {limit})")
                              .format(width=width, height=height, limit=f"{PIXEL_LIMIT:,}"), **found)
        try:
            image.verify()  # checksums and structure (PNG CRCs, ...)
            image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)  # verify() leaves the image unusable: reopen
            image.load()  # decode every pixel: truncated and corrupt data fail here
        except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, struct.error, ...
            return ImageCheck(STATUS_SKIPPED, _("corrupt or truncated {format} file: {error}").format(format=fmt, error=exc),
                              **found)
        if _is_native(fmt, mode, image, data):
            return ImageCheck(STATUS_OK, "", **found)
        # Pillow shows a 16-bit RGB(A) PNG as plain RGB(A): name the depth from the header.
        depth = " 16-bit" if fmt == "PNG" and data[24] == 16 and not mode.startswith(("I", "F")) else ""
        try:
            rgb, how = to_rgb(image, depth)
        except Exception as exc:  # noqa: BLE001 - e.g. an exotic mode Pillow cannot convert
            return ImageCheck(STATUS_SKIPPED, _("cannot convert {format} {mode} to RGB: {error}").format(
                format=fmt, mode=mode, error=exc), **found)
    converted = _save_converted(rgb, sha)
    return ImageCheck(STATUS_CONVERTED, _("converted from {format} {how} to 8-bit RGB PNG").format(format=fmt, how=how),
                      path=str(converted), **found)


def _is_native(fmt: str, mode: str, image: Image.Image, data: bytes) -> bool:
    if mode not in NATIVE_MODES.get(fmt, ()) or "transparency" in image.info:
        return False
    if fmt == "PNG":
        return data[24] == 8  # IHDR bit depth; Pillow shows a 16-bit RGB PNG as mode RGB too
    if fmt == "BMP":
        header_size = int.from_bytes(data[14:18], "little")
        bits = int.from_bytes(data[28:30], "little")
        compression = int.from_bytes(data[30:34], "little")
        return header_size >= 40 and bits == 24 and compression == 0  # plain 24-bit BMP only
    return True


def to_rgb(image: Image.Image, depth: str = "") -> tuple[Image.Image, str]:
    """An 8-bit RGB copy of ``image`` (first frame; alpha composited on white) and words saying from what."""
    how = image.mode + depth
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        how += " " + _("(first frame of {frames})").format(frames=frames)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image, bits = _high_depth_to_l(image)
        how += f" {bits}"
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB"), how + " " + _("with transparency (composited on white)")
    return image.convert("RGB"), how


def _high_depth_to_l(image: Image.Image) -> tuple[Image.Image, str]:
    """16-bit, 32-bit int or float grey to 8-bit, scaling by the format's range (not by the image's)."""
    values = np.asarray(image, dtype=np.float64)
    peak = float(values.max()) if values.size else 0.0
    if image.mode == "F" and peak <= 1.0:
        scale, depth = 255.0, "float (0..1)"
    elif image.mode.startswith("I;16") or 255 < peak <= 65535:
        scale, depth = 255.0 / 65535.0, "16-bit"
    elif peak > 65535:
        scale, depth = 255.0 / peak, _("32-bit (scaled to its maximum)")
    else:
        scale, depth = 1.0, "32-bit"
    pixels = np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels), depth


def _save_converted(image: Image.Image, sha: str) -> Path:
    """Write once per content hash; a temp file renamed into place keeps readers from seeing half a PNG."""
    folder = cache_dir("converted")
    target = folder / f"{sha}.png"
    if not target.is_file():
        atomic_write(target, lambda out: image.save(out, format="PNG"))
    return target


def _bomb_size(data: bytes, exc: Exception) -> str:
    """'W x H' from the header, read without Pillow's bomb check; the pixel count from the error otherwise."""
    Image.init()
    for fmt in PILLOW_FORMATS:
        if fmt not in Image.OPEN:
            continue
        factory, accept = Image.OPEN[fmt]
        try:
            if accept is not None and not accept(data[:16]):
                continue
            width, height = factory(io.BytesIO(data), None).size
            return f"{width} x {height}"
        except Exception:  # noqa: BLE001 - this plugin cannot read it; try the next
            continue
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(match.group(1)):,}" if match else _("too many")


def validate_files(candidates: Sequence[FileCandidate], job: Optional[Job] = None) -> pd.DataFrame:
    """One record per candidate (see ``registry.RECORD_COLUMNS``), with progress events and stop checks."""
    progress = ProgressReporter(job, len(candidates))
    rows = []
    for candidate in candidates:
        if candidate.problem or candidate.path is None:
            check = ImageCheck(STATUS_SKIPPED, candidate.problem or _("no file"))
        else:
            check = check_image_file(candidate.path)
        rows.append((candidate.ref, candidate.label, check.status, check.reason, check.width, check.height,
                     check.mode, check.sha256, check.path, -1))
        progress.step()
    progress.finish()
    records = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    for column in ("width", "height", "array_index"):
        records[column] = records[column].astype("Int64")
    return records
