"""BackboneSpec: what the rest of the engine needs to know about a pretrained feature extractor.

Specs are plain data in a registry (see ``registry.py``); each family module registers its own. A backbone
is a Keras functional model that takes *normalised* images (see ``normalization``) and returns a 4-D
feature map; the model builder adds the normalisation layer in front and the pooled head behind.

Blocks are what ``frozen_depth`` counts. They are derived from layer names with a regular expression per
family: the first capture group names the block; layers that match no pattern belong to the block before
them (or to ``stem`` when they come first).

The normalisation can depend on the weights source (``spec.normalization_for(weights)``): MobileNetV2's
offline weights come from torchvision and want ``torch`` normalisation, while keras.applications' ImageNet
MobileNetV2 wants ``tf``. ``spec.normalization`` is the kind for the default (first) source.

Example:
    >>> spec = BackboneSpec(name="toy", family="toy", description="", builder=lambda size, source, path: None,
    ...                     feature_dim=8, normalization="unit", block_pattern=r"^(block\\d+)_")
    >>> spec.block_of(["input", "conv0", "block1_conv", "block1_bn", "block2_conv", "top_conv"])
    {'stem': ['input', 'conv0'], 'block1': ['block1_conv', 'block1_bn'], 'block2': ['block2_conv', 'top_conv']}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

#: Weight sources. ``offline`` = the offline weights pack; ``imagenet`` = keras.applications download;
#: ``none`` = random init; anything else is treated as a path to a weights file. ``run:<id or folder>``
#: (source kind ``run``) reuses the backbone of one of your finished runs; see ``run_backbone.py``.
WEIGHT_SOURCES = ("offline", "imagenet", "none", "file")


def weights_source(weights: str | None) -> str:
    """The source kind of a ``weights`` value: ``offline``/``imagenet``/``none`` or ``file`` (a path).

    >>> weights_source("imagenet"), weights_source(None), weights_source("/tmp/w.weights.h5")
    ('imagenet', 'none', 'file')
    """
    if weights is None:
        return "none"
    if weights.startswith("run:"):
        return "run"  # one of your finished runs (run_backbone.py); every architecture can be one
    return weights if weights in ("offline", "imagenet", "none") else "file"


@dataclass(frozen=True)
class ImagenetWeights:
    """Where keras.applications keeps a backbone's no-top ImageNet weights: plain data for the registry.

    ``file_name`` may contain ``{rows}``, which is filled from the image size snapped to one of ``sizes``
    (MobileNetV2 has a file per input size; the others have one file). Keras looks for the file in
    ``$KERAS_HOME/models`` (default ``~/.keras/models``) and downloads it from ``origin_dir + file_name``.
    ``file_hash`` (md5 or sha256, as Keras checks it) may be ``None``.
    """

    file_name: str
    origin_dir: str
    file_hash: str | None = None
    sizes: tuple[int, ...] = ()

    def file_for(self, image_size: int | None = None) -> str:
        if not self.sizes:
            return self.file_name
        # Same rule as keras.applications: the exact size if it has its own file, else the largest one.
        rows = image_size if image_size in self.sizes else max(self.sizes)
        return self.file_name.format(rows=rows)


class OfflinePack(Protocol):
    """Weights that ship in an installed package (no network), e.g. torchvision's MobileNetV2.

    ``availability()`` says whether the pack is installed or already converted, without loading it;
    ``fingerprint()`` is a stable identity of its weights for cache keys.
    """

    def availability(self) -> tuple[bool, str]: ...

    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class BackboneSpec:
    """Registry entry for one backbone architecture.

    ``builder(image_size, source, path)`` returns the Keras backbone (named ``"backbone"``) with the
    requested weights loaded. ``source`` is ``offline``/``imagenet``/``none``/``file``; ``path`` is the local
    weights file for ``imagenet`` (already located in the Keras cache or downloaded) and ``file``, else
    ``None``. Call it through :func:`lepton_widgets.core.backbones.load_backbone`, which checks the source,
    finds or fetches the file and turns failures into ``WeightsUnavailable``.

    ``normalization`` is the input normalisation for the default (first) weight source;
    ``normalization_by_source`` overrides it per source (see :meth:`normalization_for`). ``imagenet`` says
    where keras.applications keeps the ImageNet weights file (``None``: no ImageNet source);
    ``offline_pack`` provides the ``offline`` source.

    Example:
        >>> from lepton_widgets.core.backbones import get_backbone
        >>> spec = get_backbone("mobilenet_v2")
        >>> spec.normalization_for("offline"), spec.normalization_for("imagenet")
        ('torch', 'tf')
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
    normalization_by_source: dict = field(default_factory=dict)
    imagenet: ImagenetWeights | None = None
    offline_pack: OfflinePack | None = None
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
        source = weights_source(weights)
        return source == "run" or source in self.weight_sources

    def normalization_for(self, weights: str | None) -> str:
        """The normalisation kind the backbone expects with these weights (a source name or a path).

        The model builder puts ``normalization_layer(spec.normalization_for(weights))`` in front of the
        backbone. A weights *file* gets the kind of the architecture it is loaded into (for MobileNetV2 the
        torchvision-layout one, i.e. ``torch``).

        >>> from lepton_widgets.core.backbones import get_backbone
        >>> get_backbone("resnet50").normalization_for("imagenet")
        'caffe'
        """
        if weights_source(weights) == "run":  # the source run's own kind (WeightsUnavailable if it cannot serve)
            from .run_backbone import run_normalization

            return run_normalization(self, weights)
        return self.normalization_by_source.get(weights_source(weights), self.normalization)

    def preprocess_kind(self, weights: str | None) -> str:
        """Alias of :meth:`normalization_for`, named after keras.applications' ``preprocess_input`` modes.

        >>> from lepton_widgets.core.backbones import get_backbone
        >>> get_backbone("mobilenet_v2").preprocess_kind("imagenet")
        'tf'
        """
        return self.normalization_for(weights)
