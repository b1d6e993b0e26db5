"""The transfer model: augmentation -> backbone normalisation -> backbone -> pooled head, and freezing.

The full model takes raw RGB pixels in [0, 255], so a saved or exported model needs no separate
preprocessing step. The BatchNorm layers of a pretrained backbone stay frozen whatever the frozen depth, so they always run
in inference mode with their pretrained statistics: that is what keeps fine-tuning on a small dataset
from wrecking the pretrained features. Calling the backbone with ``training=False`` is not enough in
Keras 3 (3.15 checked): a functional model passes ``fit``'s ``training=True`` on to the nested model's
layers, and a trainable BatchNorm then updates its running statistics. A non-trainable BatchNorm always
uses them. A backbone trained from scratch (``weights="none"``) has no statistics worth keeping, so its
BatchNorm layers train as usual.

``frozen_depth`` counts blocks (``spec.block_of``), from the input side. Use the vocabulary people know:
``freeze`` (everything below the head), ``unfreeze`` (everything), ``freeze_to(depth)``.

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> cfg = RunConfig.from_dict({"backbone": {"name": "small_cnn", "weights": "none", "image_size": 32}})
    >>> tm = build_transfer_model(cfg, num_classes=3)
    >>> frozen = freeze(tm).trainable_params()
    >>> unfreeze(tm).trainable_params() > frozen
    True
    >>> list(tm.blocks)
    ['block_1', 'block_2', 'block_3', 'block_4']
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from lepton_widgets.config import RunConfig
from lepton_widgets.core.tasks.image.augment import build_augmentation
from lepton_widgets.core.backbones import BackboneSpec, get_backbone, load_backbone, normalization_layer
from lepton_widgets.core.backbones.registry import BACKBONE_LAYER  # the name load_backbone gives the backbone
from lepton_widgets.core.frozen_depth import frozen_block_count

#: Layer names of the head; the cached-feature path builds the same head on pooled features and copies
#: weights across by these names.
POOL_LAYER = "pool"
DROPOUT_LAYER = "head_dropout"
HIDDEN_LAYER = "head_hidden"
CLASSIFIER_LAYER = "classifier"


@dataclass
class TransferModel:
    """A built transfer model with what freezing needs to know about its backbone."""

    model: keras.Model
    backbone: keras.Model
    spec: BackboneSpec
    blocks: dict[str, list[str]]
    block_params: dict[str, int] = field(default_factory=dict)
    head_params: int = 0
    frozen_depth: int = 0
    pretrained: bool = True

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def trainable_params(self) -> int:
        """Trainable parameters of the whole model as it is set now."""
        return int(sum(np.prod(v.shape) for v in self.model.trainable_weights))

    def trainable_params_at(self, depth: int) -> int:
        """What :meth:`trainable_params` would be at ``depth``, without changing the model (for sliders)."""
        names = list(self.blocks)[depth:]
        return self.head_params + sum(self.block_params[name] for name in names)

    def block_table(self) -> list[dict]:
        """One row per block: name, index, trainable-capable parameter count, frozen now or not."""
        return [
            {"block": name, "index": i, "params": self.block_params[name], "frozen": i < self.frozen_depth}
            for i, name in enumerate(self.blocks)
        ]

    def feature_extractor(self) -> keras.Model:
        """Raw pixels -> pooled features: the part that the feature cache computes once."""
        return keras.Model(self.model.inputs, self.model.get_layer(POOL_LAYER).output, name="feature_extractor")


def build_transfer_model(cfg: RunConfig, num_classes: int) -> TransferModel:
    """Build the full model for ``cfg`` with ``num_classes`` outputs, frozen to ``cfg.backbone.frozen_depth``.

    Weights come from ``cfg.backbone.weights`` (see ``core.backbones.load_backbone``); head initialisation
    and dropout are seeded from ``cfg.seed``.
    """
    spec = get_backbone(cfg.backbone.name)
    size = cfg.backbone.image_size
    backbone = load_backbone(spec, cfg.backbone.weights, size)  # named "backbone": reloading finds it by name

    inputs = keras.Input((size, size, 3), name="image")
    x = inputs
    augmentation = build_augmentation(cfg.augment, cfg.seed)
    if augmentation is not None:
        x = augmentation(x)
    x = normalization_layer(spec.normalization_for(cfg.backbone.weights))(x)
    x = backbone(x)  # BatchNorm mode is set by freezing (freeze_to), not by a training=False here
    x = keras.layers.GlobalAveragePooling2D(name=POOL_LAYER)(x)
    outputs = _head(x, num_classes, cfg)
    model = keras.Model(inputs, outputs, name=f"lepton_{spec.name}")

    if cfg.backbone.random_init:
        _quicken_batchnorm(backbone)
    tm = TransferModel(model=model, backbone=backbone, spec=spec, blocks=_blocks(backbone, spec),
                       pretrained=not cfg.backbone.random_init)
    _count_params(tm)
    requested = cfg.backbone.frozen_depth
    if isinstance(requested, int) and requested > tm.n_blocks:  # a run config is not clipped silently
        raise ValueError(f"frozen_depth {requested} is more than the {tm.n_blocks} blocks of {spec.name}")
    freeze_to(tm, frozen_block_count(requested, tm.n_blocks))
    return tm


def _blocks(backbone: keras.Model, spec: BackboneSpec) -> dict[str, list[str]]:
    """The spec's blocks, minus blocks without any weights (an input layer alone is nothing to freeze)."""
    blocks = spec.block_of([layer.name for layer in backbone.layers])
    return {name: layers for name, layers in blocks.items()
            if any(backbone.get_layer(layer).weights for layer in layers)}


