"""Tokenise a split once: MiniLM's word pieces cached on disk, keyed by the tokenizer and the texts.

Tokenising 5,000 reviews takes several seconds on 2 cores, and a workshop trains the same texts again and
again (another learning rate, another frozen depth). The word pieces depend only on the tokenizer's
vocabulary and settings, the sequence length and the texts, so that is the key (a SHA-256 of all of it).
The file (``$LEPTON_HOME/text_tokens/<key>.npz``) is written atomically, so a killed run leaves no half file;
a damaged file is simply tokenised again and replaced.

Example (loads the tokenizer, a few seconds)::

    _, tokenizer = load_minilm()
    inputs, truncated, hit = cached_tokenize(tokenizer, ["Great tea!", "Stale."], 32)
    inputs["token_ids"].shape, hit            # ((2, 32), False); the same call again: hit is True
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lepton_widgets.core.base.atomic import atomic_write
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.core.tasks.text.encoder import tokenize

TOKEN_CACHE_VERSION = 1


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides the word pieces: the vocabulary, lower-casing and accent stripping."""
    config = tokenizer.get_config()
    digest = hashlib.sha256(json.dumps({"lowercase": config.get("lowercase"),
                                        "strip_accents": config.get("strip_accents")}, sort_keys=True).encode())
    for piece in tokenizer.get_vocabulary():
        digest.update(piece.encode("utf-8") + b"\n")
    return digest.hexdigest()


def token_key(tokenizer, texts: Sequence[str], sequence_length: int) -> str:
    digest = hashlib.sha256(f"v{TOKEN_CACHE_VERSION}:{tokenizer_fingerprint(tokenizer)}:{int(sequence_length)}\n"
                            .encode())
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little") + encoded)  # length-prefixed: no two lists collide
    return digest.hexdigest()


def token_cache_path(tokenizer, texts: Sequence[str], sequence_length: int) -> Path:
    return cache_dir("text_tokens") / f"{token_key(tokenizer, texts, sequence_length)}.npz"


def cached_tokenize(tokenizer, texts: Sequence[str], sequence_length: int) -> tuple[dict, int, bool]:
    """:func:`tokenize`'s ``(inputs, truncated)`` plus whether they came from the disk cache."""
    path = token_cache_path(tokenizer, texts, sequence_length)
    found = _load(path, len(texts), sequence_length, tokenizer.pad_token_id)
    if found is not None:
        return (*found, True)
    inputs, truncated = tokenize(tokenizer, texts, sequence_length)
    atomic_write(path, lambda out: np.savez(out, token_ids=inputs["token_ids"],
                                            truncated=np.int64(truncated)), suffix=".npz")
    return inputs, truncated, False


def _load(path: Path, rows: int, sequence_length: int, pad_id: int):
    if not path.exists():
        return None
    try:
        with np.load(path) as stored:
            token_ids, truncated = stored["token_ids"], int(stored["truncated"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if token_ids.shape != (rows, sequence_length):
        return None
    token_ids = token_ids.astype(np.int32)
    return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
            "padding_mask": (token_ids != pad_id).astype(np.int32)}, truncated
