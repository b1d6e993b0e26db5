"""Fine-tuning on the frozen blocks' stored output (core/tasks/image/boundary_cache.py) against recomputing it.

The tolerance, and why it is not exact: the cache stores activations in float16, which keeps 11 significant bits,
so each one is rounded by up to 2**-11 (0.05 %) of its value. Everything above the boundary then sees slightly
different inputs, and Adam divides each step by the running size of that weight's gradient, so where a
gradient is close to zero the rounding can flip the sign of a step; the small differences then compound over
the steps. Over the whole model the update keeps its direction. Measured here (this test's set-up: 3 epochs,
220 train / 40 val digits): cosine 0.9965 between the cached and the recomputed weight changes, validation
accuracy 0.850 both, validation loss 0.632 against 0.615; in trials with other seeds, learning rates and
depths the cosine stayed between 0.98 and 0.999. The test asks for a cosine above 0.95, a validation loss
within 8 % and a validation accuracy within two of its 40 images: room for float16 and for another CPU's
rounding, while a wrong set-up lands far outside it: the same cached run with the batches in another order
gave a cosine of 0.61 and a validation loss 16 % off.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.callbacks import EventCallback
from lepton_widgets.core.base.events import ListSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.core.data import make_dataset, prepare_data
from lepton_widgets.core.tasks.image import training
from lepton_widgets.core.tasks.image.boundary_cache import (_single_tensor_cut, boundary_training_data,
                                                            split_at_boundary)
from lepton_widgets.core.tasks.image.model import build_transfer_model, freeze_to

EPOCHS, LEARNING_RATE = 3, 3e-3


@pytest.fixture(scope="module")
def pretrained_cnn(tmp_path_factory):
    """A small CNN trained from scratch on digits for a few epochs, saved as a weights file: a quick stand-in
    for pretrained weights (real BatchNorm statistics, features worth fine-tuning), then the data to tune on."""
    cfg = RunConfig.from_dict({"seed": 5, "data": {"dataset": "digits", "max_per_class": 30},
                               "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32,
                                            "frozen_depth": 0}})
    data = prepare_data(cfg.data, cfg.seed)
    training.seed_everything(cfg.seed)
    tm = build_transfer_model(cfg, data.num_classes)
    training.compile_model(tm.model, 3e-3, cfg, steps=1)
    tm.model.fit(make_dataset(data.split("train"), 32, 16, shuffle=True, seed=cfg.seed), epochs=4, verbose=0)
    path = tmp_path_factory.mktemp("cnn") / "small_cnn.weights.h5"
    tm.backbone.save_weights(str(path))
    return str(path), data


def tune_config(weights: str, **train) -> RunConfig:
    return RunConfig.from_dict({"seed": 3, "data": {"dataset": "digits", "max_per_class": 30},
                                "backbone": {"name": "small_cnn", "weights": weights, "image_size": 32,
                                             "frozen_depth": 2},
                                "train": {"batch_size": 16, "early_stopping_patience": 0,
                                          "lr_schedule": "constant", **train}})


def fine_tune(cfg: RunConfig, data):
    """The fine-tune phase's fit (``_fit_full_model``) from a fresh model built with ``cfg``'s seed:
    (weights before, weights after, history, events)."""
    training.seed_everything(cfg.seed)
    tm = build_transfer_model(cfg, data.num_classes)
    before = [w.copy() for w in tm.model.get_weights()]
    sink = ListSink()
    job = Job(sink=sink)
    callback = EventCallback(job, "fine_tune", EPOCHS)
    training._fit_full_model(tm, data, cfg, EPOCHS, LEARNING_RATE, callback, job)
    return before, tm.model.get_weights(), callback.history, sink


def notes(sink: ListSink):
    return sink.of_kind("training_note")


def boundary_files():
    return sorted(cache_dir("boundary").glob("*.npy"))


def flat(weights) -> np.ndarray:
    return np.concatenate([np.ravel(w) for w in weights])


def test_boundary_cached_fine_tuning_matches_recomputing_and_is_reused(pretrained_cnn, private_cache):
    weights, data = pretrained_cnn
    earlier = set(boundary_files())
    start0, cached, cached_history, cached_events = fine_tune(tune_config(weights), data)
    start1, streamed, streamed_history, streamed_events = fine_tune(tune_config(weights, feature_cache="never"), data)

    assert np.array_equal(flat(start0), flat(start1))  # the same starting point
    (note,) = notes(cached_events)
    assert note.boundary_cache and "2 frozen blocks" in note.message
    assert not notes(streamed_events)  # the user switched the caches off: images stream, nothing to say
    delta_cached, delta_streamed = flat(cached) - flat(start0), flat(streamed) - flat(start0)
    assert np.linalg.norm(delta_cached) > 0.1  # it trained (the frozen weights stayed, see below)
    cosine = delta_cached @ delta_streamed / (np.linalg.norm(delta_cached) * np.linalg.norm(delta_streamed))
    assert cosine > 0.95, cosine
    last_cached, last_streamed = cached_history[-1], streamed_history[-1]
    assert last_streamed["val_accuracy"] > 0.5, streamed_history  # a model that learnt: the comparison means something
    assert abs(last_cached["val_accuracy"] - last_streamed["val_accuracy"]) <= 2 / len(data.split("val"))
    assert last_cached["val_loss"] == pytest.approx(last_streamed["val_loss"], rel=0.08)

    # The frozen blocks' weights did not move; the trained ones are the full model's (shared layers).
    training.seed_everything(3)
    tm = build_transfer_model(tune_config(weights), data.num_classes)
    tm.model.set_weights(cached)
    frozen = {id(v) for name in list(tm.blocks)[:2] for layer in tm.blocks[name]
              for v in tm.backbone.get_layer(layer).weights}
    for variable, value, first in zip(tm.model.weights, cached, start0):
        if id(variable) in frozen:
            assert np.array_equal(value, first), variable.path

    # A second run finds the stored activations and computes nothing.
    files = {path: path.stat().st_mtime_ns for path in boundary_files() if path not in earlier}
    assert len(files) == 2  # train and val
    sink = ListSink()
    freeze_to(tm, 2)
    again = boundary_training_data(tm, data, tune_config(weights), Job(sink=sink))
    assert again is not None and again.hit
    assert "earlier run" in notes(sink)[0].message and not sink.of_kind("progress")
    assert {path: path.stat().st_mtime_ns for path in boundary_files() if path not in earlier} == files


def test_augmentation_streams_the_images_and_says_so(pretrained_cnn, private_cache):
    weights, data = pretrained_cnn
    before = boundary_files()
    _, _, history, events = fine_tune(tune_config(weights).replace(augment__flip="horizontal"), data)
    (note,) = notes(events)
    assert not note.boundary_cache and note.message.startswith("Augmentation is on")
    assert len(history) == EPOCHS
    assert boundary_files() == before


def test_mobilenet_v2_split_equals_the_full_model_at_residual_block_borders():
    """Cut MobileNetV2 (offline weights) below block_4 (whose skip connection starts at its input) and below the
    last two blocks: lower then upper computes exactly what the full model computes, with its own layers."""
    cfg = RunConfig.from_dict({"backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 32,
                                            "frozen_depth": 17}})
    tm = build_transfer_model(cfg, num_classes=4)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    expected = np.asarray(tm.model(pixels, training=False))
    for depth, first, shape in ((17, "block_16_expand", (1, 1, 160)), (5, "block_4_expand", (4, 4, 32))):
        split = split_at_boundary(freeze_to(tm, depth))
        assert (split.layer, split.shape) == (first, shape)
        boundary = np.asarray(split.lower(pixels, training=False))
        got = np.asarray(split.upper(boundary, training=False))
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert {id(v) for v in split.upper.trainable_weights} == {id(v) for v in tm.model.trainable_weights}


def test_a_skip_connection_across_the_block_border_moves_the_cut_down():
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="block_1_conv")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="block_2_conv")(a)
    c = keras.layers.Conv2D(4, 3, padding="same", name="block_3_conv")(b)
    model = keras.Model(inputs, keras.layers.Add(name="block_3_add")([a, c]))
    names = [layer.name for layer in model.layers]
    # Below block_3 both b (read by block_3_conv) and a (read by the add) cross: the cut drops below block_2.
    index, tensor = _single_tensor_cut(model.layers, names.index("block_3_conv"), model.outputs)
    assert names[index] == "block_2_conv" and tensor is model.get_layer("block_1_conv").output
    assert _single_tensor_cut(model.layers, names.index("block_2_conv"), model.outputs)[0] == index
