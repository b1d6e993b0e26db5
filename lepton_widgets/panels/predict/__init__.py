"""The Predict step: :class:`PredictPanel` chooses a model and sends what it takes to one view per input kind.

``panel`` holds the model choice, the upload and the jobs; ``images``, ``sounds``, ``texts`` and ``tables``
draw the answers for each kind of model; ``common`` holds what they share (the top-k bars).

Example:
    >>> from lepton_widgets.panels.predict import PredictPanel
    >>> PredictPanel.title
    'Predict'
"""

from lepton_widgets.panels.predict.panel import PredictPanel

__all__ = ["PredictPanel"]
