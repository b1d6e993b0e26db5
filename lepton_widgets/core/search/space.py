"""The search space: ``TunerConfig`` -> KerasTuner hyper-parameters -> one ``RunConfig`` per trial.

Every trial *is* a RunConfig: the base config with the trial's values written in (:func:`trial_config`).
The trial trains what that config describes, and "use best" runs the best trial's config as a normal run,
so the search score and the final run measure the same recipe.

A search is identified by a fingerprint of everything that changes what its trials mean: the searched
ranges, the tuner settings and the base config (data, backbone, augment, train, seed), minus what cannot
matter (the run name, ``max_trials``, and base values that the search overrides). KerasTuner silently
reuses a project directory whatever its space, so the directory is named after this fingerprint: a
changed space gets a new directory, and a larger ``max_trials`` continues the same search.

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> base = RunConfig.from_dict({"name": "demo", "tuner": {"learning_rate": [1e-4, 1e-2],
    ...                                                       "augment": ["none", "geometric"]}})
    >>> cfg = trial_config(base, {"learning_rate": 3e-3, "augment": "geometric", "augment_strength": 0.2})
    >>> cfg.train.learning_rate, cfg.augment.flip, cfg.augment.zoom
    (0.003, 'horizontal', 0.2)
    >>> search_id(base) == search_id(base.replace(name="demo", tuner__max_trials=50))
    True
    >>> search_id(base) == search_id(base.replace(tuner__learning_rate=[1e-3, 1e-1]))
    False
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable, Optional

from lepton_widgets.config import AugmentConfig, RunConfig, TrainConfig, TunerConfig
from lepton_widgets.core.frozen_depth import TUNER_ALL_FROZEN, frozen_depth_setting, tuner_choice

#: Strength used by the augment policies when ``augment_strength`` is not searched.
DEFAULT_STRENGTH = 0.2
#: KerasTuner ``Choice`` values must share one type, so "every block frozen" (``None``) is stored as -1
#: (core.frozen_depth owns that spelling; this name stays for callers that read stored trials).
ALL_FROZEN = TUNER_ALL_FROZEN
SPACE_VERSION = 1


def augment_policy(policy: str, strength: float, base: AugmentConfig) -> AugmentConfig:
    """The augment settings of one policy at ``strength`` (see ``TunerConfig.AUGMENT_POLICIES``).

    >>> augment_policy("color", 0.3, AugmentConfig()).contrast
    0.3
    """
    s = float(strength)
    geometric = {"flip": "horizontal", "rotation": s / 2, "zoom": s, "translation": s / 2}
    color = {"contrast": s, "brightness": s}
    settings = {"none": {}, "flip": {"flip": "horizontal"}, "geometric": geometric, "color": color,
                "all": {**geometric, **color},
                # texts: one word augmentation at the strength, or all three at half of it
                "word_dropout": {"word_dropout": s}, "word_swap": {"word_swap": s},
                "word_substitute": {"word_substitute": s},
                "words": {"word_dropout": s / 2, "word_swap": s / 2, "word_substitute": s / 2}}
    if policy == "base":
        return dataclasses.replace(base)
    if policy not in settings:
        raise ValueError(f"unknown augment policy {policy!r}; known: {TunerConfig.AUGMENT_POLICIES}")
    return AugmentConfig(**settings[policy])


def declare(hp, tuner: TunerConfig) -> dict[str, Any]:
    """Register the searched hyper-parameters on ``hp`` (KerasTuner ``HyperParameters``) and return the
    values this trial uses. Only searched ones are registered, so trial tables show what varies."""
    values: dict[str, Any] = {}
    if tuner.backbone is not None:
        values["backbone"] = hp.Choice("backbone", list(tuner.backbone))
    if tuner.frozen_depth is not None:
        values["frozen_depth"] = hp.Choice(
            "frozen_depth", [tuner_choice(d) for d in tuner.frozen_depth])
    if tuner.augment is not None:
        values["augment"] = hp.Choice("augment", list(tuner.augment))
    if tuner.batch_size is not None:
        values["batch_size"] = hp.Choice("batch_size", [int(b) for b in tuner.batch_size])
    if tuner.head_units is not None:
        values["head_units"] = hp.Choice("head_units", [int(u) for u in tuner.head_units])
    if tuner.hidden_layers is not None:
        values["hidden_layers"] = hp.Choice("hidden_layers", [int(n) for n in tuner.hidden_layers])
    for name in TunerConfig.RANGE_FIELDS:
        bounds = getattr(tuner, name)
        if bounds is not None:
            low, high = (float(b) for b in bounds)
            log = name in ("learning_rate", "l2") and low > 0
            values[name] = hp.Float(name, low, high, sampling="log" if log else "linear")
    return values


def searched_values(values: dict[str, Any]) -> dict[str, Any]:
    """A trial's values without KerasTuner's own bookkeeping entries (``tuner/epochs``, ...)."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def trial_config(base: RunConfig, values: dict[str, Any], *, name: Optional[str] = None,
                 n_blocks: Optional[Callable[[RunConfig], Optional[int]]] = None) -> RunConfig:
    """The RunConfig one trial trains: ``base`` with the trial's ``values`` written in.

    The result has the default (empty) tuner section: it is a plain run. ``n_blocks(cfg)``, when given,
    turns a frozen depth at or beyond the backbone's block count into ``None`` (every block frozen), so
    the config builds for every backbone in the space (``None`` from it: nothing to clip, as for tables).
    """
    data = dataclasses.asdict(base)
    data["tuner"] = dataclasses.asdict(TunerConfig())
    data["name"] = name or base.name
    if base.tuner.epochs is not None:
        data["train"]["epochs"] = base.tuner.epochs
    if "backbone" in values:
        data["backbone"]["name"] = values["backbone"]
    if "frozen_depth" in values:
        data["backbone"]["frozen_depth"] = frozen_depth_setting(values["frozen_depth"])
    if "augment" in values:
        strength = values.get("augment_strength", DEFAULT_STRENGTH)
        data["augment"] = dataclasses.asdict(augment_policy(values["augment"], strength, base.augment))
    for key in ("dropout", "l2", "learning_rate", "batch_size", "head_units", "hidden_layers"):
        if key in values:
            data["train"][key] = values[key]
    cfg = RunConfig.from_dict(data)
    depth = cfg.backbone.frozen_depth
    blocks = n_blocks(cfg) if n_blocks is not None and depth is not None else None
    if blocks is not None and depth >= blocks:
        cfg = cfg.replace(backbone__frozen_depth=None)
    return cfg


