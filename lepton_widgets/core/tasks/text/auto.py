"""Texts' answers to Lepton Auto (``TextTask.auto_kit()``): GloVe first, MiniLM when accuracy is the goal.

* **Recipe defaults** (:meth:`TextAutoKit.base_config`): the light GloVe encoder as the README's text example
  trains it (``glove_6b_50d``, 200 words, embedding fine-tuned: ``frozen_depth`` 0), with the head recipe of
  ``benchmarks/text_reviews.py`` (30 epochs at 3e-3, then 5 of fine-tuning): seconds on two CPU cores.
  MiniLM (minutes: 22.7M parameters through every text) is only a candidate, and only for goal ``accuracy``.
* **Ranking** (:meth:`~TextAutoKit.rank`): each encoder's pooled frozen embeddings of a small seeded subset
  (:data:`TRAIN_PER_CLASS` + :data:`VAL_PER_CLASS` per class), scored by the image ranking's linear probe
  (scikit-learn logistic regression, validation accuracy: the ``score``) and LogME.
* **Frozen features** (:meth:`~TextAutoKit.features`): the pooled embeddings of every train and val text,
  computed by the search's own feature code (``search.TextTrials.features``: GloVe's mean word vector,
  MiniLM's mean-pooled last layer), so the doctor sees what the head is trained on.
* **Stages**: :meth:`~TextAutoKit.head_config` trains only the head (encoder frozen; MiniLM's head trains on
  cached embeddings), :meth:`~TextAutoKit.search_config` searches that head on cached features (learning
  rate, dropout, L2, batch size, and the GloVe head's width), :meth:`~TextAutoKit.fine_tune_config`
  unfreezes GloVe's embedding or MiniLM's top two transformer layers.

The protocol's :meth:`~TextAutoKit.prepare` returns a ``PreparedData`` (rows and split, no texts). The kit
keeps the ``TextData`` it read next to it, so :meth:`rank` and :meth:`features` find the texts of the
``PreparedData`` it returned; given any other ``PreparedData`` they read the texts again with the config
(the same data and seed give the same rows; every row's text is checked against its ``sha256``).

Example (reads GloVe; trains nothing):
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.tasks import task_named
    >>> kit = task_named("text").auto_kit()
    >>> cfg = kit.base_config(DataConfig(dataset="text_csv", path="reviews.csv"), seed=0, goal="accuracy")
    >>> cfg.backbone.name, cfg.backbone.frozen_depth, [c.label for c in kit.candidates(cfg, "accuracy")]
    ('glove_6b_50d', 0, ['GloVe word vectors', 'MiniLM sentence encoder'])
    >>> kit.head_config(cfg, None).backbone.frozen_depth is None, kit.fine_tune_config(cfg).backbone.frozen_depth
    (True, 0)
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
import pandas as pd

from lepton_widgets.config import ConfigError, DataConfig, RunConfig
from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data.table import PreparedData, SampleTable
from lepton_widgets.core.tasks.autokit import RANK_COLUMNS, AutoFeatures, AutoKit, Candidate, Recipe
from lepton_widgets.core.tasks.image.ranking import logme, probe_accuracy, subsample
from lepton_widgets.core.tasks.text.data import TextData, text_hash
from lepton_widgets.core.tasks.text.encoder import NUM_LAYERS, TEXT_BACKBONE, text_encoder_name
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE

#: Texts per class scored when ranking (train, val): MiniLM reads about 10-15 texts a second on two busy
#: cores, so 60 per class of two classes is about 10 s.
TRAIN_PER_CLASS, VAL_PER_CLASS = 40, 20
#: Characters of a text shown as its ``ref`` (the doctor's list of likely mislabelled texts).
REF_CHARS = 120

#: Per encoder: backbone settings and the head, head-only and fine-tune training that learn on a CPU.
#: GloVe: ``benchmarks/text_reviews.py``'s recipe (and the README's: 200 words, embedding fine-tuned).
#: MiniLM: the benchmark's too (head at 1e-2 on cached embeddings, top two layers at 1e-2 x 0.02).
RECIPES = {
    GLOVE_BACKBONE: {
        "backbone": {"sequence_length": 200, "frozen_depth": 0},
        "train": {"epochs": 30, "learning_rate": 3e-3, "fine_tune_epochs": 5, "fine_tune_lr_factor": 0.33,
                  "batch_size": 32, "early_stopping_patience": 5},
        "fine_tune_depth": 0,
        "label": "GloVe word vectors",
        "about": "the mean of pretrained word vectors (GloVe, 400,000 English words) and a small network on "
                 "top: trains in seconds",
    },
    TEXT_BACKBONE: {
        "backbone": {"sequence_length": 128, "frozen_depth": 4},
        "train": {"epochs": 20, "learning_rate": 1e-2, "fine_tune_epochs": 3, "fine_tune_lr_factor": 0.02,
                  "batch_size": 32, "early_stopping_patience": 4},
        "fine_tune_depth": NUM_LAYERS - 2,
        "label": "MiniLM sentence encoder",
        "about": "a pretrained language model (all-MiniLM-L6-v2, 22.7 million numbers) that reads whole "
                 "sentences: more accurate, minutes to train on a laptop",
    },
}
#: Head-only training: more epochs than the two-phase recipe (only the small head learns; early stopping ends it).
HEAD_EPOCHS, HEAD_PATIENCE = 40, 6
#: A search trial's head epochs (cached features: a fraction of a second each).
SEARCH_EPOCHS = 20


def _encoder_cfg(cfg: RunConfig, encoder: str) -> RunConfig:
    """``cfg`` on ``encoder`` with that encoder's recipe (data, seed and name kept)."""
    recipe = RECIPES[encoder]
    changes = {"backbone__name": encoder, "backbone__weights": "offline"}
    changes.update({f"backbone__{k}": v for k, v in recipe["backbone"].items()})
    changes.update({f"train__{k}": v for k, v in recipe["train"].items()})
    return cfg.replace(**changes)


