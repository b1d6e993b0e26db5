"""Fast text fine-tuning: dynamic padding, the tokenisation cache and the hidden-state cache at the frozen
boundary each give what the plain way gives (real MiniLM on a few real reviews).

Tolerances, and why:
* padding: a batch cut to its longest text must give the fixed-length model's probabilities to 1e-4
  (masked positions change nothing; what is left is float32 summation order);
* cached vs streamed fine-tuning: both train the same top layer from the same start on the same texts,
  one full batch per step (so the batch order cannot differ). The cache stores the boundary states in
  float16 (about 3 significant digits), so they are close, not equal (the encoder's dropout is off here, or
  its random draws would differ): the weight changes must point the same way (cosine > 0.95) and be as
  large within 10%, and the validation loss and accuracy after training must agree within 0.05 and 1/12
  (one of the 12 texts).
"""

from __future__ import annotations

import keras_hub
import numpy as np
import pytest

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.text import prepare_texts
from lepton_widgets.core.tasks.text.boundary import encode_split, weights_fingerprint
from lepton_widgets.core.tasks.text.buckets import RaggedRows, ordered_dataset, training_dataset
from lepton_widgets.core.tasks.text.encoder import load_minilm, minilm_path, tokenize
from lepton_widgets.core.tasks.text.model import build_text_classifier, freeze_to, transformer_layer
from lepton_widgets.core.tasks.text.token_cache import cached_tokenize, token_cache_path

SEQUENCE_LENGTH = 48
CONFIG = {"name": "speed", "seed": 0,
          "data": {"dataset": "food_reviews", "max_per_class": 24, "val_fraction": 0.25, "test_fraction": 0.25},
          "backbone": {"frozen_depth": 5, "sequence_length": SEQUENCE_LENGTH},
          "train": {"epochs": 2, "learning_rate": 1e-2, "fine_tune_epochs": 3, "fine_tune_lr_factor": 0.1,
                    "batch_size": 64, "dropout": 0.0, "early_stopping_patience": 0, "lr_schedule": "constant"}}


@pytest.fixture(scope="module")
def minilm():
    backbone, tokenizer = load_minilm()
    return build_text_classifier(backbone, 2, dropout=0.0, l2=0.0, seed=0), tokenizer


@pytest.fixture(scope="module")
def reviews():
    return prepare_texts(RunConfig.from_dict(CONFIG).data, 0)


def test_batches_cut_to_their_longest_text_predict_what_fixed_padding_predicts(minilm, reviews):
    tm, tokenizer = minilm
    texts = sorted(reviews.texts, key=len)
    texts = texts[:6] + texts[-6:]  # the shortest reviews and the longest (truncated) ones
    inputs, _ = tokenize(tokenizer, texts, SEQUENCE_LENGTH)
    freeze_to(tm, 4)
    fixed = np.asarray(tm.full.predict(inputs, batch_size=8, verbose=0))
    states, _ = encode_split(tm, 4, inputs, weights_fingerprint(tm.backbone), precise=True, use_cache=False)
    dataset, order = ordered_dataset(states.hidden, None, 4)
    widths = [batch["padding_mask"].shape[1] for batch in dataset]
    assert max(widths) <= SEQUENCE_LENGTH and min(widths) < SEQUENCE_LENGTH  # short batches really are shorter
    dynamic = np.asarray(tm.top(4).predict(dataset, verbose=0))[np.argsort(order)]
    np.testing.assert_allclose(dynamic, fixed, atol=1e-4)
    # training batches: every row once per epoch, each batch padded to its own longest row, its mask exact
    rows = RaggedRows.from_padded(inputs["token_ids"], inputs["padding_mask"].sum(1))
    seen = []
    for x, y in training_dataset(rows, np.arange(len(rows)), 4, seed=0, as_tokens=True, boundaries=(17, 33)):
        mask = x["padding_mask"].numpy()
        assert mask[:, 0].all() and mask.sum(1).max() == mask.shape[1]
        np.testing.assert_array_equal(x["token_ids"].numpy(), inputs["token_ids"][y.numpy(), :mask.shape[1]])
        seen += y.numpy().tolist()
    assert sorted(seen) == list(range(len(rows)))


