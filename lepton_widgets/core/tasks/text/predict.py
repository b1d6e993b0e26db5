"""Predict texts with a stored text run: strings in, classes out.

The run folder holds everything, so this needs neither a weights package nor the training data. A MiniLM
run has ``model.keras`` (token inputs -> probabilities) and its tokeniser (``tokenizer/vocabulary.txt``
plus its settings and the sequence length in ``text.json``): texts are tokenised exactly as in training
(no augmentation) and cut to the run's sequence length. A GloVe run's model takes the strings
themselves (its vocabulary and length are layers), so it has no tokeniser (``None``).

Example (needs a trained run; tests/test_text.py runs it)::

    frame = predict_texts("runs/20261130-101500-reviews-1a2b3c", ["Stale and bitter.", "Best tea ever!"])
    frame[["label", "confidence"]]
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.runs.store import as_record
from lepton_widgets.core.tasks.text.encoder import tokenize, tokenizer_from_vocabulary

TEXT_FILE = "text.json"


def is_text_run(record) -> bool:
    """Whether a stored run was trained on texts."""
    return record.info.get("modality") == "text"


def load_text_run(run) -> tuple:
    """``(model, tokenizer, sequence_length)`` of a finished text run (a ``RunRecord``, run id or folder);
    the tokenizer is ``None`` for a GloVe run (its model reads strings)."""
    record = as_record(run)
    path = record.path / TEXT_FILE
    if not is_text_run(record) or not path.is_file():
        raise ValueError(f"run {record.run_id} is not a text run (it was trained on {record.config.data.dataset!r})")
    info = json.loads(path.read_text(encoding="utf-8"))
    if "tokenizer" not in info:  # GloVe: the vocabulary is the model's TextVectorization layer
        return record.load_model(), None, int(info["sequence_length"])
    tok = info["tokenizer"]
    tokenizer = tokenizer_from_vocabulary(record.path / tok["vocabulary"], lowercase=tok["lowercase"],
                                          strip_accents=tok["strip_accents"])
    import keras_hub  # noqa: F401 - registers BertBackbone before the model loads

    return record.load_model(), tokenizer, int(info["sequence_length"])


def reads_strings(model) -> bool:
    """Whether ``model`` takes the raw strings (a GloVe run's) rather than token ids (MiniLM's)."""
    return len(model.inputs) == 1 and "string" in str(model.inputs[0].dtype)


def predict_texts(run, texts: Sequence[str], *, model=None, tokenizer=None, sequence_length: int | None = None,
                  batch_size: int = 64) -> pd.DataFrame:
    """One row per text: ``label``, ``confidence`` and a ``p(<class>)`` column per class.

    Pass ``model``/``tokenizer``/``sequence_length`` (from :func:`load_text_run`) to predict many times
    without reloading; ``run`` then only supplies the class names.
    """
    record = as_record(run)
    if model is None or sequence_length is None or (tokenizer is None and not reads_strings(model)):
        model, tokenizer, sequence_length = load_text_run(record)
    texts = [str(t) for t in texts]
    if tokenizer is None:  # a GloVe model reads the strings
        import tensorflow as tf

        inputs = tf.constant(texts, dtype=tf.string)
    else:
        inputs, _ = tokenize(tokenizer, texts, sequence_length)
    probs = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)) if texts else \
        np.zeros((0, len(record.class_names)))
    names = record.class_names
    out = pd.DataFrame({"text": texts, "label": [names[i] for i in probs.argmax(axis=1)],
                        "confidence": probs.max(axis=1) if len(probs) else []})
    for i, name in enumerate(names):
        out[f"p({name})"] = probs[:, i]
    return out
