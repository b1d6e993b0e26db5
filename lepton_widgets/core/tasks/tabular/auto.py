"""Tables' answers to Lepton Auto (``TabularTask.auto_kit()``): the MLP, judged by ROC AUC for two classes.

A table has no pretrained backbone: Auto's "model families" are MLP shapes, and its "frozen features" are
the columns as the model's own preprocessing sees them.

* **Recipe defaults** (:meth:`TabularAutoKit.base_config`): the MLP of ``benchmarks/tabular_credit.py``
  (two hidden layers of 64 and 32, 40 epochs at 3e-3, early stopping after 5): it learns on German Credit,
  breast cancer and a ``table_csv`` alike.
* **Candidates**: that MLP; for goal ``accuracy`` also a deeper, wider one (three layers from 128). Both read
  the same columns, so :meth:`~TabularAutoKit.rank` gives them the same probe score: the search and the
  validation score decide between them.
* **Features** (:meth:`~TabularAutoKit.features`, :func:`encoded_columns`): one-hot categories and
  standardised numbers (missing numbers: the train mean plus a "was missing" column, as the model does),
  fitted on the train rows, with scikit-learn's ``ColumnTransformer``.
* **Ranking**: a logistic regression (scikit-learn) on those columns, fitted on train, scored on val: its
  ROC AUC (two classes) or accuracy is the ``score``, its accuracy ``probe_accuracy``.
* **Stages**: the head is the whole MLP (:meth:`~TabularAutoKit.head_config` returns the config as it is),
  the search varies depth, width, dropout, L2 and learning rate on the encoded columns (the table search's
  fast path), and there is nothing pretrained to fine-tune (:meth:`~TabularAutoKit.fine_tune_config` is
  ``None``, except for a config that starts from another table run's weights).

**Selection metric.** Credit scoring is judged by ROC AUC, so a two-class table is compared by ``roc_auc``
(a table run's history has ``val_roc_auc``) and a table of more classes by ``accuracy``. The kit cannot know
the classes before it sees the data: :meth:`~TabularAutoKit.selection_metric_for` answers for a class list,
and :meth:`~TabularAutoKit.prepare` sets ``selection_metric`` for the data it prepared.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.tasks import task_named
    >>> kit = task_named("tabular").auto_kit()
    >>> cfg = kit.base_config(DataConfig(dataset="german_credit"), seed=0, goal="accuracy")
    >>> cfg.train.hidden_layers, cfg.train.epochs, [c.label for c in kit.candidates(cfg, "fast")]
    (2, 40, ['MLP, 2 layers (64, 32)'])
    >>> kit.selection_metric_for(["bad", "good"]), kit.selection_metric_for(["a", "b", "c"])
    ('roc_auc', 'accuracy')
    >>> kit.fine_tune_config(cfg) is None
    True
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
from lepton_widgets.core.data.table import PreparedData
from lepton_widgets.core.tasks.autokit import (FEW_PER_CLASS, RANK_COLUMNS, AutoFeatures, AutoKit, Candidate,
                                               Recipe)
from lepton_widgets.core.tasks.tabular.data import TabularData
from lepton_widgets.core.tasks.tabular.model import hidden_widths
from lepton_widgets.core.tasks.tabular.schema import TableSchema, category_strings, numeric_values
from lepton_widgets.i18n import _

#: The MLP recipe that learns on German Credit and breast cancer (``benchmarks/tabular_credit.py``).
TRAIN = {"epochs": 40, "learning_rate": 3e-3, "early_stopping_patience": 5, "batch_size": 32, "dropout": 0.2,
         "head_units": 64, "hidden_layers": 2}
#: The second candidate for goal ``accuracy``: deeper and wider.
WIDE = {"head_units": 128, "hidden_layers": 3}
#: Characters of a row's ``col=value`` summary (its ``ref`` in the doctor's list).
REF_CHARS = 120


def selection_metric_for(class_names: list[str]) -> str:
    """``roc_auc`` for two classes (how credit scoring is judged), else ``accuracy``."""
    return "roc_auc" if len(class_names) == 2 else "accuracy"


def _mlp_label(cfg: RunConfig) -> str:
    widths = hidden_widths(cfg.train.head_units, cfg.train.hidden_layers)
    return f"MLP, {len(widths)} layer{'s' if len(widths) > 1 else ''} ({', '.join(map(str, widths))})"


def column_transformer(schema: TableSchema):
    """scikit-learn's version of the model's preprocessing for ``schema``: one-hot categories (unseen values
    ignored), numbers imputed with the train mean (plus a missing indicator where the model has one) and
    standardised. Takes the frame :func:`model_frame` makes."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if schema.categorical:
        parts.append(("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False), schema.categorical))
    if schema.numeric:
        parts.append(("numbers", make_pipeline(SimpleImputer(add_indicator=True, keep_empty_features=True),
                                               StandardScaler()), schema.numeric))
    return ColumnTransformer(parts)


def model_frame(schema: TableSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s feature columns as the model reads them: categories as strings, numbers as floats."""
    return pd.DataFrame({column: (numeric_values(frame[column]) if column in schema.numeric
                                  else category_strings(frame[column]).to_numpy(dtype=str))
                         for column in schema.columns})


def encoded_columns(data: TabularData, splits=("train", "val")) -> dict[str, np.ndarray]:
    """``{split: encoded rows}`` (float32) of ``splits``, the encoding fitted on the train rows only."""
    transformer = column_transformer(data.schema)
    transformer.fit(model_frame(data.schema, data.split("train")[1]))
    return {name: np.asarray(transformer.transform(model_frame(data.schema, data.split(name)[1])), np.float32)
            for name in splits}


def row_summary(row: pd.Series, limit: int = REF_CHARS) -> str:
    """``col=value, ...`` of one row, cut to ``limit`` characters.

    >>> row_summary(pd.Series({"age": 35, "job": "skilled", "amount": 1200.5}), 30)
    'age=35, job=skilled, amount=1…'
    """
    text = ", ".join(f"{column}={'' if pd.isna(value) else value}" for column, value in row.items())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class TabularAutoKit(AutoKit):
    """The table task's :class:`~lepton_widgets.core.tasks.autokit.AutoKit` (see the module docstring)."""

    selection_metric = "accuracy"  # set by prepare() for the data it prepares (selection_metric_for)

    def __init__(self, task) -> None:
        super().__init__(task)
        self._data: Optional[TabularData] = None  # the TabularData behind the last PreparedData prepare() returned
        self._prepared_for: Optional[DataConfig] = None  # ... and the data config it was read with

    @staticmethod
    def selection_metric_for(class_names: list[str]) -> str:
        return selection_metric_for(class_names)

    # --- recipe and data ----------------------------------------------------------------------------------------
    def recipe(self, train_counts: dict[str, int]) -> Recipe:
        """A table's network has no pretrained part: the recipe only says whether there are rows to spare."""
        smallest = min(train_counts.values()) if train_counts else 0
        if smallest < FEW_PER_CLASS:
            return Recipe("few", smallest, _("the smallest class has {smallest} rows to learn from (under {few}): "
                                             "one small network on all the columns, with no search that would "
                                             "choose settings on a handful of rows").format(
                smallest=smallest, few=FEW_PER_CLASS))
        return Recipe("enough", smallest, _("every class has at least {smallest} rows to learn from: a small "
                                            "network on all the columns, then a search of its shape and training "
                                            "settings").format(smallest=smallest))

    def base_config(self, data_cfg: DataConfig, seed: int, goal: str) -> RunConfig:
        """The MLP of :data:`TRAIN` for every goal (a table model is small and fast whatever the goal)."""
        return RunConfig.from_dict({"name": f"auto-{data_cfg.dataset}", "seed": seed,
                                    "data": RunConfig(data=data_cfg).to_dict()["data"],
                                    "backbone": {"name": "mlp", "weights": "none"}, "train": TRAIN})

    def prepare(self, cfg: RunConfig, job: Optional[Job] = None) -> PreparedData:
        """The ``PreparedData`` of ``cfg``'s table; sets :attr:`selection_metric` for its classes."""
        self._data, self._prepared_for = self.task.prepare(cfg.data, cfg.seed, job=job), cfg.data
        self.selection_metric = selection_metric_for(self._data.class_names)
        return self._data.prepared

    def table_data(self, cfg: RunConfig, prepared: PreparedData, job: Optional[Job] = None) -> TabularData:
        """``prepared`` with its columns and schema: the kit's own when :meth:`prepare` returned it, else the
        table read again with ``cfg`` (the same data and seed give the same rows), on ``prepared``'s rows
        (``ConfigError`` when ``cfg`` reads other rows)."""
        if self._data is not None and self._data.prepared is prepared:
            return self._data
        data = self.task.prepare(cfg.data, cfg.seed, job=job)
        if not set(prepared.table.frame["sha256"]) <= set(data.prepared.table.frame["sha256"]):
            raise ConfigError(f"the prepared rows do not come from {cfg.data.dataset!r} as the config reads it "
                              f"(data or seed changed): prepare them again with the kit")
        return TabularData(prepared=prepared, features=data.features, schema=data.schema)

    # --- candidates and ranking ---------------------------------------------------------------------------------
    def candidates(self, cfg: RunConfig, goal: str) -> list[Candidate]:
        """The MLP of ``cfg``; for goal ``accuracy`` also a deeper, wider one (:data:`WIDE`)."""
        out = [Candidate(cfg, _mlp_label(cfg), "a small neural network trained from scratch on your columns")]
        if goal == "accuracy":
            wide = cfg.replace(**{f"train__{k}": v for k, v in WIDE.items()})
            out.append(Candidate(wide, _mlp_label(wide), "a deeper, wider network: it may find more patterns, "
                                                         "or learn the training rows by heart"))
        return out

    def rank(self, cfg: RunConfig, candidates: list[Candidate], prepared: PreparedData,
             job: Optional[Job] = None) -> pd.DataFrame:
        """A logistic regression on the encoded columns (fitted on train, judged on val) for every candidate:
        they all read the same columns, so they share its score (ROC AUC for two classes, else accuracy);
        rows in the candidates' order, which is best first among equals."""
        from lepton_widgets.core.tasks.image.ranking import logme
        from lepton_widgets.core.tasks.tabular.run import roc_auc

        job = Job.of(job)
        start = time.perf_counter()
        data = self.table_data(cfg, prepared, job)
        encoded = encoded_columns(data)
        labels = {name: data.split(name)[0].label_indices() for name in ("train", "val")}
        probe = _probe(encoded["train"], labels["train"], cfg.seed)
        probs = probe.predict_proba(encoded["val"])
        accuracy = float((probs.argmax(1) == labels["val"]).mean())
        auc = roc_auc(labels["val"], probs, prepared.num_classes)
        metric = selection_metric_for(prepared.class_names)
        score = auc if metric == "roc_auc" and auc is not None else accuracy
        evidence = logme(encoded["train"], labels["train"])
        seconds = time.perf_counter() - start
        job.emit(Progress(task="rank table models", done=len(candidates), total=len(candidates)))
        return pd.DataFrame([{"label": c.label, "score": score, "probe_accuracy": accuracy, "logme": evidence,
                              "seconds": seconds, "status": "ok", "reason": "", "index": i}
                             for i, c in enumerate(candidates)], columns=RANK_COLUMNS)

    # --- frozen features for the doctor -------------------------------------------------------------------------
    def features(self, cfg: RunConfig, prepared: PreparedData, job: Optional[Job] = None) -> AutoFeatures:
        """The encoded columns of every train and val row (never the test rows), with a ``col=value``
        summary of each row as its ``ref``."""
        data = self.table_data(cfg, prepared, job)
        encoded = encoded_columns(data)
        parts = {name: data.split(name) for name in ("train", "val")}
        refs = [f"{ref}: {row_summary(row)}" for name in ("train", "val")
                for ref, (_index, row) in zip(parts[name][0].frame["ref"], parts[name][1].iterrows())]
        return AutoFeatures(
            x=np.concatenate([encoded["train"], encoded["val"]]),
            y=np.concatenate([parts[name][0].label_indices() for name in ("train", "val")]),
            ids=[str(h) for name in ("train", "val") for h in parts[name][0].frame["sha256"]],
            refs=[r if len(r) <= REF_CHARS else r[:REF_CHARS - 1] + "…" for r in refs],
            split=np.array(["train"] * len(parts["train"][1]) + ["val"] * len(parts["val"][1])),
            class_names=list(prepared.class_names),
            source="the table's columns (one-hot categories, standardised numbers)")

    # --- the stages' configs ------------------------------------------------------------------------------------
    def head_config(self, cfg: RunConfig, recipe: Optional[Recipe]) -> RunConfig:
        """``cfg`` itself: a table's MLP trains whole, there is no frozen part."""
        return cfg

    def search_config(self, cfg: RunConfig, trials: int) -> Optional[RunConfig]:
        """``cfg`` with ``trials`` random-search trials over depth (1-3 layers), width (16-128), dropout, L2 and
        learning rate, each of ``cfg``'s epochs, on the encoded columns (the table search's fast path).
        Two classes are searched by validation loss (the search has no AUC; log loss, like AUC, rewards
        well-ordered probabilities), more by validation accuracy. A config seeded from another table run
        keeps that run's layers: only dropout, L2 and learning rate are searched."""
        tuner = {"algorithm": "random", "max_trials": int(trials), "epochs": cfg.train.epochs,
                 "objective": "val_loss" if selection_metric_for(self._class_names(cfg)) == "roc_auc"
                 else "val_accuracy",
                 "dropout": [0.0, 0.5], "l2": [1e-6, 1e-2], "learning_rate": [3e-4, 1e-2]}
        if not is_run_weights(cfg.backbone.weights):
            tuner.update(hidden_layers=[1, 2, 3], head_units=[16, 32, 64, 128])
        return RunConfig.from_dict({**cfg.to_dict(), "tuner": tuner})

    def fine_tune_config(self, cfg: RunConfig) -> Optional[RunConfig]:
        """``None``: nothing pretrained to unfreeze. A config that starts from another table run's weights
        gets a second, gentler pass (its learning rate times ``fine_tune_lr_factor``)."""
        if not is_run_weights(cfg.backbone.weights):
            return None
        return cfg.replace(train__learning_rate=cfg.train.learning_rate * cfg.train.fine_tune_lr_factor)

    def _class_names(self, cfg: RunConfig) -> list[str]:
        """The classes of ``cfg``'s data: those of the data :meth:`prepare` read for the same data config,
        else read now (a table reads in well under a second)."""
        if self._data is not None and self._prepared_for == cfg.data:
            return self._data.class_names
        return self.task.prepare(cfg.data, cfg.seed).class_names


def _probe(x: np.ndarray, y: np.ndarray, seed: int):
    """The ranking's probe: an L2-regularised logistic regression (the columns are already standardised)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, C=0.5, random_state=seed).fit(x, y)


__all__ = ["TabularAutoKit", "TRAIN", "column_transformer", "encoded_columns", "model_frame", "row_summary",
           "selection_metric_for"]
