"""The Evaluate step: :class:`EvaluatePanel` in ``panel``; the confusion heatmap, robustness curve and metrics
in ``charts``; one confusion-matrix cell's examples (pictures, table rows or texts) in ``cells``; the
Robustness section (each task's attacks) in ``robustness``.

Example:
    >>> from lepton_widgets.panels.evaluate import EvaluatePanel
    >>> EvaluatePanel.title
    'Evaluate'
"""

from lepton_widgets.panels.evaluate.panel import EvaluatePanel

__all__ = ["EvaluatePanel"]
