"""Technical words with their plain meaning on hover, and the glossary section they link to.

Example:
    >>> from lepton_widgets.panels.glossary import term, words_used_here
    >>> "title=" in term("epoch")
    True
    >>> words_used_here(["epoch", "overfitting"]).value.count("<abbr")
    2
"""

from __future__ import annotations

import html
from typing import Sequence

import ipywidgets as w

from lepton_widgets.i18n import _
from lepton_widgets.i18n.glossary import entries, entry

#: The id of the workbench's glossary section; every "words used here" line links to it.
ANCHOR = "lepton-glossary"


def term(key: str, text: str | None = None) -> str:
    """HTML for a glossary term: the word (or ``text``) underlined with a dotted line, its meaning on hover."""
    word, meaning = entry(key)
    return (f"<abbr class='lepton-term' title='{html.escape(meaning, quote=True)}' "
            f"style='text-decoration:underline dotted;cursor:help'>{html.escape(text or word)}</abbr>")


def words_used_here(keys: Sequence[str]) -> w.HTML:
    """One small line: "Words used here: a · b · c (glossary)", each word explained on hover."""
    words = " &middot; ".join(term(key) for key in keys)
    box = w.HTML(f"<div style='font-size:12px;color:#555'>{html.escape(_('Words used here:'))} {words} "
                 f"(<a href='#{ANCHOR}'>{html.escape(_('glossary'))}</a>)</div>")
    box.add_class("lepton-words-used")
    return box


class GlossaryView:
    """Every term and its plain meaning, in the current language (the workbench's last section).

    ``anchor=False`` leaves the ``lepton-glossary`` id out, for a page that puts it on a heading of its own
    (the workbench folds this table, and a link cannot jump into a folded section).
    """

    def __init__(self, anchor: bool = True) -> None:
        rows = "".join(f"<tr><td style='padding:2px 12px 2px 0;font-weight:600;vertical-align:top'>"
                       f"{html.escape(word)}</td><td style='padding:2px 0'>{html.escape(meaning)}</td></tr>"
                       for _key, word, meaning in entries())
        word, meaning = html.escape(_("Word")), html.escape(_("In plain words"))
        head = (f"<tr><th style='text-align:left;padding:2px 12px 2px 0'>{word}</th>"
                f"<th style='text-align:left'>{meaning}</th></tr>")
        id_attribute = f" id='{ANCHOR}'" if anchor else ""
        self.widget = w.HTML(f"<div{id_attribute}><table>{head}{rows}</table></div>")
        self.widget.add_class("lepton-glossary")


def glossary_section() -> w.VBox:
    """A page's glossary: a heading that every "words used here" link jumps to, over the folded table.

    Folded because the table is long; the heading stays visible since a link cannot jump into a closed fold.
    """
    heading = w.HTML(f"<div id='{ANCHOR}' style='color:#666;font-size:12px;text-transform:uppercase;"
                     f"letter-spacing:.06em'>{html.escape(_('Glossary'))}</div>")
    folded = w.Accordion([GlossaryView(anchor=False).widget], titles=(_("Technical words in plain words"),),
                         selected_index=None)
    box = w.VBox([heading, folded], layout=w.Layout(border_top="1px solid #ddd", padding="8px 4px 16px 4px"))
    box.add_class("lepton-step")
    box.add_class("lepton-step-glossary")
    return box
