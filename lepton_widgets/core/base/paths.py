"""Where the engine keeps its caches and runs.

``LEPTON_HOME`` (default ``~/.cache/lepton``) holds converted weights, extracted archives, converted images
and cached features; all of it can be deleted and is rebuilt on demand, except ``keys/``: the key that signs
export manifests (core.export.manifest), without which earlier SavedModel, TFLite and ONNX exports must be
exported again before Predict opens them. Runs live in ``LEPTON_RUNS``
(default ``./runs``) because they are the user's results, not a cache.

Example:
    >>> import os; os.environ["LEPTON_HOME"] = "/tmp/lepton-doc"
    >>> str(cache_dir("weights"))
    '/tmp/lepton-doc/weights'
"""

from __future__ import annotations

import os
from pathlib import Path


def lepton_home() -> Path:
    return Path(os.environ.get("LEPTON_HOME") or Path.home() / ".cache" / "lepton")


def cache_dir(*parts: str) -> Path:
    """A subfolder of the cache, created on first use."""
    path = lepton_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_runs_dir() -> Path:
    return Path(os.environ.get("LEPTON_RUNS") or "runs")
