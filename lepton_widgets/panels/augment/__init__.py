"""The Augment step: :class:`AugmentPanel` (the controls of the augmentations the data's task applies) in
``panel``; the previews of what they do in ``pictures`` (pictures and sounds) and ``texts`` (example sentences).

Example:
    >>> from lepton_widgets.panels.augment import AugmentPanel
    >>> AugmentPanel.title
    'Augment'
"""

from lepton_widgets.panels.augment.panel import AugmentPanel
from lepton_widgets.panels.augment.texts import EXAMPLE_TEXTS, example_neighbours

__all__ = ["AugmentPanel", "EXAMPLE_TEXTS", "example_neighbours"]
