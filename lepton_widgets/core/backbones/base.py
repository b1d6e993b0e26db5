"""What every weights source shares: the refusal it raises and the identity of a weights file.

A leaf module (no imports from the rest of ``backbones/``), so the sources (the offline packs, a finished run
in ``run_backbone.py``) and the dispatcher in ``weights.py`` all use it without importing each other.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.bin"; _ = path.write_bytes(b"abc")
    >>> sha256_file(path)[:12]
    'ba7816bf8f01'
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class WeightsUnavailable(RuntimeError):
    """The requested weights cannot be loaded here; the message says why and what to use instead.

    >>> from lepton_widgets.core.backbones import get_backbone, load_backbone
    >>> try:
    ...     load_backbone(get_backbone("small_cnn"), "imagenet")
    ... except WeightsUnavailable as err:
    ...     print(str(err).split(";")[0])
    small_cnn has no 'imagenet' weights (sources: none, file)
    """


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, memoised on (path, size, mtime) because weights files are big."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
        _SHA_MEMO[key] = digest.hexdigest()
    return _SHA_MEMO[key]