# Base-config fields a searched hyper-parameter overrides: their base value cannot change any trial.
_OVERRIDDEN = {"backbone": [("backbone", "name")], "frozen_depth": [("backbone", "frozen_depth")],
               "dropout": [("train", "dropout")], "l2": [("train", "l2")],
               "learning_rate": [("train", "learning_rate")], "batch_size": [("train", "batch_size")],
               "head_units": [("train", "head_units")], "hidden_layers": [("train", "hidden_layers")]}


def fingerprint(cfg: RunConfig) -> dict[str, Any]:
    """What identifies a search (see the module doc): plain JSON-able data."""
    run = dataclasses.asdict(cfg)
    run.pop("name")
    tuner = run.pop("tuner")
    tuner.pop("max_trials")
    for searched in cfg.tuner.searched():
        for section, key in _OVERRIDDEN.get(searched, []):
            run[section].pop(key, None)
    if cfg.tuner.augment is not None and "base" not in cfg.tuner.augment:
        run.pop("augment")
    if cfg.tuner.epochs is not None:
        run["train"].pop("epochs")
    # Settings added after searches were stored leave those searches' digests as they were when unused.
    if run["train"].get("hidden_layers") == TrainConfig.hidden_layers:
        run["train"].pop("hidden_layers")
    if tuner.get("hidden_layers") is None:
        tuner.pop("hidden_layers", None)
    return {"version": SPACE_VERSION, "run": run, "tuner": tuner}


def space_digest(cfg: RunConfig) -> str:
    """10 hex digits of the fingerprint: what tells one search from another."""
    return hashlib.sha256(json.dumps(fingerprint(cfg), sort_keys=True).encode()).hexdigest()[:10]


def search_id(cfg: RunConfig) -> str:
    """``<name>-<space digest>``: the directory name of a new search (an existing search with the same
    digest is resumed whatever its name; see ``tuner.plan_search``)."""
    return f"{slug(cfg.name)}-{space_digest(cfg)}"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "search"


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` lines between two fingerprints (nested dicts flattened with dots).

    >>> differences({"tuner": {"dropout": None}}, {"tuner": {"dropout": [0.1, 0.5]}})
    ['tuner.dropout: None -> [0.1, 0.5]']
    """
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {a} -> {b}")
    return lines


def read_trials(directory: str | Path) -> list[dict[str, Any]]:
    """The trials of a search directory as plain rows, read from KerasTuner's ``trial_*/trial.json``.

    Each row: ``trial_id``, ``number``, ``status``, ``score``, ``hyperparameters`` (searched values only),
    ``metrics`` (best value of each tracked metric). Works while a search is running (files are re-read).
    """
    rows = []
    for path in sorted(Path(directory).glob("trial_*/trial.json")):
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # being written right now
        metrics = {}
        for name, info in (state.get("metrics") or {}).get("metrics", {}).items():
            history = [obs["value"][0] for obs in info.get("observations", []) if obs.get("value")]
            if history:
                metrics[name] = max(history) if info.get("direction") == "max" else min(history)
        trial_id = state.get("trial_id", path.parent.name.removeprefix("trial_"))
        rows.append({"trial_id": trial_id, "number": int(trial_id) + 1, "status": state.get("status"),
                     "score": state.get("score"), "message": state.get("message"),
                     "hyperparameters": searched_values(state.get("hyperparameters", {}).get("values", {})),
                     "metrics": metrics})
    return sorted(rows, key=lambda row: row["number"])
