"""The Session's settings are derived from RunConfig: every field is a trait, by one naming rule, and a field
added to a config dataclass becomes a trait without touching the Session. Real dataclasses, real traitlets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pytest
from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode

from lepton_widgets.config import ConfigError, RunConfig, TrainConfig
from lepton_widgets.state import Session

#: The names panels already bind to where a trait is not simply the field's name (spelt out here on purpose:
#: renaming one of these would break the panels, so the test must notice).
PANEL_NAMES = {("data", "path"): "data_path", ("data", "classes"): "data_classes",
               ("data", "target"): "data_target", ("data", "test_path"): "data_test_path",
               ("backbone", "name"): "backbone"}


def config_fields(config=RunConfig()):
    """(section or None, field name, default value) for every field a training run uses (not the tuner's)."""
    for top in dataclasses.fields(config):
        value = getattr(config, top.name)
        if top.name == "tuner":
            continue
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                yield top.name, f.name, getattr(value, f.name)
        else:
            yield None, top.name, value


def trait_name(section, name):
    return PANEL_NAMES.get((section, name), name)


def other_value(owner, name, default):
    """A valid value that differs from ``default``, chosen from the field's type and the class's choices."""
    tuples = {k: v for k, v in vars(type(owner)).items() if isinstance(v, tuple) and default in v}
    # The field's own choices first (LR_SCHEDULES for lr_schedule): several fields default to "none".
    choices = [v for k, v in tuples.items() if k.startswith(name.upper())] or list(tuples.values())
    if choices:
        return next(c for c in choices[0] if c != default)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default / 2 if default else 0.25
    if isinstance(default, str):
        return default + "_other"
    hint = next(f.type for f in dataclasses.fields(owner) if f.name == name)
    if default is None and "list" in str(hint):
        return ["b", "a"]
    if default is None and "int" in str(hint):
        return 1
    if default is None and "str" in str(hint):
        return f"some_{name}"
    raise AssertionError(f"the test has no non-default value for {name}: {default!r} ({hint})")


def test_session_settings_are_exactly_the_run_config_fields_under_the_naming_rule():
    expected = [trait_name(section, name) for section, name, _ in config_fields()]
    assert Session().settings == expected
    assert len(expected) == len(set(expected))
    for trait in ("status", "history", "progress", "tuner", "trials", "evaluation", "busy", "data_report"):
        assert trait not in expected  # live state, not a run setting
        assert Session().has_trait(trait)


def test_session_defaults_are_the_dataclass_defaults():
    session = Session()
    for section, name, default in config_fields():
        assert getattr(session, trait_name(section, name)) == default, (section, name)
    assert session.to_config() == RunConfig()


def test_every_field_round_trips_through_the_session_with_a_non_default_value():
    cfg = RunConfig()
    changed = {}
    for section, name, default in config_fields(cfg):
        owner = cfg if section is None else getattr(cfg, section)
        value = other_value(owner, name, default)
        setattr(owner, name, value)
        changed[trait_name(section, name)] = value
    cfg.validate()
    assert all(changed[trait_name(s, n)] != d for s, n, d in config_fields())  # every field differs from default

    session = Session()
    session.load_config(cfg)
    assert {name: getattr(session, name) for name in changed} == changed
    assert session.to_config() == cfg
    # The other way round too: a fresh Session set trait by trait builds the same config.
    fresh = Session(**changed)
    assert fresh.to_config() == cfg


def test_frozen_depth_given_explicitly_stays_and_follows_weights_otherwise():
    assert Session(weights="none").frozen_depth == 0
    assert Session(weights="none", frozen_depth=None).frozen_depth is None
    session = Session()
    session.weights = "none"
    assert session.frozen_depth == 0
    session.frozen_depth = 3
    session.weights = "offline"
    assert session.frozen_depth == 3
    with pytest.raises(TraitError):
        session.frozen_depth = "auto"  # the config resolves "auto"; the Session holds the resolved number


# --- a field added to a config dataclass appears in the Session on its own ------------------------------------


@dataclass
class WiderTrainConfig(TrainConfig):
    warmup_epochs: int = 0
    warmup: Literal["none", "linear"] = "none"
    mixed_precision: bool = False
    label_smoothing: float | None = None
    monitor: list[str] = field(default_factory=lambda: ["val_loss"])


@dataclass
class WiderRunConfig(RunConfig):
    train: WiderTrainConfig = field(default_factory=WiderTrainConfig)

    _SECTIONS = {**RunConfig._SECTIONS, "train": WiderTrainConfig}


def wider_session():
    class WiderSession(Session, config_class=WiderRunConfig):
        """A Session over a config with five more train fields; nothing else is written for them."""

    return WiderSession


def test_a_new_config_field_becomes_a_trait_of_its_type_with_its_default():
    session = wider_session()()
    traits = session.traits()
    assert session.settings == Session().settings + ["warmup_epochs", "warmup", "mixed_precision",
                                                     "label_smoothing", "monitor"]
    assert isinstance(traits["warmup_epochs"], Int) and session.warmup_epochs == 0
    assert isinstance(traits["warmup"], Enum) and session.warmup == "none"
    assert isinstance(traits["mixed_precision"], Bool) and session.mixed_precision is False
    assert isinstance(traits["label_smoothing"], Float) and session.label_smoothing is None
    assert isinstance(traits["monitor"], List) and session.monitor == ["val_loss"]
    assert isinstance(traits["learning_rate"], Float) and isinstance(traits["backbone"], Unicode)
    with pytest.raises(TraitError):
        session.warmup = "cosine"  # not one of the Literal's choices
    with pytest.raises(TraitError):
        session.warmup_epochs = "two"


def test_a_new_config_field_round_trips_and_the_plain_session_is_unchanged():
    WiderSession = wider_session()
    session = WiderSession(warmup_epochs=2, warmup="linear", mixed_precision=True, label_smoothing=0.1,
                           monitor=["val_accuracy"], epochs=4)
    cfg = session.to_config()
    assert isinstance(cfg, WiderRunConfig)
    assert (cfg.train.warmup_epochs, cfg.train.warmup, cfg.train.mixed_precision, cfg.train.label_smoothing,
            cfg.train.monitor, cfg.train.epochs) == (2, "linear", True, 0.1, ["val_accuracy"], 4)
    again = WiderSession()
    again.load_config(cfg)
    assert again.to_config() == cfg and again.warmup == "linear"
    assert not Session().has_trait("warmup_epochs")
    with pytest.raises(ConfigError, match="learning_rate"):
        WiderSession(learning_rate=7.0).to_config()


def test_a_config_field_that_clashes_with_live_state_is_refused_when_the_class_is_made():
    @dataclass
    class ClashingTrainConfig(TrainConfig):
        status: str = "new"  # would hide the Session's job status

    @dataclass
    class ClashingRunConfig(RunConfig):
        train: ClashingTrainConfig = field(default_factory=ClashingTrainConfig)

        _SECTIONS = {**RunConfig._SECTIONS, "train": ClashingTrainConfig}

    with pytest.raises(TypeError, match="train.status"):
        class ClashingSession(Session, config_class=ClashingRunConfig):
            pass
