import pytest

from lepton_widgets.config import ConfigError, RunConfig


def test_round_trips_through_yaml_and_json():
    cfg = RunConfig.from_dict({"name": "x", "seed": 3, "backbone": {"frozen_depth": 4},
                               "augment": {"flip": "horizontal", "rotation": 0.1}})
    assert RunConfig.from_yaml(cfg.to_yaml()) == cfg
    assert RunConfig.from_yaml(cfg.to_json()) == cfg
    assert cfg.augment.active and not RunConfig().augment.active


@pytest.mark.parametrize("raw, fragment", [
    ({"trian": {}}, "unknown field trian"),
    ({"train": {"epoch": 3}}, "unknown field train.epoch"),
    ({"train": {"learning_rate": 5}}, "learning_rate"),
    ({"augment": {"flip": "diagonal"}}, "augment.flip"),
    ({"data": {"dataset": "folder"}}, "data.path is required"),
    ({"backbone": {"frozen_depth": -1}}, "frozen_depth"),
    ({"data": "fashion"}, "must be a mapping"),
])
def test_bad_values_get_a_clear_message(raw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        RunConfig.from_dict(raw)


def test_replace_changes_nested_values():
    cfg = RunConfig().replace(seed=9, train__epochs=2, backbone__name="small_cnn")
    assert (cfg.seed, cfg.train.epochs, cfg.backbone.name) == (9, 2, "small_cnn")


def test_yaml_exponent_without_a_dot_is_a_number():
    cfg = RunConfig.from_yaml("train:\n  learning_rate: 1e-3\n  l2: 5e-5\n")
    assert cfg.train.learning_rate == 0.001 and cfg.train.l2 == 5e-05
    with pytest.raises(ConfigError, match="learning_rate"):
        RunConfig.from_yaml("train:\n  learning_rate: fast\n")
