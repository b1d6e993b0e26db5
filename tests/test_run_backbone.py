"""A finished run as the backbone of a new run (``weights: "run:<id or folder>"``), and bad references."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import tiny_config
from lepton_widgets.api import evaluate
from lepton_widgets.config import RunConfig
from lepton_widgets.core.backbones import WeightsUnavailable, availability, get_backbone, load_backbone
from lepton_widgets.core.backbones import weights_fingerprint
from lepton_widgets.core.backbones.run_backbone import run_weights
from lepton_widgets.core.tasks import run_experiment
from lepton_widgets.core.tasks.image.model import build_transfer_model
from lepton_widgets.core.runs.store import RunStore

#: Source: digits 0-4, trained from scratch. Target: digits 5-9 with about 6 training images per class and a
#: large test split (18 per class), so the comparison is not decided by two or three test images.
SOURCE = dict(name="source", data={"classes": [0, 1, 2, 3, 4], "max_per_class": 60},
              train={"epochs": 1, "fine_tune_epochs": 10})
TARGET_DATA = {"classes": [5, 6, 7, 8, 9], "max_per_class": 40, "val_fraction": 0.4, "test_fraction": 0.45}
#: Measured (seed 7, about 6 training images per class): transfer 0.556 vs scratch 0.233 test accuracy (+0.32).
MARGIN = 0.15


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def source(store):
    record = run_experiment(tiny_config(**SOURCE), store=store)
    assert record.status == "finished" and record.metrics["accuracy"] > 0.8, record.metrics
    return record


@pytest.mark.slow
def test_a_run_on_digits_0_4_seeds_a_run_on_digits_5_9_and_beats_scratch(store, source):
    weights = run_weights(source)
    transfer_cfg = tiny_config(name="transfer", data=TARGET_DATA,
                               backbone={"weights": weights, "frozen_depth": None},
                               train={"epochs": 15, "fine_tune_epochs": 0, "learning_rate": 1e-2})
    # Same architecture trained from scratch, for as many epochs, every block trainable.
    scratch_cfg = tiny_config(name="scratch", data=TARGET_DATA, train={"epochs": 1, "fine_tune_epochs": 14})

    tm = build_transfer_model(transfer_cfg, num_classes=5)
    source_backbone = source.load_model().get_layer("backbone")
    for ours, theirs in zip(tm.backbone.weights, source_backbone.weights):     # BatchNorm statistics too
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert list(tm.blocks) == ["block_1", "block_2", "block_3", "block_4"] and tm.frozen_depth == 4
    assert tm.pretrained and tm.model.get_layer("classifier").units == 5      # a fresh head, new classes
    assert type(tm.model.get_layer("normalize")).__name__ == "Rescaling"      # the source's unit kind

    transfer = run_experiment(transfer_cfg, store=store)
    scratch = run_experiment(scratch_cfg, store=store)
    assert transfer.status == scratch.status == "finished"
    assert transfer.config.backbone.weights == weights
    assert transfer.class_names == ["5", "6", "7", "8", "9"]
    assert any(p["cached_features"] for p in transfer.events if p.get("kind") == "phase_started")

    reloaded = transfer.load_model()      # saved, and reloads in safe mode as a plain model
    again = evaluate(transfer)            # the reloaded model scores what the run stored
    assert again.summary()["accuracy"] == pytest.approx(transfer.metrics["accuracy"])
    kernel = reloaded.get_layer("backbone").get_layer("block_1_conv").kernel
    np.testing.assert_array_equal(np.asarray(kernel), np.asarray(source_backbone.get_layer("block_1_conv").kernel))

    gain = transfer.metrics["accuracy"] - scratch.metrics["accuracy"]
    print(f"transfer {transfer.metrics['accuracy']:.3f} vs scratch {scratch.metrics['accuracy']:.3f}")
    assert gain >= MARGIN, (transfer.metrics, scratch.metrics)


def test_run_backbone_identity_size_and_normalisation(store, source):
    weights = run_weights(source)
    spec = get_backbone("small_cnn")
    ok, reason = availability(spec, weights, 32)
    assert ok and source.run_id in reason and "digits" in reason
    assert spec.normalization_for(weights) == "unit"
    assert weights_fingerprint(spec, weights).startswith(f"run:{source.run_id}:sha256:")

    # By id, looked up in the default runs folder ($LEPTON_RUNS).
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEPTON_RUNS", str(store.root))
        assert weights_fingerprint(spec, f"run:{source.run_id}") == weights_fingerprint(spec, weights)

    # Another input size: same weights, a rebuilt graph.
    bigger = load_backbone(spec, weights, 48)
    assert bigger.output.shape == (None, 6, 6, 64) and bigger.name == "backbone"
    np.testing.assert_array_equal(np.asarray(bigger.get_layer("block_2_conv").kernel),
                                  np.asarray(source.load_model().get_layer("backbone").get_layer("block_2_conv").kernel))


def _fake_run(store, status="finished", fusion=None, model=None):
    writer = store.create(tiny_config(name=f"fake-{status}"))
    if fusion:
        writer.extra["fusion"] = fusion
    if model is not None:
        writer.save_model(model)
    return writer.finalize(status)


def test_bad_references_say_what_is_wrong(store, source):
    spec = get_backbone("small_cnn")
    with pytest.raises(WeightsUnavailable, match="no run matching 'nope'.*lepton runs"):
        load_backbone(spec, "run:nope", 32)
    with pytest.raises(WeightsUnavailable, match="names no run"):
        load_backbone(spec, "run:", 32)

    cancelled = _fake_run(store, "cancelled")
    with pytest.raises(WeightsUnavailable, match=f"run {cancelled.run_id} is cancelled, not finished"):
        load_backbone(spec, run_weights(cancelled), 32)
    partial = store.create(tiny_config(name="still-running"))     # a .partial folder: running here
    with pytest.raises(WeightsUnavailable, match="is running, not finished"):
        load_backbone(spec, run_weights(partial.path), 32)
    partial.finalize("failed")
    no_model = _fake_run(store, "finished")
    with pytest.raises(WeightsUnavailable, match="has no saved model.keras"):
        load_backbone(spec, run_weights(no_model), 32)

    inputs = keras.Input((32, 32, 3))
    plain = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    ensemble = _fake_run(store, fusion={"method": "ensemble", "members": ["a", "b"]}, model=plain)
    with pytest.raises(WeightsUnavailable, match="ensemble of 2 runs: it has no single backbone"):
        build_transfer_model(RunConfig.from_dict({"backbone": {"name": "small_cnn", "image_size": 32,
                                                               "weights": run_weights(ensemble)}}), 3)
    foreign = _fake_run(store, model=plain)
    with pytest.raises(WeightsUnavailable, match="has no 'backbone' layer"):
        load_backbone(spec, run_weights(foreign), 32)

    with pytest.raises(WeightsUnavailable, match="trained with backbone 'small_cnn', not 'mobilenet_v2'.*"
                                                 "set backbone.name to 'small_cnn'"):
        load_backbone(get_backbone("mobilenet_v2"), run_weights(source), 32)
    ok, reason = availability(get_backbone("mobilenet_v2"), run_weights(source), 32)
    assert not ok and "set backbone.name to 'small_cnn'" in reason

    # A bad reference fails the run with the same words, and leaves the source run untouched.
    before = sorted(p.name for p in source.path.iterdir())
    with pytest.raises(WeightsUnavailable, match="no run matching"):
        run_experiment(tiny_config(backbone={"weights": "run:nope"}), store=store)
    assert sorted(p.name for p in source.path.iterdir()) == before