def _frozen(cfg: RunConfig) -> RunConfig:
    """``cfg`` with its encoder frozen, no augmentation and pretrained weights: what a frozen-feature pass
    computes (a ``run:`` source keeps its own weights only in a real run; features read the pretrained ones)."""
    weights = cfg.backbone.weights if cfg.backbone.weights == "none" else "offline"
    return cfg.replace(backbone__weights=weights, backbone__frozen_depth=None, augment__word_dropout=0.0,
                       augment__word_swap=0.0, augment__word_substitute=0.0)


def short_text(text: str, limit: int = REF_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis.

    >>> short_text("Great   tea,\\n fresh and cheap.", 16)
    'Great tea, fres…'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


class TextAutoKit(AutoKit):
    """The text task's :class:`~lepton_widgets.core.tasks.autokit.AutoKit` (see the module docstring).

    ``selection_metric`` is ``accuracy`` whatever the number of classes (:meth:`selection_metric_for`)."""

    selection_metric = "accuracy"

    def __init__(self, task) -> None:
        super().__init__(task)
        self._data: Optional[TextData] = None  # the TextData behind the last PreparedData prepare() returned

    def selection_metric_for(self, class_names: list[str]) -> str:
        return "accuracy"

    # --- recipe and data ----------------------------------------------------------------------------------------
    def base_config(self, data_cfg: DataConfig, seed: int, goal: str) -> RunConfig:
        """GloVe with the recipe of :data:`RECIPES` for every goal (MiniLM is a :meth:`candidates` entry)."""
        cfg = RunConfig(name=f"auto-{data_cfg.dataset}", seed=seed, data=data_cfg)
        return _encoder_cfg(cfg, GLOVE_BACKBONE)

    def prepare(self, cfg: RunConfig, job: Optional[Job] = None) -> PreparedData:
        """The ``PreparedData`` of ``cfg``'s texts; the texts stay with the kit for :meth:`rank` and :meth:`features`."""
        self._data = self.task.prepare(cfg.data, cfg.seed, job=job)
        return self._data.prepared

    def text_data(self, cfg: RunConfig, prepared: PreparedData, job: Optional[Job] = None) -> TextData:
        """``prepared`` with its texts: the kit's own when :meth:`prepare` returned it, else read again
        with ``cfg`` and checked row by row (``ConfigError`` when ``cfg`` reads other texts)."""
        if self._data is not None and self._data.prepared is prepared:
            return self._data
        texts = self.task.prepare(cfg.data, cfg.seed, job=job).texts
        frame = prepared.table.frame
        index = frame["array_index"].to_numpy()
        if len(index) and (index.max() >= len(texts)
                           or any(text_hash(texts[i]) != h for i, h in zip(index, frame["sha256"]))):
            raise ConfigError(f"the prepared rows do not come from {cfg.data.dataset!r} as the config reads it "
                              f"(data or seed changed): prepare them again with the kit")
        return TextData(prepared=prepared, texts=texts)

    # --- candidates and ranking ---------------------------------------------------------------------------------
    def candidates(self, cfg: RunConfig, goal: str) -> list[Candidate]:
        """GloVe, then MiniLM (not for goal ``fast`` or ``small``: it is 10-20 times larger and slower)."""
        encoders = [GLOVE_BACKBONE] + ([] if goal in ("fast", "small") else [TEXT_BACKBONE])
        return [Candidate(config=_encoder_cfg(cfg, e), label=RECIPES[e]["label"], about=RECIPES[e]["about"])
                for e in encoders]

    def rank(self, cfg: RunConfig, candidates: list[Candidate], prepared: PreparedData,
             job: Optional[Job] = None) -> pd.DataFrame:
        """Probe accuracy (the ``score``) and LogME of each encoder's frozen embeddings of a seeded subset of
        :data:`TRAIN_PER_CLASS` train and :data:`VAL_PER_CLASS` val texts per class; best first, encoders that
        cannot load here (MiniLM's package missing) last with the reason."""
        job = Job.of(job)
        data = self.text_data(cfg, prepared, job)
        tables = {"train": subsample(prepared.split("train"), TRAIN_PER_CLASS, cfg.seed),
                  "val": subsample(prepared.split("val"), VAL_PER_CLASS, cfg.seed + 1)}
        small = TextData(prepared=PreparedData(
            table=SampleTable(pd.concat([t.frame for t in tables.values()], ignore_index=True),
                              prepared.class_names, None, prepared.table.modality, prepared.table.source),
            report=prepared.report), texts=data.texts)
        labels = {name: table.label_indices() for name, table in tables.items()}
        rows = []
        job.emit(Progress(task="rank text encoders", done=0, total=len(candidates)))
        for index, candidate in enumerate(candidates):
            job.check_stop()
            start = time.perf_counter()
            row = {"label": candidate.label, "score": np.nan, "probe_accuracy": np.nan, "logme": np.nan,
                   "seconds": np.nan, "status": "ok", "reason": "", "index": index}
            try:
                features = _pooled(_frozen(candidate.config), small, job)
                row["probe_accuracy"] = probe_accuracy(features["train"], labels["train"], features["val"],
                                                       labels["val"], seed=cfg.seed)
                row["logme"] = logme(features["train"], labels["train"])
                row["score"] = row["probe_accuracy"]
            except ConfigError as error:  # EncoderUnavailable, GloveUnavailable: the install line, in words
                row.update(status="unavailable", reason=str(error))
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            job.emit(Progress(task="rank text encoders", done=index + 1, total=len(candidates)))
        frame = pd.DataFrame(rows, columns=RANK_COLUMNS)
        frame["_ok"] = frame["status"] == "ok"
        frame = frame.sort_values(["_ok", "score", "logme", "index"], ascending=[False, False, False, True],
                                  na_position="last", kind="mergesort")
        return frame.drop(columns="_ok").reset_index(drop=True)

    # --- frozen features for the doctor -------------------------------------------------------------------------
    def features(self, cfg: RunConfig, prepared: PreparedData, job: Optional[Job] = None) -> AutoFeatures:
        """Pooled frozen embeddings of every train and val text through ``cfg``'s encoder (never the test texts)."""
        data = self.text_data(cfg, prepared, job)
        pooled = _pooled(_frozen(cfg), data, Job.of(job))
        parts = {name: data.split(name) for name in ("train", "val")}
        frames = [parts[name][0].frame for name in ("train", "val")]
        return AutoFeatures(
            x=np.concatenate([pooled["train"], pooled["val"]]).astype(np.float32),
            y=np.concatenate([parts[name][0].label_indices() for name in ("train", "val")]),
            ids=[str(h) for f in frames for h in f["sha256"]],
            refs=[short_text(t) for name in ("train", "val") for t in parts[name][1]],
            split=np.array(["train"] * len(frames[0]) + ["val"] * len(frames[1])),
            class_names=list(prepared.class_names),
            source=f"{RECIPES.get(text_encoder_name(cfg.backbone.name), {}).get('label', cfg.backbone.name)}: "
                   f"pooled frozen embeddings")

    # --- the stages' configs ------------------------------------------------------------------------------------
    def head_config(self, cfg: RunConfig, recipe: Optional[Recipe]) -> RunConfig:
        """``cfg`` with the encoder frozen (only the head trains: GloVe's small MLP, MiniLM's classifier on
        cached embeddings), :data:`HEAD_EPOCHS` epochs with early stopping after :data:`HEAD_PATIENCE`."""
        return cfg.replace(backbone__frozen_depth=None, train__epochs=max(cfg.train.epochs, HEAD_EPOCHS),
                           train__early_stopping_patience=max(cfg.train.early_stopping_patience, HEAD_PATIENCE))

    def search_config(self, cfg: RunConfig, trials: int) -> Optional[RunConfig]:
        """``cfg``'s head searched on cached features (encoder frozen, no augmentation: the search's fast path)
        over learning rate, dropout, L2 and batch size, plus the head's width for GloVe; ``trials`` trials of
        :data:`SEARCH_EPOCHS` epochs, random search, judged by validation accuracy."""
        base = self.head_config(cfg, None).replace(augment__word_dropout=0.0, augment__word_swap=0.0,
                                                   augment__word_substitute=0.0)
        tuner = {"algorithm": "random", "max_trials": int(trials), "objective": "val_accuracy",
                 "epochs": SEARCH_EPOCHS, "learning_rate": [1e-3, 3e-2], "dropout": [0.0, 0.5],
                 "l2": [1e-6, 1e-2], "batch_size": [16, 32, 64]}
        if text_encoder_name(cfg.backbone.name) == GLOVE_BACKBONE:
            tuner["head_units"] = [32, 64, 128, 256]
        return RunConfig.from_dict({**base.to_dict(), "tuner": tuner})

    def fine_tune_config(self, cfg: RunConfig) -> Optional[RunConfig]:
        """``cfg`` with GloVe's embedding (``frozen_depth`` 0) or MiniLM's top two transformer layers (4)
        trained after the head, at the recipe's fine-tune epochs and rate. The encoder's pretrained start
        (or ``cfg``'s ``run:`` source) is kept."""
        encoder = text_encoder_name(cfg.backbone.name)
        recipe = RECIPES[encoder]["train"]
        return cfg.replace(backbone__name=encoder, backbone__frozen_depth=RECIPES[encoder]["fine_tune_depth"],
                           train__fine_tune_epochs=max(cfg.train.fine_tune_epochs, recipe["fine_tune_epochs"]),
                           train__fine_tune_lr_factor=recipe["fine_tune_lr_factor"])


def _pooled(cfg: RunConfig, data: TextData, job: Job) -> dict[str, np.ndarray]:
    """``{"train": ..., "val": ...}`` pooled embeddings of ``data``'s texts through ``cfg``'s frozen encoder,
    by the search's own code (GloVe: the mean word vector the head reads; MiniLM: the mean-pooled last layer)."""
    from lepton_widgets.core.tasks.text.search import TextTrials  # keras and TensorFlow: only when used

    if is_run_weights(cfg.backbone.weights):
        cfg = cfg.replace(backbone__weights="offline")
    trials = TextTrials(cfg, job)
    trials.data = data
    return trials.features(cfg)


__all__ = ["TextAutoKit", "RECIPES", "TRAIN_PER_CLASS", "VAL_PER_CLASS", "short_text"]
