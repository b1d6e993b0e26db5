"""One cache file shared by processes: made once, written atomically, never seen half-written.

In a room, several kernels often ask for the same cache entry at the same moment (the same dataset through the
same backbone). :func:`cached_file` makes that safe and cheap:

- a reader only ever sees a whole file: the writer writes beside it and renames it into place
  (:func:`~lepton_widgets.core.base.atomic.atomic_write`), and ``load`` checks the file before trusting it;
- while one process makes the entry, the others wait on a lock beside it (``fcntl.flock``, dropped by the
  system if the maker dies) and then read its file instead of making it again.

Standard library only (plus the atomic write), so it loads without TensorFlow.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "entry.txt"
    >>> load = lambda p: p.read_text() if p.exists() else None
    >>> cached_file(path, load, lambda out: out.write(b"made once"))
    ('made once', True)
    >>> cached_file(path, load, lambda out: out.write(b"never written"))
    ('made once', False)
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import BinaryIO, Callable, Optional, TypeVar

from lepton_widgets.core.base.atomic import atomic_write

T = TypeVar("T")


def entry_lock_path(path: str | Path) -> Path:
    """The lock file beside a cache entry (hidden; tiny; deleting it with the cache is harmless)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def cached_file(path: str | Path, load: Callable[[Path], Optional[T]], write: Callable[[BinaryIO], object], *,
                suffix: str = "", check_stop: Optional[Callable[[], None]] = None,
                poll: float = 0.05) -> tuple[T, bool]:
    """``(load(path), made)``: the entry at ``path``, made with ``write(binary_file)`` when it is missing.

    ``load`` returns None for a missing, stale or damaged file (then the entry is made again and atomically
    replaces it). Only one process at a time runs ``write`` for one path; the others wait and load its file.
    ``check_stop()`` is called while waiting and may raise to give up (a Job's ``check_stop``). ``made`` says
    whether this call wrote the file.
    """
    path = Path(path)
    found = load(path)
    if found is not None:
        return found, False
    fd = os.open(entry_lock_path(path), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if check_stop is not None:
                    check_stop()
                time.sleep(poll)
        found = load(path)  # another process may have made it while this one waited
        if found is not None:
            return found, False
        atomic_write(path, write, suffix=suffix)
    finally:
        os.close(fd)  # closing drops the lock
    found = load(path)
    if found is None:
        raise ValueError(f"the cache file {path} was written but does not read back as valid")
    return found, True


def load_npy(path: str | Path, shape: tuple[int, ...], dtype: str = "float32"):
    """The ``.npy`` file at ``path`` as a read-only memory map when it is whole and has ``shape`` and ``dtype``;
    None when it is missing, damaged, truncated, longer than its header says, or of another shape.

    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> np.save(path, np.zeros((2, 3), np.float32))
    >>> load_npy(path, (2, 3)).shape, load_npy(path, (3, 3))
    ((2, 3), None)
    """
    import numpy as np  # here: the queue and the lock above need the standard library alone

    path = Path(path)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        size = path.stat().st_size
    except (OSError, ValueError, EOFError):
        return None
    if array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
        return None
    if size != array.offset + array.nbytes:
        return None
    return array
