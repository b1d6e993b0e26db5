"""keras.applications backbones whose ImageNet weights need internet (or a file in the Keras cache).

Plain data, one entry per backbone. Normalisation follows each family's ``preprocess_input``:
MobileNetV3, EfficientNet and ConvNeXt normalise inside the model (``raw``), ResNet50 is ``caffe``,
DenseNet is ``torch``. Block patterns were checked on the real models (weights=None): ResNet50 gives
conv2_block1 .. conv5_block3, EfficientNetB0 block1a .. block7a + top, ConvNeXt stage_i_block_j with the
downsampling layers as their own blocks, DenseNet121 its dense stages and transitions.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone
    >>> get_backbone("resnet50").normalization, get_backbone("convnext_tiny").feature_dim
    ('caffe', 768)
"""

from __future__ import annotations

import functools

import keras

from .registry import register_backbone
from .spec import BackboneSpec, ImagenetWeights
from lepton_widgets.i18n import N_

_GCS = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _build(constructor_name: str, image_size: int, source: str, path: str | None) -> keras.Model:
    constructor = getattr(keras.applications, constructor_name)
    # Always build without weights and load the file ourselves (see weights.py for why).
    model = constructor(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    if path:
        model.load_weights(path)
    return model


def _spec(name: str, constructor: str, feature_dim: int, normalization: str, block_pattern: str,
          imagenet: ImagenetWeights, description: str) -> BackboneSpec:
    return BackboneSpec(
        name=name, family=constructor, description=description,
        builder=functools.partial(_build, constructor), feature_dim=feature_dim, normalization=normalization,
        block_pattern=block_pattern, min_size=32, weight_sources=("imagenet", "none", "file"),
        licence=N_("Apache-2.0 (keras.applications)"), imagenet=imagenet,
    )


_MOBILENET_V3_BLOCKS = r"^(expanded_conv(?:_\d+)?|conv_1)(?:_|$)"

SPECS = [register_backbone(s) for s in (
    _spec("mobilenet_v3_small", "MobileNetV3Small", 576, "raw", _MOBILENET_V3_BLOCKS,
          ImagenetWeights("weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5", _GCS + "mobilenet_v3/",
                          "d3e8ec802a04aa4fc771ee12a9a9b836"),
          N_("MobileNetV3-Small (0.9M params), fastest ImageNet backbone")),
    _spec("mobilenet_v3_large", "MobileNetV3Large", 960, "raw", _MOBILENET_V3_BLOCKS,
          ImagenetWeights("weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5", _GCS + "mobilenet_v3/",
                          "07fb09a5933dd0c8eaafa16978110389"),
          N_("MobileNetV3-Large (3.0M params)")),
    _spec("efficientnet_b0", "EfficientNetB0", 1280, "raw", r"^(block\d+[a-z]|top)_",
          ImagenetWeights("efficientnetb0_notop.h5", "https://storage.googleapis.com/keras-applications/",
                          "50bc09e76180e00e4465e1a485ddc09d"),
          N_("EfficientNet-B0 (4.0M params)")),
    _spec("resnet50", "ResNet50", 2048, "caffe", r"^(conv\d_block\d+)_",
          ImagenetWeights("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", _GCS + "resnet/",
                          "4d473c1dd8becc155b73f8504c6f6626"),
          N_("ResNet50 v1 (23.6M params)")),
    _spec("convnext_tiny", "ConvNeXtTiny", 768, "raw",
          r"^convnext_tiny_(stage_\d+_block_\d+|downsampling_block_\d+)",
          ImagenetWeights("convnext_tiny_notop.h5", _GCS + "convnext/",
                          "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
          N_("ConvNeXt-Tiny (27.8M params)")),
    _spec("densenet121", "DenseNet121", 1024, "torch", r"^(conv[2-5]|pool[2-4])_",
          ImagenetWeights("densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5", _GCS + "densenet/",
                          "30ee3e1110167f948a6b9946edeeb738"),
          N_("DenseNet121 (7.0M params)")),
)]
