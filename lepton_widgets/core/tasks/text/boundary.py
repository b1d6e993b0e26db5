"""MiniLM's frozen part, run once per text: pooled embeddings and the hidden states at the frozen boundary.

Without augmentation, the embeddings and the frozen transformer layers compute the same thing for a text
in every epoch. :func:`encode_split` runs them once (inference mode, batches of similar length, each
padded to its own longest text) and keeps, per text:

* the pooled sentence embedding of the whole encoder (384 float32), for the head phase;
* the hidden states after the last frozen layer, real tokens only (:class:`~.buckets.RaggedRows`), whose
  row lengths are the attention mask; the fine-tune phase trains the unfrozen layers and the head on them.

They are stored on disk (``$LEPTON_HOME/text_states/<key>.npz``, written atomically), keyed like the image
feature cache by everything that determines them: the backbone's weights (a SHA-256 of every weight, so a
fine-tuned source run never reuses the pretrained states), the frozen depth and the token ids. Training
splits keep the hidden states in float16 (half the memory and disk; the layers above work in float32);
``precise=True`` (the test split) keeps float32, so the stored predictions equal the saved model's.

Example (real MiniLM, a few seconds on 2 cores)::

    backbone, tokenizer = load_minilm()
    tm = build_text_classifier(backbone, 2, dropout=0.0, l2=0.0)
    inputs, _ = tokenize(tokenizer, ["Great tea!", "Stale and bitter."], 32)
    states, hit = encode_split(tm, 4, inputs, weights_fingerprint(backbone))
    states.pooled.shape, states.hidden.lengths.tolist()      # ((2, 384), [5, 7])
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lepton_widgets.core.base.atomic import atomic_write
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.paths import cache_dir
from lepton_widgets.core.data.progress import ProgressReporter
from lepton_widgets.core.tasks.text.buckets import RaggedRows, sorted_batches
from lepton_widgets.core.tasks.text.encoder import HIDDEN_DIM, NUM_LAYERS

STATES_CACHE_VERSION = 1
#: Texts encoded at once.
ENCODE_BATCH = 64


@dataclass
class SplitStates:
    """One split through the frozen part: ``pooled`` (n, 384) and ``hidden`` (None when nothing above the
    boundary trains: the head phase needs the pooled embeddings only)."""

    pooled: np.ndarray
    hidden: RaggedRows | None


def weights_fingerprint(backbone) -> str:
    """A SHA-256 of every weight of ``backbone`` (about 0.2 s for MiniLM's 22.7M)."""
    digest = hashlib.sha256()
    for weight in backbone.weights:
        digest.update(weight.path.encode() + np.ascontiguousarray(np.asarray(weight)).tobytes())
    return digest.hexdigest()


def token_lengths(inputs: dict) -> np.ndarray:
    return np.asarray(inputs["padding_mask"]).sum(axis=1).astype(np.int64)


def states_path(weights: str, depth: int, inputs: dict, precise: bool) -> Path:
    digest = hashlib.sha256(json.dumps({"version": STATES_CACHE_VERSION, "weights": weights, "depth": int(depth),
                                        "precise": bool(precise)}, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(inputs["token_ids"]).tobytes())
    return cache_dir("text_states") / f"{digest.hexdigest()}.npz"


def encode_split(tm, depth: int, inputs: dict, weights: str, job: Job | None = None, *, split: str = "",
                 precise: bool = False, use_cache: bool = True) -> tuple[SplitStates, bool]:
    """``(states, found on disk)`` of one split's token ``inputs`` through ``tm``'s frozen part.

    ``weights``: :func:`weights_fingerprint` of the backbone as it is now (it keys the cache).
    """
    lengths = token_lengths(inputs)
    keep_hidden = 0 < depth < NUM_LAYERS
    path = states_path(weights, depth, inputs, precise)
    if use_cache:
        found = _load(path, lengths, keep_hidden)
        if found is not None:
            return found, True
    states = _encode(tm.encoder_function(depth), inputs, lengths, keep_hidden, np.float32 if precise else np.float16,
                     job, split)
    if use_cache:
        arrays = {"pooled": states.pooled, "lengths": lengths}
        if states.hidden is not None:
            arrays["hidden"] = states.hidden.values
        atomic_write(path, lambda out: np.savez(out, **arrays), suffix=".npz")
    return states, False


def _encode(forward, inputs: dict, lengths: np.ndarray, keep_hidden: bool, dtype, job: Job | None,
            split: str) -> SplitStates:
    """The frozen part over batches of similar length, each cut to its longest text (see ``buckets.py``)."""
    n = len(lengths)
    progress = ProgressReporter(job, n, task=f"encode {split}".strip()) if job is not None else None
    pooled = np.zeros((n, HIDDEN_DIM), np.float32)
    hidden: list[np.ndarray | None] = [None] * n
    for rows in sorted_batches(lengths, ENCODE_BATCH):
        if job is not None:
            job.check_stop()
        width = min(-(-int(lengths[rows].max()) // 8) * 8, inputs["token_ids"].shape[1])
        out = forward({k: v[rows, :width] for k, v in inputs.items()})
        out = out if isinstance(out, (list, tuple)) else [out]
        pooled[rows] = np.asarray(out[0])
        if keep_hidden:
            states = np.asarray(out[1])
            for j, row in enumerate(rows):
                hidden[row] = states[j, :lengths[row]].astype(dtype)
        if progress is not None:
            progress.step(len(rows))
    if progress is not None:
        progress.finish()
    ragged = RaggedRows(np.concatenate(hidden), lengths) if keep_hidden and n else None
    return SplitStates(pooled, ragged)


def _load(path: Path, lengths: np.ndarray, keep_hidden: bool) -> SplitStates | None:
    """The stored states when the file is whole and matches; None (recompute, replace) otherwise."""
    if not path.exists():
        return None
    try:
        with np.load(path) as stored:
            pooled, stored_lengths = stored["pooled"], stored["lengths"]
            hidden = stored["hidden"] if keep_hidden else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if pooled.shape != (len(lengths), HIDDEN_DIM) or not np.array_equal(stored_lengths, lengths):
        return None
    if hidden is not None and hidden.shape != (int(lengths.sum()), HIDDEN_DIM):
        return None
    return SplitStates(pooled, RaggedRows(hidden, lengths) if hidden is not None else None)
