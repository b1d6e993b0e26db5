"""Shared helpers for the data tests: real image files written with Pillow, a private LEPTON_HOME and
a content hash of a folder tree (to prove the user's files are left byte-identical)."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def lepton_home(tmp_path, monkeypatch) -> Path:
    """A fresh cache for every test, so converted/extracted files never leak between tests."""
    home = tmp_path / "lepton-home"
    monkeypatch.setenv("LEPTON_HOME", str(home))
    return home


def noise(seed: int, size=(12, 10), channels: int = 3) -> np.ndarray:
    """Distinct content per seed, so no two test images are accidental duplicates."""
    shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def save(path: Path, image: Image.Image, fmt: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt, **kwargs)
    return path


def jpeg_bytes(seed: int, size=(128, 128)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(noise(seed, size)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def corrupt_jpeg_bytes(seed: int) -> bytes:
    """0xFF bytes inside the entropy-coded data: Pillow (and TF) reject it ('broken data stream')."""
    data = bytearray(jpeg_bytes(seed))
    data[2000:2100] = b"\xff" * 100
    return bytes(data)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header claims width x height grey pixels (never allocated)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def rgb48_png(width: int, height: int, rgb16: tuple[int, int, int]) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one, and reads it back as plain 'RGB')."""
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    row = b"\x00" + struct.pack(">HHH", *rgb16) * width
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(row * height))
            + png_chunk(b"IEND", b""))


def tree_digest(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file below ``root`` (hidden ones included)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def make_class_folders(root: Path, counts: dict[str, int], seed: int = 0, fmt: str = "png") -> Path:
    """``counts[class]`` distinct small images per class folder."""
    for c, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(noise(seed * 10_000 + c * 1000 + i)).save(folder / f"img_{i:03d}.{fmt}")
    return root