def _quicken_batchnorm(backbone: keras.Model, momentum: float = 0.9) -> None:
    """From scratch on a few hundred images, keras.applications' BatchNorm momentum (0.999) leaves the
    running statistics at their initial values for thousands of steps, so validation runs on garbage
    statistics and predicts one class. 0.9 lets them catch up within a few dozen steps."""
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = min(layer.momentum, momentum)


def build_head_model(feature_dim: int, num_classes: int, cfg: RunConfig) -> keras.Model:
    """The same head as the full model, on pooled features, for training from the feature cache."""
    inputs = keras.Input((feature_dim,), name="features")
    return keras.Model(inputs, _head(inputs, num_classes, cfg), name="head")


def _head(x, num_classes: int, cfg: RunConfig):
    """[hidden Dense(head_units, relu)] -> Dropout -> Dense(num_classes, softmax), both Dense with L2."""
    regularizer = keras.regularizers.L2(cfg.train.l2) if cfg.train.l2 > 0 else None
    if cfg.train.head_units > 0:
        x = keras.layers.Dense(cfg.train.head_units, activation="relu", kernel_regularizer=regularizer,
                               kernel_initializer=keras.initializers.GlorotUniform(seed=cfg.seed + 1),
                               name=HIDDEN_LAYER)(x)
    x = keras.layers.Dropout(cfg.train.dropout, seed=cfg.seed, name=DROPOUT_LAYER)(x)
    return keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=regularizer,
        kernel_initializer=keras.initializers.GlorotUniform(seed=cfg.seed),
        name=CLASSIFIER_LAYER,
    )(x)


def head_layer_names(model: keras.Model) -> list[str]:
    """The head's layers that hold weights, in order (the hidden layer only when there is one)."""
    names = {layer.name for layer in model.layers}
    return [name for name in (HIDDEN_LAYER, CLASSIFIER_LAYER) if name in names]


def copy_head_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy the head's weights (hidden layer and classifier) between a head model and a full model."""
    for name in head_layer_names(source):
        target.get_layer(name).set_weights(source.get_layer(name).get_weights())


def _count_params(tm: TransferModel) -> None:
    """Record each block's trainable-capable parameter count (frozen BatchNorm layers never count)."""
    freeze_to(tm, 0)
    by_layer = {layer.name: sum(int(np.prod(v.shape)) for v in layer.trainable_weights) for layer in tm.backbone.layers}
    tm.block_params = {block: sum(by_layer[n] for n in names) for block, names in tm.blocks.items()}
    tm.head_params = tm.trainable_params() - sum(tm.block_params.values())


def freeze_to(tm: TransferModel, depth: int) -> TransferModel:
    """Freeze the first ``depth`` blocks and unfreeze the rest. Recompile the model afterwards."""
    if not 0 <= depth <= tm.n_blocks:
        raise ValueError(f"frozen depth must be between 0 and {tm.n_blocks}, got {depth}")
    tm.backbone.trainable = True  # a frozen parent would override the per-layer settings below
    for index, names in enumerate(tm.blocks.values()):
        for name in names:
            layer = tm.backbone.get_layer(name)
            keep_statistics = tm.pretrained and isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = index >= depth and not keep_statistics
    tm.frozen_depth = depth
    return tm


def freeze(tm: TransferModel) -> TransferModel:
    """Freeze every backbone block: only the head trains."""
    return freeze_to(tm, tm.n_blocks)


def unfreeze(tm: TransferModel) -> TransferModel:
    """Unfreeze every backbone block (a pretrained backbone's BatchNorm stays frozen, in inference mode)."""
    return freeze_to(tm, 0)


def attach(model: keras.Model, cfg: RunConfig) -> TransferModel:
    """Wrap a reloaded full model (from a run's ``model.keras``) so it can be frozen and fine-tuned again."""
    spec = get_backbone(cfg.backbone.name)
    backbone = model.get_layer(BACKBONE_LAYER)
    tm = TransferModel(model=model, backbone=backbone, spec=spec, blocks=_blocks(backbone, spec),
                       pretrained=not cfg.backbone.random_init)
    _count_params(tm)
    return freeze_to(tm, frozen_block_count(cfg.backbone.frozen_depth, tm.n_blocks))
