"""Every registered backbone builds, trains a step, predicts and round-trips through .keras; and the
offline MobileNetV2 weights are really torchvision's ImageNet weights."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from lepton_widgets.core.backbones import (get_backbone, list_backbones, load_backbone, normalization_layer,
                                           weights_fingerprint)
from lepton_widgets.core.backbones.mobilenet_v2_graph import build_mobilenet_v2
from lepton_widgets.core.backbones.mobilenet_v2_offline import CONVERTED_NAME, TORCHVISION_PACK


@pytest.fixture(scope="module", autouse=True)
def lepton_home(tmp_path_factory):
    """One private cache for this module, so the offline weights are converted once, never under ~."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("lepton-home")
        mp.setenv("LEPTON_HOME", str(home))
        yield home


def run_backbone_test(spec, weights, tmp_path, image_size: int = 32) -> keras.Model:
    """Build, fit one step, predict, save/load as .keras (safe_mode) and check the block grouping.

    Runs eagerly with plain SGD: tracing a graph (or building Adam's slots) for one step costs far more
    than the step itself on 2 CPU cores, and the model that is saved and loaded is the same either way.
    """
    size = max(image_size, spec.min_size)
    backbone = load_backbone(spec, weights, size)
    assert backbone.name == "backbone"
    assert len(backbone.output.shape) == 4 and backbone.output.shape[-1] == spec.feature_dim
    assert tuple(backbone.input.shape[1:]) == (size, size, 3)

    inputs = keras.Input((size, size, 3))
    x = normalization_layer(spec.normalization_for(weights))(inputs)
    x = backbone(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", run_eagerly=True)

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (8, size, size, 3)).astype("float32")
    labels = np.arange(8) % 3
    head_before = model.get_layer("head").get_weights()[0].copy()
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(model.get_layer("head").get_weights()[0], head_before), "fit did not train"

    predicted = model.predict(images, verbose=0)
    assert predicted.shape == (8, 3) and np.all(np.isfinite(predicted))
    path = tmp_path / f"{spec.name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(reloaded(images, training=False)), predicted, rtol=1e-5, atol=1e-6)

    names = [layer.name for layer in backbone.layers]
    blocks = spec.block_of(names)
    assert len(blocks) >= 3, blocks.keys()
    assert [n for group in blocks.values() for n in group] == names  # every layer, once, in order
    assert all(len(group) > 0 for group in blocks.values())
    return backbone


def _case(name, weights, first_blocks, last_block, n_blocks, heavy=False):
    # Heavy ones carry the project's "slow" marker, which labels them but never skips them.
    return pytest.param(name, weights, first_blocks, last_block, n_blocks, id=f"{name}-{weights}",
                        marks=[pytest.mark.slow] if heavy else [])


#: backbone, weights, and the expected blocks (first three, last, how many), checked on the real models.
BUILDS = [
    _case("mobilenet_v2", "offline", ["stem", "expanded_conv", "block_1"], "Conv_1", 19),
    _case("mobilenet_v2", "none", ["stem", "expanded_conv", "block_1"], "Conv_1", 19),
    _case("small_cnn", "none", ["stem", "block_1", "block_2"], "block_4", 5),
    _case("mobilenet_v3_small", "none", ["stem", "expanded_conv", "expanded_conv_1"], "conv_1", 13),
    _case("mobilenet_v3_large", "none", ["stem", "expanded_conv", "expanded_conv_1"], "conv_1", 17),
    _case("efficientnet_b0", "none", ["stem", "block1a", "block2a"], "top", 18, heavy=True),
    _case("resnet50", "none", ["stem", "conv2_block1", "conv2_block2"], "conv5_block3", 17, heavy=True),
    _case("convnext_tiny", "none", ["stem", "stage_0_block_0", "stage_0_block_1"], "stage_3_block_2", 22,
          heavy=True),
    _case("densenet121", "none", ["stem", "conv2", "pool2"], "conv5", 8, heavy=True),
    _case("vgg16", "offline", ["stem", "block1", "block2"], "block5", 6),  # more in test_backbone_vgg16.py
]


#: Backbones whose own test file runs ``run_backbone_test`` (with the checks only they need).
HARNESS_ELSEWHERE = {"efficientnet_lite0": "tests/test_backbone_effnet_lite0.py"}


def test_every_registered_backbone_is_exercised():
    covered = {case.values[0] for case in BUILDS} | set(HARNESS_ELSEWHERE)
    assert covered == {spec.name for spec in list_backbones()}
    for path in HARNESS_ELSEWHERE.values():
        assert "run_backbone_test(" in Path(__file__).parent.parent.joinpath(path).read_text()


@pytest.mark.parametrize("name,weights,first_blocks,last_block,n_blocks", BUILDS)
def test_backbone_builds_trains_and_round_trips(name, weights, first_blocks, last_block, n_blocks, tmp_path):
    spec = get_backbone(name)
    backbone = run_backbone_test(spec, weights, tmp_path)
    blocks = list(spec.block_of([layer.name for layer in backbone.layers]))
    assert (blocks[:3], blocks[-1], len(blocks)) == (first_blocks, last_block, n_blocks), blocks


