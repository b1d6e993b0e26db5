"""MobileNetV2's registry entry: which graph and weights each source uses.

Weights sources: ``offline`` (torchvision pack, torch normalisation, our builder), ``imagenet``/``none``
(keras.applications' own model, ``tf`` normalisation) and ``file`` (our torchvision-layout builder, so a
file saved from an offline backbone loads back; torch normalisation). The graph itself, with both padding
flavours, is :func:`~lepton_widgets.core.backbones.mobilenet_v2_graph.build_mobilenet_v2`.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone
    >>> get_backbone("mobilenet_v2").normalization_for("offline"), get_backbone("mobilenet_v2").feature_dim
    ('torch', 1280)
"""

from __future__ import annotations

import keras

from .mobilenet_v2_graph import build_mobilenet_v2
from .mobilenet_v2_offline import TORCHVISION_PACK
from .registry import register_backbone
from .spec import BackboneSpec, ImagenetWeights
from lepton_widgets.i18n import N_


def _build(image_size: int, source: str, path: str | None) -> keras.Model:
    if source == "offline":
        full = TORCHVISION_PACK.full_model(image_size)
        return keras.Model(full.input, full.get_layer("out_relu").output, name="backbone")
    if source == "file":
        model = build_mobilenet_v2(image_size, include_top=False, bn_epsilon=1e-5, torch_padding=True, name="backbone")
        model.load_weights(path)
        return model
    # imagenet / none: Keras' own graph, which its ImageNet files were made for.
    model = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    if path:
        model.load_weights(path)
    return model


SPEC = register_backbone(BackboneSpec(
    name="mobilenet_v2",
    family="mobilenet",
    description=N_("MobileNetV2 1.0 (3.5M params); offline torchvision ImageNet weights or keras.applications'"),
    builder=_build,
    feature_dim=1280,
    normalization="torch",
    normalization_by_source={"imagenet": "tf", "none": "tf"},
    block_pattern=r"^(expanded_conv|block_\d+|Conv_1)(?:_|$)",
    min_size=32,
    weight_sources=("offline", "imagenet", "none", "file"),
    licence=N_("torchvision weights BSD-3-Clause; keras.applications weights Apache-2.0"),
    imagenet=ImagenetWeights(
        file_name="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
        origin_dir="https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/",
        sizes=(96, 128, 160, 192, 224),
    ),
    offline_pack=TORCHVISION_PACK,
))
