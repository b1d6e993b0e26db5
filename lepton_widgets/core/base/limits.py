"""Every input limit in one place: checked before anything big is allocated, each with a plain message.

A limit is a named constant read once at import; the environment variable next to it overrides it (a
whole number, e.g. ``LEPTON_MAX_TABLE_ROWS=5000000``). Readers look the constant up at call time
(``limits.MAX_TABLE_ROWS``), so a test or a caller may also change it on the module.

Why these exist: a table with one 50 MB cell grew the process past 3 GB (pandas reads a whole cell before
anything can check it), a WAV declaring 1 Hz was resampled x16,000, and a 1 KB YAML file of nested
aliases ("billion laughs") ran for a minute and grew to 2 GB. The limits sit far above any honest input.

Example:
    >>> from lepton_widgets.core.base import limits
    >>> limits.MIN_WAV_RATE, limits.MAX_WAV_RATE
    (4000, 192000)
    >>> limits.describe()[0].startswith("config files: at most")
    True
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    """``$name`` as a whole number > 0, else ``default`` (a bad value must not switch a limit off)."""
    text = os.environ.get(name, "").strip().replace("_", "")
    try:
        value = int(text)
    except ValueError:
        return default
    return value if value > 0 else default


#: Largest YAML/JSON config file or text read as a config, in bytes (``LEPTON_MAX_CONFIG_BYTES``).
#: A real config is a few hundred bytes; YAML aliases and anchors are refused outright (config.py).
MAX_CONFIG_BYTES = _env_int("LEPTON_MAX_CONFIG_BYTES", 1 << 20)

#: Largest CSV table (tables, text CSVs, prediction inputs), in bytes (``LEPTON_MAX_TABLE_BYTES``).
MAX_TABLE_BYTES = _env_int("LEPTON_MAX_TABLE_BYTES", 200 << 20)
#: Most data rows in one CSV table, counted while reading (``LEPTON_MAX_TABLE_ROWS``).
MAX_TABLE_ROWS = _env_int("LEPTON_MAX_TABLE_ROWS", 2_000_000)
#: Longest single CSV cell, in characters, checked while reading before pandas sees it
#: (``LEPTON_MAX_CELL_CHARS``): ten times the longest review or description one could want to train on.
MAX_CELL_CHARS = _env_int("LEPTON_MAX_CELL_CHARS", 100_000)

#: Largest text file (``.txt`` in a text folder, or given to predict), in bytes (``LEPTON_MAX_TEXT_BYTES``);
#: a model reads at most a few hundred words of it.
MAX_TEXT_BYTES = _env_int("LEPTON_MAX_TEXT_BYTES", 16 << 20)

#: Lowest and highest sample rate a WAV may declare, in Hz (``LEPTON_MIN_WAV_RATE``, ``LEPTON_MAX_WAV_RATE``):
#: telephone audio to studio audio. Clips are resampled to 16 kHz, so the rate bounds the growth to x4.
MIN_WAV_RATE = _env_int("LEPTON_MIN_WAV_RATE", 4_000)
MAX_WAV_RATE = _env_int("LEPTON_MAX_WAV_RATE", 192_000)
#: Longest WAV clip, in seconds of declared audio, checked from the header before reading
#: (``LEPTON_MAX_WAV_SECONDS``). Clips are cut to a second or two for training anyway.
MAX_WAV_SECONDS = _env_int("LEPTON_MAX_WAV_SECONDS", 600)


def describe() -> list[str]:
    """The limits in force, one line each, in plain words (for the README and ``lepton doctor``)."""
    return [
        f"config files: at most {MAX_CONFIG_BYTES:,} bytes, no YAML aliases or anchors, no tags "
        f"(LEPTON_MAX_CONFIG_BYTES)",
        f"CSV tables: at most {MAX_TABLE_BYTES:,} bytes (LEPTON_MAX_TABLE_BYTES), {MAX_TABLE_ROWS:,} rows "
        f"(LEPTON_MAX_TABLE_ROWS) and {MAX_CELL_CHARS:,} characters per cell (LEPTON_MAX_CELL_CHARS)",
        f"text files: at most {MAX_TEXT_BYTES:,} bytes (LEPTON_MAX_TEXT_BYTES)",
        f"WAV files: {MIN_WAV_RATE:,}-{MAX_WAV_RATE:,} Hz (LEPTON_MIN_WAV_RATE, LEPTON_MAX_WAV_RATE), at most "
        f"{MAX_WAV_SECONDS:,} s (LEPTON_MAX_WAV_SECONDS)",
    ]