def test_layer_names_are_stable_across_builds():
    spec = get_backbone("mobilenet_v3_small")
    first = [layer.name for layer in load_backbone(spec, "none", 32).layers]
    second = [layer.name for layer in load_backbone(spec, "none", 32).layers]
    assert first == second
    assert "re_lu" in first and "input_layer" in first  # counters restart per model


def _top1(model, image, size=224):
    x = tf.image.resize(image[None].astype("float32"), (size, size)).numpy()
    probabilities = model.predict(normalization_layer("torch")(x), verbose=0)[0]
    return int(np.argmax(probabilities))


def test_offline_weights_classify_real_photos():
    import skimage.data as skimage_data  # a dependency of the package
    classifier = TORCHVISION_PACK.full_model(224)
    assert classifier.count_params() == 3_538_984
    assert _top1(classifier, skimage_data.chelsea()) in {281, 282, 283, 284, 285}  # tabby .. Egyptian cat
    assert _top1(classifier, skimage_data.coffee()) == 967  # espresso


def test_our_builder_reproduces_keras_mobilenet_v2():
    """With Keras' settings our builder is keras.applications.MobileNetV2: names, shapes and outputs."""
    ours = build_mobilenet_v2(96, include_top=True, bn_epsilon=1e-3, torch_padding=False)
    keras_model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)
    named = lambda m: [(l.name, [tuple(w.shape) for w in l.weights]) for l in m.layers[1:] if l.weights]  # noqa: E731
    assert named(ours) == named(keras_model)
    assert ours.count_params() == keras_model.count_params() == 3_538_984
    ours.set_weights(keras_model.get_weights())
    x = np.random.default_rng(1).uniform(-1, 1, (2, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras_model.predict(x, verbose=0), atol=1e-5)

    torch_flavour = build_mobilenet_v2(96, bn_epsilon=1e-5, torch_padding=True)
    assert torch_flavour.get_layer("Conv1_pad").padding == ((1, 1), (1, 1))
    assert torch_flavour.get_layer("block_1_pad").padding == ((1, 1), (1, 1))
    assert torch_flavour.get_layer("bn_Conv1").epsilon == 1e-5


def test_conversion_is_cached_verified_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "a"))
    path = TORCHVISION_PACK.ensure_converted()
    assert path == tmp_path / "a" / "weights" / CONVERTED_NAME
    checksum = TORCHVISION_PACK.checksum_path()
    stamp = path.stat().st_mtime_ns
    assert TORCHVISION_PACK.ensure_converted() == path and path.stat().st_mtime_ns == stamp  # not redone
    assert not [p for p in path.parent.iterdir() if "tmp" in p.name]  # no temp files left behind

    first = build_mobilenet_v2(32, bn_epsilon=1e-5, torch_padding=True)
    first.load_weights(path)

    # A checksum that does not match the file means the file cannot be trusted: convert again.
    checksum.write_text("0" * 64 + f"  {CONVERTED_NAME}\n")
    assert not TORCHVISION_PACK.is_converted()
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))
    TORCHVISION_PACK.ensure_converted()
    assert path.stat().st_mtime_ns != stamp - 10**9 and TORCHVISION_PACK.is_converted()

    # A second, independent conversion gives identical weights.
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "b"))
    second = build_mobilenet_v2(32, bn_epsilon=1e-5, torch_padding=True)
    second.load_weights(TORCHVISION_PACK.ensure_converted())
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert weights_fingerprint(get_backbone("mobilenet_v2"), "offline").endswith(
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889")


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # the deliberate mismatch below
def test_file_weights_round_trip_and_mismatch(tmp_path):
    from lepton_widgets.core.backbones import WeightsUnavailable

    spec = get_backbone("mobilenet_v2")
    offline = load_backbone(spec, "offline", 32)
    saved = tmp_path / "mine.weights.h5"
    offline.save_weights(saved)
    from_file = load_backbone(spec, str(saved), 32)
    x = np.random.default_rng(2).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(from_file.predict(x, verbose=0), offline.predict(x, verbose=0), atol=1e-6)
    assert spec.normalization_for(str(saved)) == "torch"

    wrong = tmp_path / "small.weights.h5"
    load_backbone(get_backbone("small_cnn"), "none", 32).save_weights(wrong)
    with pytest.raises(WeightsUnavailable, match="does not fit mobilenet_v2"):
        load_backbone(spec, str(wrong), 32)

    # Keras loads a file with *extra* layers (here the 1000-way classifier) without a word; we refuse.
    with_head = tmp_path / "classifier.weights.h5"
    TORCHVISION_PACK.full_model(32).save_weights(with_head)
    with pytest.raises(WeightsUnavailable, match="262 arrays but mobilenet_v2 has 260"):
        load_backbone(spec, str(with_head), 32)

    with pytest.raises(WeightsUnavailable, match="does not exist"):
        load_backbone(spec, str(tmp_path / "missing.weights.h5"), 32)
