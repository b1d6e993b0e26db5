"""The text classifier: MiniLM -> mean over real tokens -> dropout -> ``Dense`` softmax, frozen by layer.

``build_text_classifier`` returns a :class:`TextModel` holding one set of layers seen through three
Keras models that share their weights:

* ``full``: token inputs (``token_ids``, ``segment_ids``, ``padding_mask``) -> class probabilities; what
  the run saves (``model.keras``, plain keras-hub and Keras layers, so it reloads with ``safe_mode=True``);
* ``head``: a pooled sentence embedding (384 numbers) -> probabilities (dropout + classifier only);
* ``top(depth)``: the hidden states after the first ``depth`` transformer layers (+ the padding mask)
  -> the remaining layers -> pooling -> head.

Frozen depth (``backbone.frozen_depth``) counts transformer layers from the input side; the embeddings
are frozen whenever ``frozen_depth > 0``; ``None`` (or 6 and more) freezes the whole encoder, so only the
head trains. Because frozen layers never change, training runs on what they compute, once, in inference
mode (``run.py``): the head on pooled embeddings, the fine-tuned top on the hidden states at the frozen
boundary. ``full`` computes the same function (checked by tests/test_text.py), so the saved model
predicts what was evaluated. The backbone's CLS ``pooled_dense`` layer is unused and stays frozen.

Example (builds the model, about 10 s)::

    backbone, _ = load_minilm()
    tm = build_text_classifier(backbone, num_classes=2, dropout=0.1, l2=0.0, seed=0)
    freeze_to(tm, 4)            # transformer layers 4 and 5 train, embeddings and layers 0-3 stay frozen
    tm.trainable_params() > 0   # True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from keras import layers

from lepton_widgets.core.tasks.text.encoder import HIDDEN_DIM, INPUT_NAMES, NUM_LAYERS
from lepton_widgets.core.frozen_depth import frozen_block_count

EMBEDDING_LAYERS = ("token_embedding", "position_embedding", "segment_embedding", "embeddings_layer_norm")
POOLING, DROPOUT, CLASSIFIER = "mean_pool", "head_dropout", "classifier"


def transformer_layer(backbone, i: int):
    return backbone.get_layer(f"transformer_layer_{i}")


def frozen_layers(frozen_depth: int | None, n_layers: int = NUM_LAYERS) -> int:
    """Blocks (MiniLM: transformer layers) kept frozen for ``backbone.frozen_depth`` (``None``: all of them)."""
    return frozen_block_count(frozen_depth, n_layers)


@dataclass
class TextModel:
    """The backbone, the head layers and the full model that joins them (see the module docstring)."""

    backbone: keras.Model
    pooling: layers.Layer
    dropout: layers.Layer
    classifier: layers.Dense
    full: keras.Model
    #: Output of each transformer layer in the backbone's own graph (taken before ``top`` calls them again).
    layer_outputs: list
    _traced: dict = field(default_factory=dict, repr=False)

    def head(self) -> keras.Model:
        features = keras.Input((HIDDEN_DIM,), name="sentence_embedding")
        return keras.Model(features, self.classifier(self.dropout(features)), name="text_head")

    def top(self, depth: int) -> keras.Model:
        """Transformer layers ``depth``.. on hidden states, then the head; ``depth == 0``: the full model."""
        if depth == 0:
            return self.full
        hidden = keras.Input((None, HIDDEN_DIM), name="hidden_states")
        mask = keras.Input((None,), dtype="int32", name="padding_mask")
        x = hidden
        for i in range(depth, NUM_LAYERS):
            x = transformer_layer(self.backbone, i)(x, padding_mask=mask)
        out = self.classifier(self.dropout(self.pooling(x, mask=mask)))
        return keras.Model([hidden, mask], out, name=f"text_top_{depth}")

    def encoder(self, depth: int) -> keras.Model:
        """Frozen part, for caching: inputs -> ``[pooled embedding, hidden states after layer depth-1]``
        (the hidden states only when ``0 < depth < NUM_LAYERS``)."""
        sequence = self.backbone.output["sequence_output"]
        pooled = layers.GlobalAveragePooling1D(name="cache_pool")(sequence, mask=self.backbone.input["padding_mask"])
        outputs = [pooled]
        if 0 < depth < NUM_LAYERS:
            outputs.append(self.layer_outputs[depth - 1])
        return keras.Model(self.backbone.input, outputs, name=f"text_encoder_{depth}")

    def encoder_function(self, depth: int):
        """:meth:`encoder` in inference mode as one traced function taking batches of any size and width,
        made once per depth. ``predict_on_batch`` traces again for every new padded width (up to 16 per split
        at 128 word pieces, most of a second each on 2 cores); this traces once."""
        if depth not in self._traced:
            import tensorflow as tf

            encoder = self.encoder(depth)
            spec = {name: tf.TensorSpec((None, None), tf.int32, name=name) for name in INPUT_NAMES}
            self._traced[depth] = tf.function(lambda inputs: encoder(inputs, training=False), input_signature=[spec])
        return self._traced[depth]

    def trainable_params(self) -> int:
        return int(sum(np.prod(w.shape) for w in self.full.trainable_weights))


def build_text_classifier(backbone, num_classes: int, *, dropout: float, l2: float,
                          seed: int | None = None) -> TextModel:
    """Backbone + masked mean pooling + dropout + softmax classifier, the encoder frozen."""
    layer_outputs = [transformer_layer(backbone, i).output for i in range(NUM_LAYERS)]
    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in INPUT_NAMES}
    sequence = backbone(inputs)["sequence_output"]
    pooling = layers.GlobalAveragePooling1D(name=POOLING)  # with the padding mask: a mean over real tokens
    drop = layers.Dropout(dropout, seed=seed, name=DROPOUT)
    classifier = layers.Dense(num_classes, activation="softmax", name=CLASSIFIER,
                              kernel_regularizer=keras.regularizers.L2(l2) if l2 > 0 else None,
                              kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
    out = classifier(drop(pooling(sequence, mask=inputs["padding_mask"])))
    tm = TextModel(backbone, pooling, drop, classifier, keras.Model(inputs, out, name="minilm_text_classifier"),
                   layer_outputs)
    freeze_to(tm, NUM_LAYERS)
    return tm


def freeze_to(tm: TextModel, depth: int) -> None:
    """Freeze the embeddings (when ``depth > 0``) and the first ``depth`` transformer layers; train the rest."""
    backbone = tm.backbone
    backbone.trainable = True
    for name in EMBEDDING_LAYERS:
        backbone.get_layer(name).trainable = depth == 0
    for i in range(NUM_LAYERS):
        transformer_layer(backbone, i).trainable = i >= depth
    backbone.get_layer("pooled_dense").trainable = False
