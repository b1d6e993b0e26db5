"""MobileNetV2's graph with keras.applications' layer names, in two flavours (no weights, no registry entry).

``keras.applications.MobileNetV2`` hardcodes BatchNorm epsilon 1e-3 and TF-style asymmetric padding on its
stride-2 convolutions. torchvision's ImageNet weights (our offline pack) were trained with epsilon 1e-5 and
symmetric padding (1 on every side), and give garbage under Keras' settings. :func:`build_mobilenet_v2`
reproduces Keras' graph and layer names (``Conv1``, ``bn_Conv1``, ``expanded_conv_depthwise``,
``block_1_expand`` ... ``block_16_project_BN``, ``Conv_1``, ``Conv_1_bn``, ``out_relu``, ``predictions``)
with both settings as options; ``torch_padding=True`` adds an explicit ``Conv1_pad`` before ``Conv1``.
Both the offline pack (``mobilenet_v2_offline.py``, which converts torchvision's weights into this graph) and
the registry entry (``mobilenet_v2.py``) build on it, so it sits below both.

Example:
    >>> model = build_mobilenet_v2(96, include_top=False, bn_epsilon=1e-5, torch_padding=True)
    >>> model.get_layer("out_relu").output.shape
    (None, 3, 3, 1280)
"""

from __future__ import annotations

import keras
from keras import layers

#: (filters, stride, expansion) of inverted-residual blocks 0..16, as in keras.applications.
BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
          (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
          (320, 1, 6)]


def _pad(x, name: str, torch_padding: bool):
    """Padding before a 3x3 stride-2 conv: torch pads 1 all round; Keras pads (0, 1) on even sizes."""
    if torch_padding:
        return layers.ZeroPadding2D(1, name=name)(x)
    adjust = [1 - int(d) % 2 for d in x.shape[1:3]]  # keras.applications.imagenet_utils.correct_pad
    return layers.ZeroPadding2D(((1 - adjust[0], 1), (1 - adjust[1], 1)), name=name)(x)


def _conv_bn(x, filters: int, name: str, bn_name: str, eps: float, relu: str | None):
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(epsilon=eps, momentum=0.999, name=bn_name)(x)
    return layers.ReLU(6.0, name=relu)(x) if relu else x


def _inverted_res_block(inputs, filters, stride, expansion, block_id, eps, torch_padding):
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    x = inputs
    if block_id:  # block 0 has no expansion conv
        x = _conv_bn(x, expansion * inputs.shape[-1], f"{prefix}expand", f"{prefix}expand_BN", eps,
                     f"{prefix}expand_relu")
    if stride == 2:
        x = _pad(x, f"{prefix}pad", torch_padding)
    x = layers.DepthwiseConv2D(3, strides=stride, use_bias=False, padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(epsilon=eps, momentum=0.999, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = _conv_bn(x, filters, f"{prefix}project", f"{prefix}project_BN", eps, relu=None)
    if inputs.shape[-1] == filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def build_mobilenet_v2(image_size: int = 224, include_top: bool = True, bn_epsilon: float = 1e-3,
                       torch_padding: bool = False, classes: int = 1000, name: str = "mobilenet_v2") -> keras.Model:
    """MobileNetV2 (alpha 1.0), randomly initialised, with keras.applications' layer names.

    ``bn_epsilon=1e-3, torch_padding=False`` is keras.applications' graph; ``1e-5, True`` is torchvision's.
    ``include_top`` adds global average pooling and the 1000-way softmax ``predictions`` layer.
    """
    inputs = keras.Input((image_size, image_size, 3), name="input_layer")
    if torch_padding:
        x = layers.ZeroPadding2D(1, name="Conv1_pad")(inputs)
        x = layers.Conv2D(32, 3, strides=2, padding="valid", use_bias=False, name="Conv1")(x)
    else:
        x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="Conv1")(inputs)
    x = layers.BatchNormalization(epsilon=bn_epsilon, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(BLOCKS):
        x = _inverted_res_block(x, filters, stride, expansion, block_id, bn_epsilon, torch_padding)
    x = _conv_bn(x, 1280, "Conv_1", "Conv_1_bn", bn_epsilon, relu="out_relu")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name)
