"""Keras layers that map raw RGB floats in [0, 255] to what a backbone was trained on.

Every kind is a built-in layer or the small registered :class:`CaffePreprocess`, never a ``Lambda``, so a
full model saved as ``.keras`` loads again with ``keras.saving.load_model(path, safe_mode=True)``.

Example:
    >>> import numpy as np
    >>> layer = normalization_layer("tf")
    >>> np.asarray(layer(np.array([[[[0.0, 127.5, 255.0]]]], "float32"))).round(3).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
"""

from __future__ import annotations

import keras
import numpy as np

from lepton_widgets.i18n import N_

#: Normalisation kinds. Inputs to the full model are RGB floats in [0, 255]; each kind maps them to
#: what the backbone was trained on.
#: ``torch``: (x/255 - mean) / std with ImageNet mean/std (torchvision weights);
#: ``tf``: x/127.5 - 1 (keras.applications MobileNet family);
#: ``caffe``: RGB->BGR minus the ImageNet BGR mean (VGG, ResNet50 v1);
#: ``raw``: unchanged (models that normalise inside, e.g. EfficientNet, ConvNeXt);
#: ``unit``: x/255 (models trained here from scratch).
NORMALIZATIONS = ("torch", "tf", "caffe", "raw", "unit")

#: One line per normalisation kind, for people (tooltips, reports, error messages).
NORMALIZATION_DOCS = {
    "torch": N_("(x/255 - ImageNet mean) / ImageNet std, per RGB channel (torchvision weights)"),
    "tf": N_("x/127.5 - 1, i.e. [-1, 1] (keras.applications MobileNet/MobileNetV2)"),
    "caffe": N_("RGB->BGR, then minus the ImageNet BGR mean, no scaling (Caffe-era VGG/ResNet50)"),
    "raw": N_("unchanged [0, 255]; the backbone normalises inside (EfficientNet, ConvNeXt, MobileNetV3)"),
    "unit": N_("x/255, i.e. [0, 1] (small models trained from scratch here)"),
}

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
#: Caffe's per-channel mean, in BGR order, in [0, 255] units.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="lepton")
class CaffePreprocess(keras.layers.Layer):
    """RGB -> BGR, then subtract the ImageNet BGR mean (``keras.applications.imagenet_utils`` mode "caffe").

    >>> import numpy as np
    >>> CaffePreprocess()(np.array([[[[123.68, 116.779, 103.939]]]], "float32")).numpy().round(3).tolist()
    [[[[0.0, 0.0, 0.0]]]]
    """

    def call(self, inputs):
        bgr = keras.ops.flip(inputs, axis=-1)
        return bgr - keras.ops.convert_to_tensor(np.array(CAFFE_MEAN_BGR, "float32"), dtype=bgr.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def normalization_layer(kind: str, name: str = "normalize") -> keras.layers.Layer:
    """A layer for one of :data:`NORMALIZATIONS`.

    Get the kind from the spec and the weights source, because it depends on both:

    >>> from lepton_widgets.core.backbones import get_backbone
    >>> spec = get_backbone("mobilenet_v2")
    >>> normalization_layer(spec.normalization_for("offline")).__class__.__name__
    'Normalization'
    """
    if kind == "torch":
        # (x/255 - mean)/std == (x - 255*mean) / (255*std); Normalization takes variance = std**2.
        mean = [255.0 * m for m in IMAGENET_MEAN_RGB]
        variance = [(255.0 * s) ** 2 for s in IMAGENET_STD_RGB]
        return keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name=name)
    if kind == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=name)
    if kind == "unit":
        return keras.layers.Rescaling(1.0 / 255.0, name=name)
    if kind == "raw":
        return keras.layers.Identity(name=name)
    if kind == "caffe":
        return CaffePreprocess(name=name)
    raise ValueError(f"unknown normalization {kind!r}; known: {', '.join(NORMALIZATIONS)}")
