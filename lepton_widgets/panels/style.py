"""The panels' shared look: message boxes and card layouts, in one place.

Each message box is a coloured left edge on a pale fill; the body is HTML that the caller has already escaped.

Example:
    >>> from lepton_widgets.panels.style import alert_box, card_layout, ok_box
    >>> alert_box("<b>Cannot check yet:</b> no dataset")[-41:]
    '<b>Cannot check yet:</b> no dataset</div>'
    >>> ok_box("3 of 3 formats passed").startswith("<div style='border-left:4px solid #2e7d32")
    True
    >>> card_layout().border
    '1px solid #ddd'
"""

from __future__ import annotations

import ipywidgets as w

_BOX = "<div style='border-left:4px solid {edge};background:{fill};padding:6px 10px'>{body}</div>"


def alert_box(body: str) -> str:
    """A red box: something failed or cannot be done; ``body`` is escaped HTML."""
    return _BOX.format(edge="#c62828", fill="#fdecea", body=body)


def ok_box(body: str) -> str:
    """A green box: a check passed."""
    return _BOX.format(edge="#2e7d32", fill="#edf7ed", body=body)


def caution_box(body: str) -> str:
    """An amber box: nothing failed, but the user should know (e.g. no exported model yet)."""
    return _BOX.format(edge="#8a6d00", fill="#fff8e1", body=body)


def note_box(body: str) -> str:
    """A blue box: neutral information about the current choice."""
    return _BOX.format(edge="#1565c0", fill="#e3f2fd", body=body)


def card_layout(padding: str = "6px") -> w.Layout:
    """The thin grey frame around one example (an image with its caption, a text with its prediction)."""
    return w.Layout(margin="4px", padding=padding, border="1px solid #ddd")
