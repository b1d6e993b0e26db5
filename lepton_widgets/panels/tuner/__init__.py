"""The Search step: :class:`TunerPanel` (settings, start, stop, use best, live trials) in ``panel``; the search-space
form in ``space``; the trials' figures and table in ``charts``.

Example:
    >>> from lepton_widgets.panels.tuner import TunerPanel
    >>> TunerPanel.title
    'Search'
"""

from lepton_widgets.panels.tuner.panel import TunerPanel

__all__ = ["TunerPanel"]
