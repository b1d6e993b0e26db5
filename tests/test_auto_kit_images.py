"""Lepton Auto's picture and sound kit (core/tasks/image/auto.py, core/tasks/audio/auto.py) on real data.

Digits at 32 px and ``spoken_keywords`` (15 clips a word); every model is trained for real with the task's
own run, and the search runs real KerasTuner trials on the cached features.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lepton_widgets.config import DataConfig, RunConfig, TrainConfig
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.tasks import run_experiment, task_for_config, task_named
from lepton_widgets.core.tasks.autokit import AutoFeatures, Recipe, recipe_for
from lepton_widgets.core.tasks.image.auto import RANK_UNITS
from lepton_widgets.core.tasks.image.blocks import block_summary
from lepton_widgets.core.tasks.image.search import PATH_FEATURES
from lepton_widgets.core.tasks.image.training import planned_phases

RANK_COLUMNS = ["label", "score", "probe_accuracy", "logme", "seconds", "status", "reason", "index"]
ENOUGH = Recipe("enough", 25, "test", fine_tune=True)


@pytest.fixture(scope="module")
def digits():
    kit = task_named("image").auto_kit()
    base = kit.base_config(DataConfig(dataset="digits", max_per_class=30), seed=3, goal="accuracy")
    base = base.replace(backbone__image_size=32)
    return kit, base, kit.prepare(base)


@pytest.fixture(scope="module")
def keywords():
    kit = task_named("audio").auto_kit()
    base = kit.base_config(DataConfig(dataset="spoken_keywords", max_per_class=15), seed=3, goal="fast")
    return kit, base, kit.prepare(base)


def scratch(kit, base):
    (candidate,) = [c for c in kit.candidates(base, "accuracy") if c.config.backbone.weights == "none"]
    return candidate


def check_features(features: AutoFeatures, prepared) -> None:
    frame = prepared.table.frame
    seen = frame[frame["split"].isin(["train", "val"])]
    assert len(features.x) == len(features.y) == len(features.ids) == len(features.refs) == len(seen)
    assert set(features.ids) == set(seen["sha256"]) and not set(features.ids) & set(frame.loc[
        frame["split"] == "test", "sha256"])
    train = prepared.split("train")
    assert features.ids[:len(train)] == list(train.frame["sha256"])  # rows in the splits' own order
    assert list(features.split[:len(train)]) == ["train"] * len(train) and set(features.split) == {"train", "val"}
    assert np.array_equal(features.y[:len(train)], train.label_indices())
    assert features.class_names == prepared.class_names and np.isfinite(features.x).all()


def test_base_and_candidates_follow_the_goal(digits):
    kit, base, _ = digits
    assert (base.backbone.name, base.backbone.weights, base.backbone.frozen_depth) == ("mobilenet_v2", "offline", None)
    assert kit.base_config(DataConfig(dataset="digits"), 1, "fast").backbone.image_size < \
        kit.base_config(DataConfig(dataset="digits"), 1, "accuracy").backbone.image_size
    every = kit.candidates(base, "accuracy")
    assert every[0].label == "MobileNetV2 · ImageNet weights" and every[0].config.backbone.name == "mobilenet_v2"
    assert "small CNN · trained from scratch" in [c.label for c in every]
    assert all(c.about for c in every)
    assert "vgg16" in [c.config.backbone.name for c in every]
    for goal in ("small", "fast"):
        names = [c.config.backbone.name for c in kit.candidates(base, goal)]
        assert names[0] == "mobilenet_v2" and "vgg16" not in names and "small_cnn" in names
    with pytest.raises(ValueError, match="goal"):
        kit.candidates(base, "cheap")


def test_features_are_the_train_and_val_rows_with_their_ids(digits):
    kit, base, prepared = digits
    features = kit.features(base, prepared)
    check_features(features, prepared)
    assert features.x.shape[1] == 1280 and "MobileNetV2" in features.source
    # A random backbone's features would hide label problems: the doctor reads the pretrained default.
    from_scratch = kit.features(scratch(kit, base).config, prepared)
    assert from_scratch.source == features.source and np.allclose(from_scratch.x, features.x, atol=1e-4)


def test_rank_gives_the_protocols_columns_best_first(digits, private_cache):
    kit, base, prepared = digits
    candidates = [kit.candidates(base, "fast")[0], scratch(kit, base)]  # a private cache: cold, nothing on disk
    assert kit.rank_units(base, candidates, prepared) == RANK_UNITS["cold"] + RANK_UNITS["none"]
    ranked = kit.rank(base, candidates, prepared)
    # Auto's estimate of ranking them again: the pretrained one's subset features are on disk now
    assert kit.rank_units(base, candidates, prepared) == RANK_UNITS["cached"] + RANK_UNITS["none"]
    assert list(ranked.columns) == RANK_COLUMNS and sorted(ranked["index"]) == [0, 1]
    assert (ranked["status"] == "ok").all()
    assert list(ranked["score"]) == sorted(ranked["score"], reverse=True)
    for _, row in ranked.iterrows():
        assert row["label"] == candidates[row["index"]].label and 0 <= row["probe_accuracy"] <= 1
    scratch_row = ranked[ranked["label"] == candidates[1].label].iloc[0]
    assert "random" in scratch_row["reason"] and "from scratch" in scratch_row["reason"]


@pytest.mark.slow
def test_head_config_trains_a_head_on_cached_features_that_learns(digits, tmp_path):
    kit, base, prepared = digits
    cfg = kit.head_config(base, recipe_for(prepared.report.class_counts))
    assert cfg.backbone.frozen_depth is None and cfg.train.fine_tune_epochs == 0 and not cfg.augment.active
    assert cfg.train.epochs >= 20 and cfg.train.early_stopping_patience > 0
    record = run_experiment(cfg, store=RunStore(tmp_path / "runs"))
    assert record.status == "finished"
    phases = json.loads((record.path / "phases.json").read_text())
    assert [p["phase"] for p in phases] == ["head"] and phases[0]["cached_features"]
    assert record.metrics["accuracy"] >= 0.5, record.metrics  # ten digits: chance is 0.10


@pytest.mark.slow
def test_a_from_scratch_candidate_trains_every_block_and_learns(digits, tmp_path):
    kit, base, prepared = digits
    cfg = kit.head_config(scratch(kit, base).config, ENOUGH)
    assert cfg.backbone.weights == "none" and cfg.backbone.frozen_depth == 0 and not cfg.warnings()
    assert kit.search_config(cfg, 3) is None and kit.fine_tune_config(cfg) is None
    record = run_experiment(cfg, store=RunStore(tmp_path / "runs"))
    phases = json.loads((record.path / "phases.json").read_text())
    summary = block_summary(cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size, prepared.num_classes)
    assert phases[0]["trainable_params"] == summary.trainable_at(0) > summary.head_params  # every block trains
    assert record.metrics["accuracy"] >= 0.3, record.metrics


def test_few_examples_get_a_logistic_head(digits):
    kit, base, _ = digits
    cfg = kit.head_config(base, recipe_for({"a": 5, "b": 6}))
    assert cfg.train.head_fit == "logistic" and cfg.train.head_units == 0 and cfg.backbone.frozen_depth is None
    assert not cfg.augment.active and not cfg.logistic_head_blockers() and not cfg.warnings()


@pytest.mark.slow
def test_the_few_examples_head_is_one_logistic_fit_that_learns(digits, tmp_path):
    kit, base, _ = digits
    # Three digits: the fit's cross-validation over ten classes of 1280 features takes minutes on 2 busy cores.
    cfg = kit.head_config(base.replace(data__classes=["0", "1", "2"]), recipe_for({"a": 5, "b": 6}))
    record = run_experiment(cfg, store=RunStore(tmp_path / "runs"))
    phases = json.loads((record.path / "phases.json").read_text())
    assert [(p["phase"], p["epochs_run"]) for p in phases] == [("head", 1)]
    assert record.metrics["accuracy"] >= 0.7, record.metrics  # three digits: chance is 0.33


def test_search_config_searches_the_head_on_cached_features(digits, tmp_path):
    from lepton_widgets.core.search.tuner import run_search

    kit, base, _ = digits
    cfg = kit.search_config(kit.head_config(base, ENOUGH), trials=2)
    assert isinstance(cfg, RunConfig) and cfg.validate() is cfg
    assert cfg.tuner.max_trials == 2 and cfg.tuner.algorithm == "random"
    assert {"learning_rate", "dropout", "l2", "head_units"} <= set(cfg.tuner.searched())
    assert "frozen_depth" not in cfg.tuner.searched() and "augment" not in cfg.tuner.searched()
    trials = task_for_config(cfg).search_trials(cfg)
    assert trials.plan(cfg.replace(train__head_units=256)).path == PATH_FEATURES
    result = run_search(cfg, runs_dir=tmp_path / "runs")
    assert result.status == "finished" and len(result.trials) == 2
    assert result.best_config().backbone.frozen_depth is None


def test_fine_tune_config_unfreezes_the_last_blocks(digits):
    kit, base, _ = digits
    head = kit.head_config(base, ENOUGH)
    cfg = kit.fine_tune_config(head)
    n_blocks = block_summary("mobilenet_v2", "offline", 32).n_blocks
    assert cfg.backbone.frozen_depth is not None and n_blocks - 2 <= cfg.backbone.frozen_depth < n_blocks
    assert [p for p, _ in planned_phases(cfg, n_blocks)] == ["head", "fine_tune"]
    assert cfg.train.fine_tune_lr_factor == TrainConfig().fine_tune_lr_factor and cfg.train.fine_tune_epochs >= 2


def test_sounds_rank_and_give_features_through_picture_backbones(keywords):
    kit, base, prepared = keywords
    assert type(kit).__name__ == "AudioAutoKit" and base.backbone.name == "mobilenet_v2"
    check_features(kit.features(base, prepared), prepared)
    candidates = kit.candidates(base, "fast")
    from_scratch = [c for c in candidates if c.config.backbone.weights == "none"][0]
    assert from_scratch.config.augment.time_mask > 0 and not candidates[0].config.augment.active
    ranked = kit.rank(base, [candidates[0], from_scratch], prepared)
    assert list(ranked.columns) == RANK_COLUMNS and (ranked["status"] == "ok").all()
    assert ranked["probe_accuracy"].max() > 0.3  # ten words: chance 0.10
    head = kit.head_config(from_scratch.config, recipe_for(prepared.report.class_counts))
    assert head.backbone.frozen_depth == 0 and head.augment.active
