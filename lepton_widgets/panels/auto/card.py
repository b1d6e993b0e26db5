"""The chosen model's card on the page: the Markdown Auto wrote (``AutoResult.card()``) as HTML.

The card quotes the data (class names, file paths) that a user supplied, so its text is escaped before the
Markdown is turned into HTML: a class called ``<script>`` shows as that word, never as markup.

Example:
    >>> text = card_html("# Model card\\n\\n| metric | value |\\n| --- | --- |\\n| accuracy | 0.91 |\\n\\n- <b>x</b>")
    >>> "<table" in text, "&lt;b&gt;" in text
    (True, True)
"""

from __future__ import annotations

import html

import markdown


def card_html(card_md: str) -> str:
    """``card_md`` (Markdown with tables) as HTML inside the card's frame."""
    if not card_md.strip():
        return ""
    body = markdown.markdown(html.escape(card_md, quote=False), extensions=["tables"])
    # Code spans escape their text again (``&lt;`` became ``&amp;lt;``): undo that second escape only.
    for entity in ("amp", "lt", "gt"):
        body = body.replace(f"&amp;{entity};", f"&{entity};")
    return ("<div class='lepton-auto-card-body' style='border:1px solid #ddd;padding:4px 16px;max-width:1100px;"
            "overflow:auto'><style>.lepton-auto-card-body table{border-collapse:collapse}"
            ".lepton-auto-card-body td,.lepton-auto-card-body th{border:1px solid #ddd;padding:2px 6px}</style>"
            f"{body}</div>")
