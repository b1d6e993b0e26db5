"""The Data step: :class:`DatasetPanel` (choose, upload and check the data) in ``panel``; the samples per class,
one view per kind of data, in ``samples``; the check report in words in ``report``.

Example:
    >>> from lepton_widgets.panels.dataset import DatasetPanel
    >>> DatasetPanel.title
    'Data'
"""

from lepton_widgets.panels.dataset.panel import DatasetPanel

__all__ = ["DatasetPanel"]
