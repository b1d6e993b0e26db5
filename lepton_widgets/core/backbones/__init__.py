"""Pretrained feature extractors: a registry of :class:`BackboneSpec` and one way to load them.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone, load_backbone, normalization_layer
    >>> spec = get_backbone("mobilenet_v2")
    >>> backbone = load_backbone(spec, weights="offline", image_size=96)        # doctest: +SKIP
    >>> norm = normalization_layer(spec.normalization_for("offline"))           # doctest: +SKIP
    >>> features = backbone(norm(images_0_255))                                  # doctest: +SKIP

The normalisation depends on the weights source, not just the architecture: MobileNetV2's offline
(torchvision) weights want ``torch``, keras.applications' ImageNet MobileNetV2 wants ``tf``. Always ask
``spec.normalization_for(weights)``.
"""

from .normalization import NORMALIZATION_DOCS, NORMALIZATIONS, CaffePreprocess, normalization_layer
from .registry import get_backbone, list_backbones, load_backbone, register_backbone
from .spec import WEIGHT_SOURCES, BackboneSpec, ImagenetWeights, weights_source
from .base import WeightsUnavailable
from .weights import availability, weights_fingerprint

# Family modules register their specs on import; the order here is the order list_backbones() shows.
from . import mobilenet_v2, small_cnn, keras_apps, vgg16, efficientnet_lite0  # noqa: E402,F401  (isort: skip)

__all__ = [
    "BackboneSpec", "ImagenetWeights", "WeightsUnavailable", "CaffePreprocess",
    "NORMALIZATIONS", "NORMALIZATION_DOCS", "WEIGHT_SOURCES",
    "get_backbone", "list_backbones", "register_backbone", "load_backbone",
    "normalization_layer", "weights_fingerprint", "availability", "weights_source",
]
