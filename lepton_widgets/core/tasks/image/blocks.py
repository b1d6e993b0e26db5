"""What the freeze picture and the backbone card need to know about a model, without keeping the model.

A :class:`BlockSummary` is read off the *real* transfer model (same backbone, weights source, image size
and class count as a run would build; for a text encoder, the text model: ``core/tasks/text/blocks.py``), so its numbers are the ones training will report. Building a
model takes 0.1-4 s, so summaries and parameter counts are memoised per key, and builds are serialised
by one lock: two panels asking at once must not build two Keras models side by side on a small machine.

Example:
    >>> summary = block_summary("small_cnn", "none", 32, num_classes=10)
    >>> summary.n_blocks, summary.block_names[:2]
    (4, ('block_1', 'block_2'))
    >>> summary.trainable_at(summary.n_blocks) == summary.head_params      # all frozen: only the head trains
    True
    >>> summary.frozen_depth_setting(summary.n_blocks) is None              # RunConfig's "all frozen"
    True
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from lepton_widgets.core.frozen_depth import frozen_block_count

_LOCK = threading.Lock()
_SUMMARIES: dict[tuple, "BlockSummary"] = {}
_PARAM_COUNTS: dict[str, int] = {}


@dataclass(frozen=True)
class BlockSummary:
    """Blocks of one transfer model, input side first, with what each depth leaves trainable.

    ``block_params[i]`` is what block ``i`` adds when unfrozen (a pretrained backbone's BatchNorm layers
    never count: they stay frozen). ``trainable_by_depth[d]`` is ``TransferModel.trainable_params_at(d)``
    for ``d`` in ``0..n_blocks``, taken from the model itself rather than recomputed here.
    """

    backbone: str
    weights: str
    image_size: int
    num_classes: int
    block_names: tuple[str, ...]
    block_params: tuple[int, ...]
    head_params: int
    trainable_by_depth: tuple[int, ...]

    @property
    def n_blocks(self) -> int:
        return len(self.block_names)

    def trainable_at(self, depth: int) -> int:
        """Trainable parameters with the first ``depth`` blocks frozen (``0..n_blocks``)."""
        return self.trainable_by_depth[depth]

    def depth_of(self, frozen_depth: Optional[int]) -> int:
        """The block count a ``frozen_depth`` setting freezes; ``None`` (RunConfig's "all frozen") is all."""
        return frozen_block_count(frozen_depth, self.n_blocks)

    def frozen_depth_setting(self, depth: int) -> Optional[int]:
        """The ``frozen_depth`` value for ``depth`` frozen blocks: ``None`` when every block is frozen, so a
        config made by the slider reads the same as RunConfig's default and survives a backbone change."""
        return None if depth >= self.n_blocks else int(depth)


def block_summary(backbone: str, weights: str, image_size: int, num_classes: int = 10) -> BlockSummary:
    """Build the transfer model once for this key and summarise its blocks (memoised, thread-safe).

    Raises what building raises: ``WeightsUnavailable`` when the weights cannot load here, ``ValueError``
    for a size outside the backbone's range. Check ``availability()`` first to avoid a slow failure.
    """
    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.tasks.image.model import build_transfer_model
    from lepton_widgets.core.tasks.registry import task_for_backbone

    key = (backbone, weights, int(image_size), int(num_classes))
    with _LOCK:
        parts = None if key in _SUMMARIES else task_for_backbone(backbone).block_parts(backbone, num_classes)
        if parts is not None:  # a text encoder: its task counts its blocks without building a picture model
            names, params, head, by_depth = parts
            _SUMMARIES[key] = BlockSummary(backbone=backbone, weights=weights, image_size=int(image_size),
                                           num_classes=int(num_classes), block_names=names, block_params=params,
                                           head_params=head, trainable_by_depth=by_depth)
        if key not in _SUMMARIES:
            cfg = RunConfig.from_dict({"backbone": {"name": backbone, "weights": weights,
                                                    "image_size": int(image_size)}})
            tm = build_transfer_model(cfg, int(num_classes))
            names = tuple(tm.blocks)
            _SUMMARIES[key] = BlockSummary(
                backbone=backbone, weights=weights, image_size=int(image_size), num_classes=int(num_classes),
                block_names=names, block_params=tuple(int(tm.block_params[n]) for n in names),
                head_params=int(tm.head_params),
                trainable_by_depth=tuple(int(tm.trainable_params_at(d)) for d in range(len(names) + 1)),
            )
        return _SUMMARIES[key]


def backbone_param_count(backbone: str) -> int:
    """All parameters of the backbone (trainable or not), counted on a randomly initialised copy.

    The count depends on the architecture only, not on the weights or (for these convolutional
    backbones) the input size, so it is memoised per name and never loads weights.
    """
    from lepton_widgets.core.backbones import get_backbone, load_backbone

    with _LOCK:
        if backbone not in _PARAM_COUNTS:
            spec = get_backbone(backbone)
            _PARAM_COUNTS[backbone] = int(load_backbone(spec, "none", spec.default_size).count_params())
        return _PARAM_COUNTS[backbone]


def cached_block_summary(backbone: str, weights: str, image_size: int,
                         num_classes: int = 10) -> Optional[BlockSummary]:
    """The memoised summary for this key, or ``None`` without building anything."""
    return _SUMMARIES.get((backbone, weights, int(image_size), int(num_classes)))


def cached_param_count(backbone: str) -> Optional[int]:
    """The memoised parameter count, or ``None`` without building anything."""
    return _PARAM_COUNTS.get(backbone)
