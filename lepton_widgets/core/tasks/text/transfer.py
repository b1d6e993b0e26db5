"""Text runs seeded from your own text runs: ``backbone.weights: "run:<run id or run folder>"``.

A text model trained in one scenario (say, product reviews) starts the next (support tickets): the new
run reuses the source run's encoder and trains a fresh head for its own classes, exactly as image runs
reuse a run's backbone (``core/backbones/run_backbone.py``, whose :func:`resolve_run` finds the run).

What is kept:

* MiniLM: every weight of the source's ``BertBackbone`` (its fine-tuned transformer layers and
  embeddings); the tokenizer is MiniLM's own, so it is the same;
* GloVe: the source's vocabulary and embedding rows (fine-tuned rows included, padding and
  out-of-vocabulary rows too); training words of the new data that the source lacks and GloVe knows are
  added with their GloVe vectors.

The encoder is the source run's: ``backbone.name`` must name the same one (``all_minilm_l6_v2`` or
``glove_6b_50d``; an image backbone name means MiniLM), otherwise the run is refused with the right name,
as for image runs. Refused too, with what to do: a run that is not a text run, or did not finish.

Example (needs a finished text run; tests/test_text_glove.py runs it)::

    cfg = RunConfig.from_dict({"data": {"dataset": "text_csv", "path": "tickets.csv"},
                               "backbone": {"name": "glove_6b_50d", "weights": f"run:{reviews_run.path}"}})
    run_text_experiment(cfg)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.tasks.text.encoder import text_encoder_name
from lepton_widgets.core.tasks.text.predict import TEXT_FILE


@dataclass
class TextSource:
    """A finished text run used as the encoder of a new one; ``model`` is loaded on first use."""

    record: object
    encoder: str

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def model(self):
        import keras_hub  # noqa: F401 - registers BertBackbone before a MiniLM model loads

        return self.record.load_model()


def source_encoder(record) -> str:
    """The text encoder a finished text run was trained with (its ``text.json``)."""
    path = record.path / TEXT_FILE
    if record.info.get("modality") != "text" or not path.is_file():
        raise ConfigError(f"run {record.run_id} is not a text run (it was trained on "
                          f"{record.config.data.dataset!r}); a text run can only start from a text run")
    return json.loads(path.read_text(encoding="utf-8"))["encoder"]


def open_text_source(cfg: RunConfig) -> TextSource:
    """The run ``cfg.backbone.weights`` names, checked: finished, a text run, the same encoder as ``cfg``."""
    from lepton_widgets.core.backbones.run_backbone import resolve_run
    from lepton_widgets.core.backbones.weights import WeightsUnavailable

    try:
        record = resolve_run(cfg.backbone.weights)
    except WeightsUnavailable as error:
        raise ConfigError(str(error)) from None
    encoder = source_encoder(record)
    wanted = text_encoder_name(cfg.backbone.name)
    if encoder != wanted:
        raise ConfigError(f"run {record.run_id} was trained with the text encoder {encoder!r}, not {wanted!r}: set "
                          f"backbone.name to {encoder!r} to use it")
    return TextSource(record, encoder)


def minilm_weights(source: TextSource) -> list[np.ndarray]:
    """The weights of the ``BertBackbone`` inside the source run's model."""
    backbones = [layer for layer in source.model().layers if type(layer).__name__ == "BertBackbone"]
    if len(backbones) != 1:
        raise ConfigError(f"run {source.run_id}'s model has no single MiniLM backbone to reuse")
    return backbones[0].get_weights()


def glove_vocabulary_and_matrix(source: TextSource, glove, train_texts) -> tuple[list[str], np.ndarray, int]:
    """``(vocabulary, embedding matrix, words kept from the source)`` for a GloVe run seeded from ``source``:
    the source's words and rows first, then new training words GloVe knows, with their GloVe vectors."""
    from lepton_widgets.core.tasks.text.glove import embedding_matrix, run_vocabulary
    from lepton_widgets.core.tasks.text.glove_model import EMBEDDING, WORDS

    model = source.model()
    kept = [str(w) for w in model.get_layer(WORDS).get_vocabulary()[2:]]  # after padding and OOV
    rows = model.get_layer(EMBEDDING).get_weights()[0]
    known = set(kept)
    added = [w for w in run_vocabulary(glove, train_texts, common=0) if w not in known]
    matrix = np.concatenate([rows, embedding_matrix(glove, added)[2:]]).astype(np.float32)
    return kept + added, matrix, len(kept)
