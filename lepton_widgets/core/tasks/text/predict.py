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
from dataclasses import dataclass
from pathlib import Path

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


# --- the Predict app and `lepton predict` (TextTask.open_for_prediction / predict_rows) --------------------

EMPTY_TEXTS = "Type at least one text to predict (one text per line)."


@dataclass
class TextRunModel:
    """A text run's model, tokeniser and sequence length, loaded once."""

    record: object
    model: object
    tokenizer: object
    sequence_length: int
    path: str
    modality: str = "text"

    @property
    def class_names(self) -> list[str]:
        return list(self.record.class_names)


def open_text_model(path) -> TextRunModel:
    """The text run whose folder holds the ``model.keras`` at ``path``, loaded to predict many times."""
    from lepton_widgets.core.runs.store import model_file_run

    record = model_file_run(path, "text", "tokenizer")
    model, tokenizer, length = load_text_run(record)
    return TextRunModel(record, model, tokenizer, length, str(path))


@dataclass
class TextPrediction:
    """One text's top classes ``[(class, confidence)]``, best first."""

    text: str
    top: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def confidence(self) -> float:
        return self.top[0][1]


def text_lines(raw: str | Sequence[str]) -> list[str]:
    """One text per non-blank line (surrounding spaces dropped); a list is taken as the texts already.

    >>> text_lines("  Lovely tea!\\n\\n  \\nStale and bitter. ")
    ['Lovely tea!', 'Stale and bitter.']
    """
    lines = raw.splitlines() if isinstance(raw, str) else [str(t) for t in raw]
    return [line.strip() for line in lines if line.strip()]


def predict_text_lines(model: TextRunModel, raw: str | Sequence[str], top_k: int = 3) -> list[TextPrediction]:
    """Top ``top_k`` classes of every text (``raw``: one text per line); ``ValueError`` when there is none."""
    texts = text_lines(raw)
    if not texts:
        raise ValueError(EMPTY_TEXTS)
    frame = predict_texts(model.record, texts, model=model.model, tokenizer=model.tokenizer,
                          sequence_length=model.sequence_length)
    return [TextPrediction(text, top_classes(row, model.class_names, top_k))
            for text, (_, row) in zip(texts, frame.iterrows())]


def top_classes(row: pd.Series, class_names: Sequence[str], top_k: int) -> list[tuple[str, float]]:
    """The ``top_k`` ``(class, probability)`` pairs of one predicted row (its ``p(<class>)`` columns)."""
    probabilities = np.array([row[f"p({name})"] for name in class_names], dtype=float)
    return [(class_names[i], float(probabilities[i])) for i in np.argsort(probabilities)[::-1][:top_k]]


def text_rows(model: TextRunModel, inputs, top_k: int) -> list[tuple]:
    """``(name, top, error)`` per text: each input is a text, or the path of a file of one text per line."""
    texts, names = [], []
    for item in inputs:
        path = Path(str(item))
        if isinstance(item, Path) or _names_a_file(str(item)):
            try:
                lines = text_lines(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                names.append((str(item), f"cannot read {path.name} as text: {error}"))
                continue
            for n, line in enumerate(lines, 1):
                texts.append(line)
                names.append((f"{item}:{n}", None))
        else:
            texts.extend(text_lines([str(item)]))
            names.extend((str(item), None) for _ in text_lines([str(item)]))
    found = iter(predict_text_lines(model, texts, top_k) if texts else [])
    return [(name, [] if error else next(found).top, error) for name, error in names]


def _names_a_file(text: str) -> bool:
    """Whether a text given to a text run is the path of a file to read (else it is the text itself)."""
    try:
        return "\n" not in text and len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL byte
        return False
