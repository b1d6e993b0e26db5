"""What every ``lepton`` command shares: reading a config file with ``--set`` overrides, and tqdm progress.

Here, not in ``cli.py``, so the subcommand modules beside this file use them without importing the parser
that registers them (``cli`` imports ``commands``; the arrow never points back).

Example:
    >>> load_config(None, ["train.epochs=2"]).train.epochs
    2
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

from lepton_widgets.config import ConfigError, RunConfig, load_yaml, read_config_file


class TqdmSink:
    """Event sink that draws one tqdm bar per task and prints a line per epoch."""

    def __init__(self, stream=None) -> None:
        from tqdm import tqdm

        # sys.stderr looked up now, not when this module was imported (it may have been replaced since).
        self._tqdm, self.stream, self.bars = tqdm, stream or sys.stderr, {}

    def __call__(self, event) -> None:
        if event.kind == "progress":
            bar = self.bars.get(event.task)
            if bar is None:
                bar = self.bars[event.task] = self._tqdm(total=event.total, desc=event.task, file=self.stream,
                                                         leave=False, unit="img")
            bar.update(event.done - bar.n)
            if event.done >= event.total:
                bar.close()
                self.bars.pop(event.task, None)
        elif event.kind == "phase_started":
            cached = " on cached features" if event.cached_features else ""
            print(f"phase {event.phase}: {event.epochs} epochs at lr {event.learning_rate:g}, "
                  f"{event.trainable_params:,} trainable parameters{cached}", file=self.stream)
        elif event.kind == "epoch_ended":
            shown = ", ".join(f"{k} {v:.4f}" for k, v in event.metrics.items() if v is not None)
            print(f"epoch {event.epoch}/{event.epochs} [{event.phase}] {shown}", file=self.stream)
        elif event.kind in ("run_failed", "run_cancelled"):
            print(f"{event.kind.replace('_', ' ')}: {getattr(event, 'error', '') or getattr(event, 'reason', '')}",
                  file=self.stream)
        elif event.kind == "run_warning":
            print(f"WARNING: {event.message}", file=self.stream)


def _apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """``section.field=value`` pairs (or ``name=``/``seed=``) on top of a config dict; values are parsed as
    YAML scalars by the config loader (no aliases, no tags), and every mistake is a one-line ConfigError."""
    top_level = ("name", "seed")  # the two fields outside any section
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or ("." not in key and key not in top_level):
            raise ConfigError(f"--set expects section.field=value (or name=... / seed=...), got {item!r}")
        parsed = load_yaml(value, source=f"--set {item}")
        if "." not in key:
            raw[key] = parsed
            continue
        section, name = key.split(".", 1)
        if section not in RunConfig._SECTIONS:
            raise ConfigError(f"--set {item}: {section!r} is not a config section; expected one of "
                              f"{', '.join(RunConfig._SECTIONS)}")
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"--set {item}: the config's {section} is not a mapping (got {target!r})")
        target[name] = parsed
    return raw


def load_config(path: Optional[str], overrides: Sequence[str] = ()) -> RunConfig:
    """The run config of ``path`` (YAML/JSON; ``None``: the defaults) with ``--set`` overrides; the one way
    every command reads a config file, so every problem is the same one-line ConfigError naming the file."""
    raw = read_config_file(path) if path else {}
    raw = _apply_overrides(raw, overrides)
    try:
        return RunConfig.from_dict(raw)
    except ConfigError as error:
        where = (Path(path).name if path else "") + (" with --set" if overrides else "")
        raise ConfigError(f"{where.strip()}: {error}" if where.strip() else str(error)) from None
