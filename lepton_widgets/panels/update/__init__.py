"""The Update step: :class:`UpdatePanel` (run, new data, check, update) in ``panel``; the version summary and
forgetting meter in ``meter``.

Example:
    >>> from lepton_widgets.panels.update import UpdatePanel
    >>> UpdatePanel.title
    'Update'
"""

from lepton_widgets.panels.update.panel import PATH_CHOICE, UpdatePanel

__all__ = ["PATH_CHOICE", "UpdatePanel"]
