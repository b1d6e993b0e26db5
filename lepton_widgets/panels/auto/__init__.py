"""The Auto step: :class:`AutoPanel` (data, budget, goal, Start / Stop, live stages, leaderboard and curves, the
examples to check, the model card, "Open in the expert steps") in ``panel``; its parts: Auto's events as traits
(``progress``), the stage list (``stages``), the leaderboard (``leaderboard``), the likely mislabelled examples
(``issues``, drawn per task by ``views``) and the model card (``card``).

Example:
    >>> from lepton_widgets.panels.auto import AutoPanel
    >>> AutoPanel.title
    'Auto'
"""

from lepton_widgets.panels.auto.panel import AutoPanel

__all__ = ["AutoPanel"]
