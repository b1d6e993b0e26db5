"""The one frozen-depth rule: how many blocks a ``backbone.frozen_depth`` value freezes.

``frozen_depth: None`` (RunConfig's default, the slider's right end) means *every* block is frozen, a
whole number is a block count from the input side, clipped to the blocks the backbone has. KerasTuner's
``Choice`` values must share one type, so the tuner stores ``None`` as ``TUNER_ALL_FROZEN`` (-1); only
this module knows that spelling. Every image, text, GloVe, tuner and panel caller asks here instead of
writing ``n_blocks if frozen_depth is None else ...`` again.

Usage::

    from lepton_widgets.core.frozen_depth import frozen_block_count
    frozen_block_count(None, 5), frozen_block_count(2, 5), frozen_block_count(9, 5)   # (5, 2, 5)
"""

from __future__ import annotations

from typing import Optional

#: The tuner's stored trial value for "every block frozen" (``None``): KerasTuner choices cannot mix types.
TUNER_ALL_FROZEN = -1


def frozen_depth_setting(value: Optional[int]) -> Optional[int]:
    """The RunConfig ``frozen_depth`` for any spelling of it: ``None`` or the tuner's -1 give ``None``.

    >>> frozen_depth_setting(-1) is None, frozen_depth_setting(None) is None, frozen_depth_setting(3)
    (True, True, 3)
    """
    if value is None or int(value) == TUNER_ALL_FROZEN:
        return None
    return int(value)


def tuner_choice(frozen_depth: Optional[int]) -> int:
    """The KerasTuner ``Choice`` value that stores ``frozen_depth`` (``None`` -> -1).

    >>> tuner_choice(None), tuner_choice(2)
    (-1, 2)
    """
    setting = frozen_depth_setting(frozen_depth)
    return TUNER_ALL_FROZEN if setting is None else setting


def frozen_block_count(frozen_depth: Optional[int], n_blocks: int) -> int:
    """How many of ``n_blocks`` blocks ``frozen_depth`` freezes: ``None`` (or the tuner's -1) all of them,
    a whole number that many, at most ``n_blocks``.

    >>> [frozen_block_count(d, 5) for d in (None, -1, 0, 2, 5, 9)]
    [5, 5, 0, 2, 5, 5]
    """
    setting = frozen_depth_setting(frozen_depth)
    return n_blocks if setting is None else min(setting, n_blocks)
