"""The Export step: :class:`ExportPanel` (choices, progress, results) in ``panel``; the results table, sizes and
download links in ``files``.

Example:
    >>> from lepton_widgets.panels.export import ExportPanel
    >>> ExportPanel.title
    'Export'
"""

from lepton_widgets.panels.export.panel import ExportPanel

__all__ = ["ExportPanel"]
