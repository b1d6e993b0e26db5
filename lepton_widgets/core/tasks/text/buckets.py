"""Dynamic padding for texts: each batch is padded to its own longest text, not to ``sequence_length``.

Half of the food reviews are under 70 word pieces, yet a fixed-length batch pads them all to 128, and a
transformer pays for every padded position. Padding never changes what MiniLM computes for the real
tokens (attention and the mean pooling both skip masked positions, position embeddings are absolute), so
a batch cut to its longest real text gives the same predictions, for a fraction of the work.

* training: shuffled rows (seeded, reshuffled each epoch) in batches each padded to its longest row; with
  ``boundaries``, ``tf.data``'s ``bucket_by_sequence_length`` groups rows of similar length (less padding,
  but batches of one length range fine-tuned MiniLM worse on the reviews: ``run.py`` uses none);
* prediction, validation and encoding: rows sorted by length, cut into batches in that order, and the
  results put back in the original order.

Rows are :class:`RaggedRows`: a flat array of every row's real positions (token ids, or the hidden states
a frozen layer computed) and each row's length. A row length is also its attention mask: ``1`` on the
first ``length`` positions of the padded batch, ``0`` after them.

Example:
    >>> rows = RaggedRows(np.arange(6, dtype=np.int32), np.array([1, 3, 2]))
    >>> [r.tolist() for r in rows.rows([1, 2])]
    [[1, 2, 3], [4, 5]]
    >>> ids, mask = rows.padded([1, 2], multiple=1)
    >>> ids.tolist(), mask.tolist()
    ([[1, 2, 3], [4, 5, 0]], [[1, 1, 1], [1, 1, 0]])
    >>> sorted_batches(np.array([5, 1, 4, 2]), 2)
    [array([1, 3]), array([2, 0])]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Batches are padded to a multiple of this (fewer distinct shapes to trace, negligible extra padding).
PAD_MULTIPLE = 8
#: Length bucket edges for training batches (word pieces); rows longer than the last share one bucket.
BUCKET_BOUNDARIES = (17, 25, 33, 49, 65, 97, 129, 193, 257)


@dataclass
class RaggedRows:
    """Variable-length rows stored flat: ``values[offsets[i]:offsets[i] + lengths[i]]`` is row ``i``."""

    values: np.ndarray
    lengths: np.ndarray

    def __post_init__(self) -> None:
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.lengths)

    def rows(self, index) -> list[np.ndarray]:
        return [self.values[self.offsets[i]:self.offsets[i] + self.lengths[i]] for i in index]

    def padded(self, index, multiple: int = PAD_MULTIPLE, dtype=None) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``index`` zero-padded to their longest (rounded up to ``multiple``), and their mask."""
        index = np.asarray(index)
        longest = int(self.lengths[index].max()) if len(index) else 1
        width = -(-longest // multiple) * multiple
        out = np.zeros((len(index), width, *self.values.shape[1:]), dtype=dtype or self.values.dtype)
        mask = np.zeros((len(index), width), np.int32)
        for j, row in enumerate(self.rows(index)):
            out[j, :len(row)] = row
            mask[j, :len(row)] = 1
        return out, mask

    @classmethod
    def from_padded(cls, padded: np.ndarray, lengths: np.ndarray) -> "RaggedRows":
        """The real positions of a padded ``(n, length, ...)`` array."""
        return cls(np.concatenate([padded[i, :n] for i, n in enumerate(lengths)]), lengths)


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row indices in batches of similar length (shortest first)."""
    order = np.argsort(lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def _element(rows: RaggedRows, as_tokens: bool):
    """``tf.data`` map from one ragged row to the model's named inputs (tokens: MiniLM's three inputs;
    else ``hidden_states`` as float32 and their ``padding_mask``)."""
    import tensorflow as tf

    def to_inputs(row, label):
        length = tf.shape(row)[0]
        mask = tf.ones((length,), tf.int32)
        if as_tokens:
            return {"token_ids": tf.cast(row, tf.int32), "segment_ids": tf.zeros((length,), tf.int32),
                    "padding_mask": mask}, label
        return {"hidden_states": tf.cast(row, tf.float32), "padding_mask": mask}, label

    return to_inputs


def training_dataset(rows: RaggedRows, labels: np.ndarray, batch_size: int, seed: int, *, as_tokens: bool = False,
                     boundaries: tuple[int, ...] = BUCKET_BOUNDARIES):
    """Shuffled (seeded, anew each epoch) batches of similar-length rows, each padded to its longest row.
    ``boundaries``: the length buckets' edges (each bucket's last batch of an epoch may be smaller)."""
    import tensorflow as tf

    ragged = tf.RaggedTensor.from_row_lengths(rows.values, rows.lengths)
    ds = tf.data.Dataset.from_tensor_slices((ragged, labels.astype(np.int32)))
    ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True).map(_element(rows, as_tokens))
    if not boundaries:  # random batches, each still padded to its own longest row
        return ds.padded_batch(batch_size).prefetch(2)
    boundaries = list(boundaries)
    ds = ds.bucket_by_sequence_length(lambda x, y: tf.shape(x["padding_mask"])[0],
                                      boundaries, [batch_size] * (len(boundaries) + 1))
    return ds.prefetch(2)


def ordered_dataset(rows: RaggedRows, labels: np.ndarray | None, batch_size: int, *, as_tokens: bool = False):
    """``(dataset, order)``: rows sorted by length in padded batches; ``outputs[np.argsort(order)]`` puts
    the model's outputs back in row order."""
    import tensorflow as tf

    order = np.argsort(rows.lengths, kind="stable")
    ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(rows.rows(order)), rows.lengths[order])
    y = (labels if labels is not None else np.zeros(len(rows)))[order].astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((ragged, y)).map(_element(rows, as_tokens)).padded_batch(batch_size)
    if labels is None:
        ds = ds.map(lambda x, y: x)
    return ds.prefetch(2), order
