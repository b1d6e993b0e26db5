"""The Backbone step: :class:`BackbonePanel` (backbone, weights, image size, text encoder) in ``panel``, and
the ranking of candidate backbones on your data in ``ranking``.

Example:
    >>> from lepton_widgets.panels.backbone import BackbonePanel
    >>> BackbonePanel.title
    'Backbone'
"""

from lepton_widgets.panels.backbone.panel import BackbonePanel

__all__ = ["BackbonePanel"]
