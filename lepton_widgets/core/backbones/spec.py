"""BackboneSpec: what the rest of the engine needs to know about a pretrained feature extractor.

Specs are plain data in a registry (see ``registry.py``); each family module registers its own. A backbone
is a Keras functional model that takes *normalised* images (see ``normalization``) and returns a 4-D
feature map; the model builder adds the normalisation layer in front and the pooled head behind.

Blocks are what ``frozen_depth`` counts. They are derived from layer names with a regular expression per
family: the first capture group names the block; layers that match no pattern belong to the block before
them (or to ``stem`` when they come first).

Example:
    >>> spec = BackboneSpec(name="toy", family="toy", description="", builder=lambda size, seed: None,
    ...                     feature_dim=8, normalization="unit", block_pattern=r"^(block\\d+)_")
    >>> spec.block_of(["input", "conv0", "block1_conv", "block1_bn", "block2_conv", "top_conv"])
    {'stem': ['input', 'conv0'], 'block1': ['block1_conv', 'block1_bn'], 'block2': ['block2_conv', 'top_conv']}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

#: Normalisation kinds. Inputs to the full model are RGB floats in [0, 255]; each kind maps them to
#: what the backbone was trained on.
#: ``torch``: (x/255 - mean) / std with ImageNet mean/std (torchvision weights);
#: ``tf``: x/127.5 - 1 (keras.applications MobileNet family);
#: ``caffe``: RGB->BGR minus the ImageNet BGR mean (VGG, ResNet50 v1);
#: ``raw``: unchanged (models that normalise inside, e.g. EfficientNet, ConvNeXt);
#: ``unit``: x/255 (models trained here from scratch).
NORMALIZATIONS = ("torch", "tf", "caffe", "raw", "unit")

#: Weight sources. ``offline`` = the offline weights pack; ``imagenet`` = keras.applications download;
#: ``none`` = random init; anything else is treated as a path to a weights file.
WEIGHT_SOURCES = ("offline", "imagenet", "none", "file")


@dataclass(frozen=True)
class BackboneSpec:
    """Registry entry for one backbone architecture.

    ``builder(image_size, weights)`` returns the Keras backbone with the requested weights loaded; it is
    called through :func:`lepton_widgets.core.backbones.load_backbone`, which resolves and checks the
    weights source first.
    """

    name: str
    family: str
    description: str
    builder: Callable[..., Any]
    feature_dim: int
    normalization: str
    block_pattern: str
    min_size: int = 32
    max_size: int = 512
    default_size: int = 96
    weight_sources: tuple[str, ...] = ("imagenet", "none", "file")
    licence: str = ""
    extra: dict = field(default_factory=dict)

    def block_of(self, layer_names: list[str]) -> dict[str, list[str]]:
        """Group layer names (in model order) into named blocks, in order."""
        pattern = re.compile(self.block_pattern)
        blocks: dict[str, list[str]] = {}
        current = "stem"
        for name in layer_names:
            match = pattern.search(name)
            if match:
                current = match.group(1)
            blocks.setdefault(current, []).append(name)
        return blocks

    def supports(self, weights: str) -> bool:
        source = weights if weights in ("offline", "imagenet", "none") else "file"
        return source in self.weight_sources
