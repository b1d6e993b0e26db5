"""Environment card: what a run needs to be understood and repeated later.

Example:
    >>> card = environment_card(seed=1, data_hash="abc")
    >>> card["seed"], card["data_hash"], "keras" in card["packages"]
    (1, 'abc', True)
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from lepton_widgets.core.base.distribute import active_facts

PACKAGES = ("tensorflow", "keras", "numpy", "scikit-learn", "pandas", "pillow", "keras-tuner")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_card(seed: int, data_hash: str, **extra) -> dict:
    """Versions, machine and the run's identity-defining values (seed, data content hash)."""
    return {
        "seed": seed,
        "data_hash": data_hash,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": {name: _version(name) for name in PACKAGES},
        # The tf.distribute strategy, replicas, devices and batch the run trained with (core/base/distribute.py).
        **({"distribution": active_facts()} if active_facts() else {}),
        **extra,
    }