def test_tokens_are_cached_on_disk_and_reused(minilm, reviews):
    _, tokenizer = minilm
    texts = reviews.split("val")[1]
    first, truncated, hit = cached_tokenize(tokenizer, texts, SEQUENCE_LENGTH)
    again, truncated_again, hit_again = cached_tokenize(tokenizer, texts, SEQUENCE_LENGTH)
    plain, plain_truncated = tokenize(tokenizer, texts, SEQUENCE_LENGTH)
    assert (hit, hit_again) == (False, True) and truncated == truncated_again == plain_truncated
    for name in plain:
        np.testing.assert_array_equal(again[name], plain[name])
    path = token_cache_path(tokenizer, texts, SEQUENCE_LENGTH)
    path.write_bytes(b"half a file")  # a damaged file is tokenised again and replaced
    assert cached_tokenize(tokenizer, texts, SEQUENCE_LENGTH)[2] is False
    assert cached_tokenize(tokenizer, texts, SEQUENCE_LENGTH)[2] is True
    assert cached_tokenize(tokenizer, texts[:-1], SEQUENCE_LENGTH)[2] is False  # other texts, other key


def _fine_tuned(reviews, cache_boundary: bool):
    """A fresh MiniLM fine-tuned (top layer + head) by the run's trainer; the layer's weight change and
    the validation loss and accuracy."""
    from lepton_widgets.core.tasks.image.training import seed_everything
    from lepton_widgets.core.tasks.text.run import MiniLMTrainer

    cfg = RunConfig.from_dict(CONFIG)
    seed_everything(0)
    _, tokenizer = load_minilm()
    # no dropout inside the encoder: its random draws would differ between the two ways and hide what we compare
    backbone = keras_hub.models.BertBackbone.from_preset(str(minilm_path()), dropout=0.0)
    tm = build_text_classifier(backbone, 2, dropout=0.0, l2=0.0, seed=0)
    before = [np.asarray(w) for w in transformer_layer(backbone, 5).weights]
    trainer = MiniLMTrainer(cfg, reviews, tm, tokenizer, Job(), cache_boundary=cache_boundary)
    # one length bucket: each epoch is then one full batch both ways, the same steps (the first test checks
    # the bucketing itself)
    trainer.bucket_boundaries = (SEQUENCE_LENGTH + 1,)
    for phase, epochs, lr in (("head", 1, 1e-2), ("fine_tune", 2, 1e-4)):
        trainer.run_phase(phase, epochs, lr)
    delta = np.concatenate([(np.asarray(w) - b).ravel()
                            for w, b in zip(transformer_layer(backbone, 5).weights, before)])
    return trainer, delta, trainer.history[-1]


def test_cached_and_streamed_fine_tuning_agree(reviews):
    cached, delta_cached, last_cached = _fine_tuned(reviews, cache_boundary=True)
    streamed, delta_streamed, last_streamed = _fine_tuned(reviews, cache_boundary=False)
    assert cached.cached and not streamed.cached
    assert cached.states["train"].hidden.values.dtype == np.float16  # half the memory and disk
    assert "train" not in streamed.states  # it never computed them: every batch went through the encoder
    assert np.linalg.norm(delta_cached) > 0 and np.linalg.norm(delta_streamed) > 0
    cosine = delta_cached @ delta_streamed / (np.linalg.norm(delta_cached) * np.linalg.norm(delta_streamed))
    print(f"cached vs streamed: cosine {cosine:.4f}, val loss {last_cached['val_loss']:.4f} vs "
          f"{last_streamed['val_loss']:.4f}, val accuracy {last_cached['val_accuracy']:.3f} vs "
          f"{last_streamed['val_accuracy']:.3f}")
    assert cosine > 0.95 and 0.9 < np.linalg.norm(delta_cached) / np.linalg.norm(delta_streamed) < 1.1
    assert abs(last_cached["val_loss"] - last_streamed["val_loss"]) < 0.05
    assert abs(last_cached["val_accuracy"] - last_streamed["val_accuracy"]) <= 1 / 12 + 1e-6
    # the second trainer read the tokens and the val/test hidden states the first one stored on disk
    assert all(streamed.tokens_cached.values()) and streamed.states_cached == {"val": True, "test": True}
    assert not any(cached.states_cached.values())
