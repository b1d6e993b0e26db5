"""What the Predict views share: the picture size, the top-k bars, a card's caption and its error line.

Example:
    >>> "lepton-predict-bar" in bars_html([("cat", 0.9), ("dog", 0.1)])
    True
"""

from __future__ import annotations

import html

import ipywidgets as w

from lepton_widgets.i18n import _

SHOW_PX = 128
TOP_K = 3


def bars_html(top: list[tuple[str, float]]) -> str:
    """Top classes as labelled horizontal bars (width = confidence)."""
    rows = []
    for rank, (name, confidence) in enumerate(top):
        colour = "#1f77b4" if rank == 0 else "#9ecae1"
        rows.append(f"<div class='lepton-predict-bar' style='display:flex;align-items:center;gap:6px;"
                    f"font-size:12px'><span style='width:110px;overflow:hidden;text-overflow:ellipsis;"
                    f"white-space:nowrap'>{html.escape(name)}</span><span style='display:inline-block;"
                    f"width:{max(1, round(confidence * 160))}px;height:12px;background:{colour}'></span>"
                    f"<span>{confidence:.1%}</span></div>")
    return "".join(rows)


def name_caption(name: str) -> w.HTML:
    """The file's name above a card, wrapped to the card's width."""
    return w.HTML(f"<div style='font-size:12px;font-weight:600;max-width:{2 * SHOW_PX + 8}px;"
                  f"overflow-wrap:anywhere'>{html.escape(name)}</div>")


def error_line(error: str) -> w.HTML:
    """Why a file was not predicted, in place of its picture and bars."""
    line = html.escape(_("Not predicted: {reason}").format(reason=error))
    return w.HTML(f"<div class='lepton-predict-error' style='color:#b00020;font-size:12px;"
                  f"max-width:{2 * SHOW_PX}px'>{line}</div>")
