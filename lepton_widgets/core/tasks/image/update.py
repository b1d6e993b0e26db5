"""The picture (and sound) part of an incremental update: what ``core/update/incremental.py`` asks the task.

Old and new pictures may come from different sources (an 8x8 built-in array and a folder of photos):
:func:`mixed_dataset` streams each through the normal pipeline and interleaves them at random, so neither has to
be converted to the other's storage. The run's frozen depth is respected (a pretrained backbone's BatchNorm stays
frozen) through :func:`~lepton_widgets.core.tasks.image.model.attach`.

Example (trains for real; tests/test_update.py runs it through ``update_run``)::

    updater = task_for_run(parent).updater(parent)
    model, facts = updater.trainable(wider_model)
    fit = updater.fit_args([new_train, replayed], [new_val, old_val], seed=0)
    model.fit(epochs=3, **fit)
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from lepton_widgets.core.data import prepare_data
from lepton_widgets.core.data.table import SampleTable
from lepton_widgets.core.frozen_depth import frozen_block_count


def mixed_dataset(tables: Sequence[SampleTable], image_size: int, batch_size: int, seed: int):
    """Batches of every row of ``tables``, shuffled together anew each epoch (a ``tf.data.Dataset``).

    Each table streams through :func:`~lepton_widgets.core.data.make_dataset` (its own storage: arrays or
    files) with its own seeded reshuffle; the streams are interleaved at random in proportion to their
    sizes, so replayed and new images share batches throughout the epoch.
    """
    import tensorflow as tf

    from lepton_widgets.core.data import make_dataset

    tables = [t for t in tables if len(t)]
    if not tables:
        raise ValueError("no training rows: the new data's train split is empty")
    total = sum(len(t) for t in tables)
    streams = [make_dataset(t, image_size, batch_size, shuffle=True, seed=seed + i).unbatch()
               for i, t in enumerate(tables)]
    if len(streams) == 1:
        mixed = streams[0]
    else:
        mixed = tf.data.Dataset.sample_from_datasets(streams, weights=[len(t) / total for t in tables],
                                                     seed=seed, stop_on_empty_dataset=False)
    steps = math.ceil(total / batch_size)
    # Keras reads the epoch length from the cardinality: progress bars and schedules need it.
    mixed = mixed.batch(batch_size).apply(tf.data.experimental.assert_cardinality(steps))
    return mixed.prefetch(tf.data.AUTOTUNE)


def stacked_dataset(tables: Sequence[SampleTable], image_size: int, batch_size: int):
    """Batches of every row of ``tables`` in order, without shuffling (validation, prediction)."""
    from lepton_widgets.core.data import make_dataset

    datasets = [make_dataset(t, image_size, batch_size) for t in tables if len(t)]
    if not datasets:
        raise ValueError("stacked_dataset needs at least one row")
    out = datasets[0]
    for ds in datasets[1:]:
        out = out.concatenate(ds)
    return out


def trainable_count(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


class ImageUpdater:
    """Updating a picture or sound run: its data through ``prepare_data``, its model through ``attach``."""

    def __init__(self, record) -> None:
        self.record, self.cfg = record, record.config
        self.n_blocks = None

    #: What :meth:`user_data` takes, for messages.
    user_data_words = "a folder with one subfolder per class, a .zip of such a folder or a .csv with path,label columns"

    def load_model(self):
        return self.record.load_model()

    def user_data(self, path) -> dict | None:
        """DataConfig fields for the user's own ``path`` (a folder, .zip or .csv of pictures); ``None``: not usable."""
        if path.is_dir():
            return {"dataset": "folder", "path": str(path.resolve())}
        if path.is_file() and path.suffix.lower() in (".zip", ".csv"):
            return {"dataset": path.suffix.lower()[1:], "path": str(path.resolve())}
        return None

    def prepare(self, data_cfg, seed: int, job, *, min_classes: int = 2):
        """``PreparedData`` of ``data_cfg`` (pictures or sounds, as the run read its own)."""
        return prepare_data(data_cfg, seed, job=job,
                            min_classes=min_classes)

    def notes(self) -> list[str]:
        if self.cfg.train.adversarial != "none":
            return [f"the run was trained with {self.cfg.train.adversarial} adversarial examples; the update "
                    "trains on clean images only"]
        return []

    def check_model(self, model) -> None:
        """The model must be a transfer model built here (backbone, head dropout, classifier)."""
        from lepton_widgets.core.tasks.image.model import BACKBONE_LAYER, CLASSIFIER_LAYER, DROPOUT_LAYER

        names = {layer.name for layer in model.layers}
        missing = [name for name in (BACKBONE_LAYER, DROPOUT_LAYER, CLASSIFIER_LAYER) if name not in names]
        if missing:
            raise ValueError(f"run {self.record.run_id}'s model has no {', '.join(missing)} layer, so its classifier "
                             "cannot be widened (a fused or exported model?); update one of the runs it came from")

    def trainable(self, model):
        """``(model, facts)``: the run's frozen depth applied; facts for ``phases.json``."""
        from lepton_widgets.core.tasks.image.model import attach

        tm = attach(model, self.cfg)
        self.n_blocks = tm.n_blocks
        return tm.model, {"frozen_depth": tm.frozen_depth, "trainable_params": tm.trainable_params()}

    def defaults(self) -> tuple[int, float]:
        """As many epochs as the parent planned (head plus fine-tuning), at its head learning rate times its
        fine-tune factor when some backbone block trains (call after :meth:`trainable`)."""
        from lepton_widgets.core.tasks.image.training import planned_phases

        cfg = self.cfg
        epochs = sum(epochs for _phase, epochs in planned_phases(cfg, self.n_blocks))
        depth = frozen_block_count(cfg.backbone.frozen_depth, self.n_blocks)
        return epochs, cfg.train.learning_rate * (cfg.train.fine_tune_lr_factor if depth < self.n_blocks else 1.0)

    def fit_args(self, train: Sequence[SampleTable], val: Sequence[SampleTable], seed: int) -> dict:
        """``model.fit`` arguments: new and replayed rows shuffled together, validation in order."""
        size, batch = self.cfg.backbone.image_size, self.cfg.train.batch_size
        return {"x": mixed_dataset(train, size, batch, seed), "validation_data": stacked_dataset(val, size, batch),
                "shuffle": False}

    def predict(self, model, table: SampleTable, job, task: str) -> np.ndarray:
        from lepton_widgets.core.evaluation import predict_table

        return predict_table(model, table, self.cfg.backbone.image_size, job=job, task=task)

    def write_files(self, writer, classes: list[str]) -> None:
        """A picture run's folder needs nothing beyond the shared files."""
