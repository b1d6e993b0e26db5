"""The Augment step's preview for texts: two example sentences, each with two augmented copies as two epochs of
training would make them (pure Python, so drawn at once).

Example:
    >>> from lepton_widgets.state import Session
    >>> preview = TextPreview(Session(dataset="food_reviews"))
    >>> preview.show(shuffle=0)                      # no augmentation: every copy equals its sentence
    ''
    >>> preview.html.value.count("The tea arrived fresh")
    3
"""

from __future__ import annotations

import functools
import html

import ipywidgets as w

from lepton_widgets.config import ConfigError
from lepton_widgets.core.tasks.text.augment import augment_text
from lepton_widgets.i18n import _

#: The settings this preview shows (the text task's augmentations).
TEXT_FIELDS = ("word_dropout", "word_swap", "word_substitute")
#: The text preview's sentences (fixed, so the same settings always show the same copies).
EXAMPLE_TEXTS = ("The tea arrived fresh and the flavour is rich, smooth and not bitter at all.",
                 "Sadly the box was crushed and half of the biscuits were broken and stale.")


@functools.lru_cache(maxsize=1)
def example_neighbours() -> dict:
    """GloVe neighbours of the example sentences' words (the first call reads GloVe, about a second)."""
    from lepton_widgets.core.tasks.text.glove import neighbours_for

    return neighbours_for(EXAMPLE_TEXTS)


class TextPreview:
    """The before/after table of the example sentences (:attr:`html`) for the session's word augmentations."""

    def __init__(self, session):
        self.session = session
        self.html = w.HTML()

    def show(self, shuffle: int) -> str:
        """Redraw with the session's settings (``shuffle`` draws other copies); returns a message, "" if none."""
        s, message = self.session, ""
        neighbours = None
        if s.word_substitute > 0:
            try:
                neighbours = example_neighbours()
            except ConfigError as error:  # GloVe not installed: say so, show the rest
                message = f"<b style='color:#c62828'>{html.escape(str(error))}</b>"
        rows = []
        for index, text in enumerate(EXAMPLE_TEXTS):
            copies = [augment_text(text, word_dropout=s.word_dropout, word_swap=s.word_swap,
                                   word_substitute=s.word_substitute, neighbours=neighbours,
                                   seed=s.seed + shuffle, epoch=epoch, index=index) for epoch in range(2)]
            rows.append(f"<tr><td>{html.escape(text)}</td>"
                        + "".join(f"<td>{html.escape(copy)}</td>" for copy in copies) + "</tr>")
        head = "".join(f"<th>{html.escape(h)}</th>" for h in (
            _("example sentence"), _("epoch {number}").format(number=1), _("epoch {number}").format(number=2)))
        self.html.value = (f"<table class='lepton-table lepton-text-preview'><tr>{head}</tr>" + "".join(rows)
                           + "</table>")
        return message
