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
import threading
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


#: Weights read from files in this process, newest last: ``(file, variables) -> arrays``. A few backbones.
_LOADED: dict[tuple, list] = {}
_LOADED_KEEP = 3
_LOADED_LOCK = threading.Lock()  # backbones are built in background threads, sometimes two at once


def load_weights_file(model, path: str | Path) -> None:
    """``model.load_weights(path)``, with the file read only once per process for a model of the same variables.

    Every run, search trial and Auto step builds a fresh backbone; reading the ``.weights.h5`` file (one
    h5py dataset per variable, 260 for MobileNetV2) is most of the cost of loading them: building the
    offline MobileNetV2 at 96 px took 0.8 s with the read and 0.5 s without (2 cores, quiet). The key is the
    file (path, size, mtime) and the model's variable paths and shapes, so another file, a changed file or
    another architecture reads the file again.
    """
    import numpy as np

    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns,
           tuple((w.path, tuple(w.shape)) for w in model.weights))
    with _LOADED_LOCK:
        arrays = _LOADED.get(key)
    if arrays is None:
        model.load_weights(path)
        arrays = [np.array(w) for w in model.weights]  # copies: training the model must not change them
    else:
        model.set_weights(arrays)
    with _LOADED_LOCK:
        _LOADED.pop(key, None)
        while len(_LOADED) >= _LOADED_KEEP:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = arrays  # newest last
