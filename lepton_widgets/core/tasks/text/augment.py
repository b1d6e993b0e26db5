"""Offline text augmentation: word dropout, adjacent word swaps and GloVe-neighbour substitution, seeded,
for training only.

All three work on whitespace-separated words of the raw text, before tokenising, so what the model sees is
exactly a text a person could read (``augment_text`` shows it):

* ``word_dropout`` (``AugmentConfig.word_dropout``, 0..1): each word is left out with this probability;
  at least one word always stays, so no text becomes empty;
* ``word_swap`` (``AugmentConfig.word_swap``, 0..1): going left to right, each word changes place with
  the next one with this probability (a swapped pair is not swapped again, so a word moves at most one
  place: the order is shaken, not shuffled).

The random stream of one text depends only on ``(seed, epoch, index)`` (``index``: the text's row), so
an augmented epoch is the same whatever the batch order or batch size, and each epoch differs.
Validation, test and prediction never see augmentation.

Example:
    >>> augment_text("the tea was fresh and very tasty", word_dropout=0.0, word_swap=0.0, seed=0)
    'the tea was fresh and very tasty'
    >>> augment_text("the tea was fresh and very tasty", word_dropout=0.3, word_swap=0.0, seed=3)
    'was fresh very tasty'
    >>> augment_text("the tea was fresh and very tasty", word_dropout=0.0, word_swap=0.5, seed=3)
    'tea the was fresh very and tasty'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from lepton_widgets.core.tasks.text.glove import word_key

#: A whitespace word as (leading punctuation, core, trailing punctuation).
_WORD_PARTS = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


def augment_text(text: str, *, word_dropout: float, word_swap: float, seed: int, epoch: int = 0,
                 index: int = 0, word_substitute: float = 0.0,
                 neighbours: Mapping[str, Sequence[str]] | None = None) -> str:
    """One augmented copy of ``text`` (words joined by single spaces once anything changed).

    ``word_substitute`` needs ``neighbours`` (``{word_key: [neighbour, ...]}``); without them it does nothing.
    """
    substitute = word_substitute > 0 and bool(neighbours)
    if word_dropout <= 0 and word_swap <= 0 and not substitute:
        return text
    words = text.split()
    if len(words) < 2 and not substitute:
        return text
    rng = np.random.default_rng((int(seed), int(epoch), int(index)))
    if word_dropout > 0 and len(words) > 1:
        keep = rng.random(len(words)) >= word_dropout
        if not keep.any():
            keep[rng.integers(len(words))] = True
        words = [w for w, k in zip(words, keep) if k]
    if word_swap > 0:
        draws = rng.random(len(words))
        i = 0
        while i < len(words) - 1:
            if draws[i] < word_swap:
                words[i], words[i + 1] = words[i + 1], words[i]
                i += 2
            else:
                i += 1
    if substitute:  # drawn last, so dropout and swaps are the same with or without it
        draws, picks = rng.random(len(words)), rng.integers(0, 1 << 30, len(words))
        words = [_substituted(w, neighbours, int(pick)) if draw < word_substitute else w
                 for w, draw, pick in zip(words, draws, picks)]
    return " ".join(words)


def _substituted(word: str, neighbours: Mapping[str, Sequence[str]], pick: int) -> str:
    """``word`` with its core replaced by a neighbour (``pick`` chooses which), punctuation and capital kept."""
    lead, core, trail = _WORD_PARTS.match(word).groups()
    options = neighbours.get(word_key(core))
    if not core or not options:
        return word
    new = options[pick % len(options)]
    if core[0].isupper():
        new = new[:1].upper() + new[1:]
    return f"{lead}{new}{trail}"


def augment_texts(texts: Sequence[str], indices: Sequence[int], *, word_dropout: float, word_swap: float,
                  seed: int, epoch: int, word_substitute: float = 0.0,
                  neighbours: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Augmented copies of ``texts``, each seeded by its row ``indices`` entry and the ``epoch``."""
    return [augment_text(t, word_dropout=word_dropout, word_swap=word_swap, seed=seed, epoch=epoch, index=int(i),
                         word_substitute=word_substitute, neighbours=neighbours)
            for t, i in zip(texts, indices)]


def text_augment_active(augment_cfg) -> bool:
    """Whether ``AugmentConfig`` asks for any text augmentation."""
    return augment_cfg.word_dropout > 0 or augment_cfg.word_swap > 0 or augment_cfg.word_substitute > 0
