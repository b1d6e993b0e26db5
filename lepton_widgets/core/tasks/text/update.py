"""The text part of an incremental update: new texts read and tokenised the run's way, its model widened.

``core/update/incremental.py`` drives the update (replay, the forgetting meter, the stored version); this
says what differs for texts. The texts ride in the update's tables as ``SampleTable.arrays`` (row ``i`` of a
table is ``arrays[array_index[i]]``), so the shared replay sampling and relabelling carry them along.

* A GloVe run's model reads the strings (its vocabulary is a layer); a MiniLM run's texts go through its
  stored tokeniser, cut to its sequence length (``predict.load_text_run``).
* Frozen depth: a GloVe embedding trains only when the run's ``frozen_depth`` is 0, as in its fine-tune phase;
  a MiniLM update trains the head (dropout + classifier) and keeps the encoder as the run left it.
* The version keeps the run's ``text.json`` (and MiniLM's tokeniser), so ``predict_texts`` works on it.

Example (trains for real; tests/test_update_text_table.py runs it through ``update_run``)::

    updater = task_for_run(parent).updater(parent)
    data = updater.prepare(DataConfig(dataset="text_csv", path="more.csv"), seed=0, job=Job(), min_classes=1)
"""

from __future__ import annotations

import shutil
from typing import Sequence

import numpy as np

from lepton_widgets.core.data.table import SampleTable
from lepton_widgets.core.tasks.text.encoder import tokenize
from lepton_widgets.core.tasks.text.glove_model import EMBEDDING
from lepton_widgets.core.tasks.text.model import CLASSIFIER, frozen_layers
from lepton_widgets.core.tasks.text.phases import PREDICT_BATCH, encoder_blocks, planned_phases
from lepton_widgets.core.tasks.text.predict import TEXT_FILE, load_text_run
from lepton_widgets.core.tasks.text.run import TOKENIZER_DIR


def texts_of(table: SampleTable) -> list[str]:
    """The texts of ``table``'s rows, in order (``arrays`` holds its source's texts)."""
    return [str(table.arrays[i]) for i in table.frame["array_index"]]


class TextUpdater:
    """Updating a text run (GloVe or MiniLM) with new texts, new classes included."""

    #: What :meth:`user_data` takes, for messages.
    user_data_words = "a folder with one subfolder of .txt files per class or a .csv with text and label columns"

    def __init__(self, record) -> None:
        self.record, self.cfg = record, record.config
        self._loaded = None  # (model, tokenizer, sequence length), read when first needed
        self.trains_embedding = False

    @property
    def loaded(self) -> tuple:
        if self._loaded is None:
            self._loaded = load_text_run(self.record)
        return self._loaded

    @property
    def tokenizer(self):
        return self.loaded[1]

    def load_model(self):
        """A fresh copy of the run's model each time: an update trains the layers it shares with its
        widened model, and a second update (with and without replay) must start from the run itself."""
        self.loaded  # noqa: B018 - the tokeniser first (it also registers MiniLM's layers for loading)
        return self.record.load_model()

    def user_data(self, path) -> dict | None:
        """DataConfig fields for the user's own ``path``: a folder of class folders or a CSV (its label column
        named as in the run's data)."""
        if path.is_dir():
            return {"dataset": "text_folder", "path": str(path.resolve())}
        if path.is_file() and path.suffix.lower() == ".csv":
            return {"dataset": "text_csv", "path": str(path.resolve()), "target": self.cfg.data.target}
        return None

    def prepare(self, data_cfg, seed: int, job, *, min_classes: int = 2):
        """``PreparedData`` of a text dataset whose table carries its texts (``arrays``)."""
        from lepton_widgets.core.tasks.text.data import prepare_texts

        data = prepare_texts(data_cfg, seed, job=job,
                             min_classes=min_classes)
        data.prepared.table.arrays = np.asarray(data.texts, dtype=object)
        return data.prepared

    def notes(self) -> list[str]:
        if self.tokenizer is not None:
            return ["the update trains the classifier head; the MiniLM encoder stays as the run left it"]
        return []

    def check_model(self, model) -> None:
        if CLASSIFIER not in {layer.name for layer in model.layers}:
            raise ValueError(f"run {self.record.run_id}'s model has no {CLASSIFIER} layer, so it cannot learn "
                             "new classes; update the run it came from")

    def trainable(self, model):
        """GloVe: the embedding trains only when frozen depth is 0. MiniLM: only the head trains."""
        if self.tokenizer is None:
            self.trains_embedding = frozen_layers(self.cfg.backbone.frozen_depth, encoder_blocks(self.cfg)) == 0
            for layer in model.layers:
                layer.trainable = layer.name != EMBEDDING or self.trains_embedding
        else:
            for layer in model.layers:
                layer.trainable = layer.name == CLASSIFIER
        depth = 0 if self.trains_embedding else encoder_blocks(self.cfg)
        return model, {"frozen_depth": depth,
                       "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights))}

    def defaults(self) -> tuple[int, float]:
        """As many epochs as the run's phases planned, at its learning rate (times its fine-tune factor when
        the embedding trains)."""
        train = self.cfg.train
        epochs = sum(epochs for _phase, epochs, _lr in planned_phases(self.cfg))
        return epochs, train.learning_rate * (train.fine_tune_lr_factor if self.trains_embedding else 1.0)

    def inputs(self, texts: list[str]):
        """The model's inputs for ``texts``: the strings (GloVe) or the run's tokens (MiniLM)."""
        if self.tokenizer is None:
            import tensorflow as tf

            return tf.constant(texts, dtype=tf.string)
        return tokenize(self.tokenizer, texts, self.loaded[2])[0]

    def _xy(self, tables: Sequence[SampleTable]):
        tables = [t for t in tables if len(t)]
        texts = [text for t in tables for text in texts_of(t)]
        labels = np.concatenate([t.label_indices() for t in tables]).astype("int32")
        return self.inputs(texts), labels

    def fit_args(self, train: Sequence[SampleTable], val: Sequence[SampleTable], seed: int) -> dict:
        """``model.fit`` arguments: new and replayed texts together, shuffled each epoch."""
        x, y = self._xy(train)
        return {"x": x, "y": y, "validation_data": self._xy(val), "batch_size": self.cfg.train.batch_size,
                "shuffle": True}

    def predict(self, model, table: SampleTable, job, task: str) -> np.ndarray:
        job.check_stop()
        if not len(table):
            return np.zeros((0, model.output_shape[-1]), np.float32)
        return np.asarray(model.predict(self.inputs(texts_of(table)), batch_size=PREDICT_BATCH, verbose=0))

    def write_files(self, writer, classes: list[str]) -> None:
        """``text.json`` (and MiniLM's tokeniser) as the run had them, so the version predicts texts."""
        import json

        info = json.loads((self.record.path / TEXT_FILE).read_text(encoding="utf-8"))
        writer.extra.update(modality="text", encoder=info.get("encoder"))
        writer.write_json(TEXT_FILE, {**info, "updated_from": self.record.run_id})
        if (self.record.path / TOKENIZER_DIR).is_dir():
            shutil.copytree(self.record.path / TOKENIZER_DIR, writer.path / TOKENIZER_DIR)
