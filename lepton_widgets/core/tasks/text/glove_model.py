"""The light text classifier: raw text -> words -> GloVe vectors -> mean -> small MLP head.

One Keras model, saved whole (``model.keras``), that takes the raw strings themselves:

* ``words``: Keras ``TextVectorization`` (lower case, punctuation stripped, split on whitespace, cut or
  padded to ``backbone.sequence_length`` words) over the run's vocabulary (``glove.run_vocabulary``);
  a word outside it maps to the out-of-vocabulary row, padding to row 0;
* ``glove_embedding``: an ``Embedding`` initialised with the GloVe vectors (``weights: offline``) or at
  random (``none``), masked on padding; it is the model's one "block": frozen unless
  ``backbone.frozen_depth`` is 0, when the fine-tune phase trains it;
* ``mean_pool`` (mean over real words) -> ``head_hidden`` (ReLU) -> ``head_dropout`` -> ``classifier``.

Because the vocabulary is a layer, the saved model predicts from strings with nothing else from the run;
it reloads with ``safe_mode=True`` (plain Keras layers). About 1-3 M parameters, so it trains in seconds on
a CPU where MiniLM takes minutes.

Example (reads GloVe, about 1 s)::

    glove = load_glove()
    vocabulary = run_vocabulary(glove, ["Great tea!", "Stale crackers."])
    gm = build_glove_classifier(glove, vocabulary, num_classes=2, sequence_length=64, dropout=0.2, l2=0.0,
                                weights="offline", seed=0)
    gm.model.predict(tf.constant(["Great tea!"]))      # shape (1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from lepton_widgets.core.tasks.text.glove import DIM, GloveVectors, embedding_matrix

EMBEDDING, WORDS = "glove_embedding", "words"
#: Width of the head's hidden layer: a mean of word vectors needs a non-linear head to pick up
#: combinations of words (a linear one scored several points lower on the reviews).
HIDDEN_UNITS = 128


@dataclass
class GloveModel:
    """The model and its embedding layer (the one block frozen depth acts on)."""

    model: keras.Model
    embedding: layers.Embedding
    vocabulary_size: int

    def set_embedding_trainable(self, trainable: bool) -> None:
        self.embedding.trainable = trainable

    def trainable_params(self) -> int:
        return int(sum(np.prod(w.shape) for w in self.model.trainable_weights))


def build_glove_classifier(glove: GloveVectors, vocabulary: list[str], num_classes: int, *, sequence_length: int,
                           dropout: float, l2: float, weights: str, seed: int | None = None,
                           matrix: np.ndarray | None = None, hidden_units: int = HIDDEN_UNITS) -> GloveModel:
    """The model described in the module docstring, embedding frozen.

    The embedding starts from GloVe (``weights="offline"``), at random (``"none"``), or from ``matrix``
    (``len(vocabulary) + 2`` rows: a source run's, see ``transfer.py``) when given. ``hidden_units`` is the
    head's width (``train.head_units``; 0 there keeps :data:`HIDDEN_UNITS`).
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    words = layers.TextVectorization(vocabulary=vocabulary, output_sequence_length=sequence_length,
                                     standardize="lower_and_strip_punctuation", split="whitespace", name=WORDS)
    # random init ("none", and the start for "offline": a Constant initialiser would copy the whole matrix
    # into the saved model's JSON config), scaled like GloVe's own vectors
    initializer = keras.initializers.RandomNormal(stddev=float(np.std(glove.vectors[:1000])), seed=seed)
    embedding = layers.Embedding(len(vocabulary) + 2, DIM, embeddings_initializer=initializer, mask_zero=True,
                                 name=EMBEDDING)
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    x = layers.GlobalAveragePooling1D(name="mean_pool")(embedding(words(text)))
    x = layers.Dense(hidden_units or HIDDEN_UNITS, activation="relu", kernel_regularizer=regularizer,
                     name="head_hidden", kernel_initializer=keras.initializers.HeUniform(seed=seed))(x)
    x = layers.Dropout(dropout, seed=seed, name="head_dropout")(x)
    out = layers.Dense(num_classes, activation="softmax", kernel_regularizer=regularizer, name="classifier",
                       kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
    gm = GloveModel(keras.Model(text, out, name="glove_text_classifier"), embedding, len(vocabulary) + 2)
    if matrix is not None:
        embedding.set_weights([np.asarray(matrix, np.float32)])
    elif weights == "offline":
        embedding.set_weights([embedding_matrix(glove, vocabulary)])
    gm.set_embedding_trainable(False)
    return gm
