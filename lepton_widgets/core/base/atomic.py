"""Atomic file writes: write beside the target under a temporary name, then rename into place.

A reader (or a process killed half-way) never sees half a file under the real name, which is what the run
store, the caches and the converted weights all rely on.

Example:
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
    >>> _ = atomic_write_text(target, "hi")
    >>> target.read_text()
    'hi'
    >>> _ = atomic_write(target, lambda out: out.write(b"bytes")); target.read_bytes()
    b'bytes'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(target: str | Path, write: Callable[[BinaryIO], object], suffix: str = "") -> Path:
    """Call ``write(binary_file)`` on a temporary file beside ``target``, fsync it, then rename it over
    ``target``. ``suffix`` keeps libraries that insist on an extension (``.npy``) happy."""
    target = Path(target)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f"{suffix}.tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(target: str | Path, text: str) -> Path:
    return atomic_write(target, lambda out: out.write(text.encode("utf-8")))
