"""The GloVe encoder's part of a text run (``backbone.name: glove_6b_50d``); ``run.py`` does the rest.

The model takes raw strings (``glove_model.py``), so the phases train on the texts themselves: there is
nothing worth caching in front of a lookup table. The head phase trains with the embedding frozen; the
fine-tune phase (``backbone.frozen_depth: 0``) trains the embedding too. The run's vocabulary is GloVe's
20,000 most frequent words plus every training word GloVe knows (``glove.run_vocabulary``); ``text.json``
records its size and how many training words GloVe did not know. Seeded from a GloVe run
(``weights: "run:..."``, ``transfer.py``), the vocabulary and rows are the source's, plus new words.

Example (``run_text_experiment`` calls it; tests/test_text_glove.py trains for real)::

    cfg = RunConfig.from_dict({"data": {"dataset": "food_reviews", "max_per_class": 300},
                               "backbone": {"name": "glove_6b_50d", "frozen_depth": 0, "sequence_length": 200},
                               "train": {"epochs": 30, "fine_tune_epochs": 5}})
    record = run_text_experiment(cfg)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.text.data import TextData
from lepton_widgets.core.tasks.text.glove import load_glove, run_vocabulary, text_words
from lepton_widgets.core.tasks.text.glove_model import GloveModel, build_glove_classifier
from lepton_widgets.core.tasks.text.phases import PhaseTrainer
from lepton_widgets.core.tasks.text.transfer import glove_vocabulary_and_matrix, open_text_source


class GloveTrainer(PhaseTrainer):
    """GloVe's phases on strings; freezing is the embedding's ``trainable`` flag."""

    def __init__(self, cfg, data: TextData, gm: GloveModel, job: Job, neighbours=None) -> None:
        super().__init__(cfg, data, job, neighbours)
        self.gm = gm
        length = cfg.backbone.sequence_length
        self.inputs = {name: tf.constant(texts, dtype=tf.string) for name, (_, texts) in self.splits.items()}
        self.truncated = sum(len(text_words(t)) > length for _, texts in self.splits.values() for t in texts)

    def phase_model(self, fine_tune: bool) -> keras.Model:
        self.gm.set_embedding_trainable(fine_tune and self.depth == 0)
        return self.gm.model

    def phase_inputs(self, split: str, fine_tune: bool):
        return self.inputs[split]

    def encode_batch(self, texts: list[str], fine_tune: bool):
        return tf.constant(texts, dtype=tf.string)

    def trainable_params(self) -> int:
        return self.gm.trainable_params()


def glove_run(cfg, data: TextData, job: Job, neighbours):
    """``(trainer, model to save, text.json entries, save assets)`` of a GloVe run."""
    glove = load_glove()
    train_texts = data.split("train")[1]
    info: dict = {}
    matrix = None
    if is_run_weights(cfg.backbone.weights):  # seeded from a GloVe run: its words and (fine-tuned) rows
        source = open_text_source(cfg)
        vocabulary, matrix, kept = glove_vocabulary_and_matrix(source, glove, train_texts)
        info.update(source_run=source.run_id, source_words=kept)
    else:
        vocabulary = run_vocabulary(glove, train_texts)
    train_words = {w for t in train_texts for w in text_words(t)}
    gm = build_glove_classifier(glove, vocabulary, data.prepared.num_classes,
                                sequence_length=cfg.backbone.sequence_length, dropout=cfg.train.dropout,
                                l2=cfg.train.l2, weights=cfg.backbone.weights, seed=cfg.seed, matrix=matrix,
                                hidden_units=cfg.train.head_units)  # 0: the default width
    trainer = GloveTrainer(cfg, data, gm, job, neighbours)
    info.update(vocabulary_size=len(vocabulary), unknown_training_words=sum(w not in glove.index for w in train_words),
                training_words=len(train_words))
    return trainer, gm.model, info, lambda folder: None
