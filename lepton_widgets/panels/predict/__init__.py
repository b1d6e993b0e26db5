"""The Predict step: :class:`PredictPanel` chooses a model and sends what it takes to one view per input kind.

``panel`` holds the upload and the jobs; ``choices`` the run and model lists; ``views`` maps the chosen model's
task (from the registry) to its view: what it is given, which engine predicts it, how its answers are drawn with
``images``, ``sounds``, ``texts`` or ``tables``; ``common`` holds what they share (the top-k bars).

Example:
    >>> from lepton_widgets.panels.predict import PredictPanel
    >>> PredictPanel.title
    'Predict'
"""

from lepton_widgets.panels.predict.panel import PredictPanel

__all__ = ["PredictPanel"]
