"""The Data step: :class:`DatasetPanel` (choose, upload and check the data) in ``panel``; its parts: the settings
form (``settings``, with the dataset list and cards in ``choices``), the upload (``upload``), the check's progress
(``progress``) and report (``report``); the samples per class in ``samples``, and which of them a task's data
gets in ``views`` (the panel side of the task registry).

Example:
    >>> from lepton_widgets.panels.dataset import DatasetPanel
    >>> DatasetPanel.title
    'Data'
"""

from lepton_widgets.panels.dataset.panel import DatasetPanel

__all__ = ["DatasetPanel"]
