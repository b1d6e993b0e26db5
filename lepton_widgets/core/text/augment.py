"""Offline text augmentation: word dropout and adjacent word swaps, seeded, for training only.

Both work on whitespace-separated words of the raw text, before tokenising, so what the model sees is
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

from collections.abc import Sequence

import numpy as np


def augment_text(text: str, *, word_dropout: float, word_swap: float, seed: int, epoch: int = 0,
                 index: int = 0) -> str:
    """One augmented copy of ``text`` (words joined by single spaces once anything changed)."""
    if word_dropout <= 0 and word_swap <= 0:
        return text
    words = text.split()
    if len(words) < 2:
        return text
    rng = np.random.default_rng((int(seed), int(epoch), int(index)))
    if word_dropout > 0:
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
    return " ".join(words)


def augment_texts(texts: Sequence[str], indices: Sequence[int], *, word_dropout: float, word_swap: float,
                  seed: int, epoch: int) -> list[str]:
    """Augmented copies of ``texts``, each seeded by its row ``indices`` entry and the ``epoch``."""
    return [augment_text(t, word_dropout=word_dropout, word_swap=word_swap, seed=seed, epoch=epoch, index=int(i))
            for t, i in zip(texts, indices)]


def text_augment_active(augment_cfg) -> bool:
    """Whether ``AugmentConfig`` asks for any text augmentation."""
    return augment_cfg.word_dropout > 0 or augment_cfg.word_swap > 0
