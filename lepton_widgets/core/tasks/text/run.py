"""One text run end to end: texts -> encoder (MiniLM or GloVe) + head -> two-phase training -> evaluation
-> run store.

``run_experiment`` sends configs whose dataset is a text dataset here, so ``lepton train``,
:func:`lepton_widgets.train` and the workbench's Train button all train texts the same way. The run is
stored like an image run (``config.json``, ``data_report.*``, ``split.json``, ``env.json``, events and
``history.jsonl``, ``phases.json``, ``evaluation.json``/``predictions.csv``/``metrics.json``,
``model.keras``) plus ``text.json`` (encoder, sequence length, tokeniser settings, frozen depth, the frozen
probe's test accuracy, notes) and, for MiniLM, ``tokenizer/vocabulary.txt`` (so :func:`predict_texts`
needs nothing but the run folder; a GloVe model holds its vocabulary itself); ``run.json`` says
``"modality": "text"``.

What the config means for text, as for images:

* ``backbone.name``: ``all_minilm_l6_v2`` (default) or ``glove_6b_50d`` (``glove_model.py``: GloVe word
  vectors, mean, MLP head; seconds to train where MiniLM takes minutes); ``backbone.sequence_length``:
  word pieces (MiniLM) or words (GloVe) per text;
* phase ``head`` (``train.epochs`` at ``learning_rate``): the classifier on the frozen encoder;
* phase ``fine_tune`` (``train.fine_tune_epochs`` at ``learning_rate * fine_tune_lr_factor``), only when
  ``backbone.frozen_depth`` leaves a block unfrozen. MiniLM's blocks are its transformer layers
  (``None``/6: none; 4: the top two; 0: everything, embeddings included); GloVe's one block is its
  embedding (0: fine-tuned; ``None``/1: frozen);
* ``batch_size``, ``dropout``, ``l2``, ``lr_schedule``, ``early_stopping_patience`` as for images;
  ``augment.word_dropout``/``word_swap``/``word_substitute`` augment the training texts (``augment.py``;
  substitution draws from the GloVe neighbours of the training words, for either encoder);
* ``backbone.weights``: ``offline`` (pretrained), ``none`` (same network, random weights) or
  ``run:<a finished text run>`` (its encoder, fine-tuned weights and all: ``transfer.py``).

Speed on CPUs (MiniLM): each split is tokenised once and the word pieces are cached on disk
(``token_cache.py``). Frozen layers never change, so without augmentation they run once per text, in
inference mode, in batches of similar length each padded to its longest text (``buckets.py``): the head
phase trains on the pooled embeddings and the fine-tune phase on the hidden states at the frozen boundary,
kept with their attention mask (the real tokens' count) and cached on disk keyed by the weights, depth and
tokens (``boundary.py``; float16 for train and val, float32 for test so the stored predictions equal the
saved model's). Training batches are random, each padded to its longest text (length-bucketed batches,
``tf.data``'s ``bucket_by_sequence_length``, are available but fine-tuned worse in our measurement). With
augmentation each training batch is augmented, tokenised and sent through the frozen layers afresh, every
epoch (slower, as it must be; the event log says so). The saved full model computes the same function.
A hidden-state cache holds about ``tokens * 384`` float16 per text (about 55 kB at 70 word pieces,
270 MB for 5,000 reviews); the head phase alone needs 384 floats per text.
The test accuracy of the head alone is kept as ``frozen_probe`` in ``text.json``: fine-tuning can be
compared with it on the same split.

Example (trains for real; tests/test_text.py runs it)::

    cfg = RunConfig.from_dict({"data": {"dataset": "food_reviews", "max_per_class": 300},
                               "backbone": {"frozen_depth": 5, "sequence_length": 64},
                               "train": {"epochs": 20, "fine_tune_epochs": 2}})
    record = run_text_experiment(cfg, store=RunStore("/tmp/lepton-doc-runs"))
    record.metrics["accuracy"], json.loads((record.path / "text.json").read_text())["frozen_probe"]
"""

from __future__ import annotations

import keras
import numpy as np

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.backbones.run_backbone import is_run_weights
from lepton_widgets.core.base.envcard import environment_card
from lepton_widgets.core.evaluation import evaluate_predictions
from lepton_widgets.core.base.events import RunFinished, RunWarning
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.recorder import RunRecorder
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.tasks.text.boundary import encode_split, token_lengths, weights_fingerprint
from lepton_widgets.core.tasks.text.buckets import BUCKET_BOUNDARIES, RaggedRows, ordered_dataset, training_dataset
from lepton_widgets.core.tasks.text.data import TextData, prepare_texts
from lepton_widgets.core.tasks.text.encoder import (
    NUM_LAYERS,
    TEXT_BACKBONE,
    TEXT_ENCODERS,
    check_sequence_length,
    load_minilm,
    text_encoder_name,
    tokenize,
)
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE, neighbours_for
from lepton_widgets.core.tasks.text.model import TextModel, build_text_classifier, freeze_to
from lepton_widgets.core.tasks.text.phases import PREDICT_BATCH, PhaseTrainer, planned_phases
from lepton_widgets.core.tasks.text.token_cache import cached_tokenize
from lepton_widgets.core.tasks.text.transfer import minilm_weights, open_text_source
from lepton_widgets.core.tasks.image.training import seed_everything
from lepton_widgets.i18n import _

TEXT_FILE = "text.json"
TOKENIZER_DIR = "tokenizer"
WEIGHTS = ("offline", "none")


def check_text_config(cfg: RunConfig) -> None:
    """Refuse what cannot work on text, with a message (rather than a crash half-way)."""
    check_sequence_length(cfg.backbone.sequence_length)
    if cfg.train.adversarial != "none":
        raise ConfigError(f"train.adversarial={cfg.train.adversarial!r} attacks image pixels; it does not apply to "
                          f"the text dataset {cfg.data.dataset!r}. Set train.adversarial: none")
    if is_run_weights(cfg.backbone.weights):
        open_text_source(cfg)  # refuses a missing, unfinished or non-text run, or another encoder, up front
    elif cfg.backbone.weights not in WEIGHTS:
        raise ConfigError(f"backbone.weights={cfg.backbone.weights!r}: a text run's encoder "
                          f"({text_encoder_name(cfg.backbone.name)}) takes weights 'offline' (pretrained, from its "
                          f"package), 'none' (random init) or 'run:<a finished text run>'")


def ignored_settings(cfg: RunConfig) -> list[str]:
    """Notes on config values that mean nothing for text (stored, not silently dropped)."""
    notes = []
    if cfg.backbone.name not in TEXT_ENCODERS:
        notes.append(f"backbone {cfg.backbone.name!r} ignored: it is not a text encoder "
                     f"({', '.join(TEXT_ENCODERS)}); the run uses the MiniLM encoder ({TEXT_BACKBONE})")
    notes.append("backbone.image_size does not apply to text (sequence_length does)")
    image_audio = [n for n in cfg.augment.FRACTIONS if not n.startswith("word_")
                   and getattr(cfg.augment, n) > 0] + (["flip"] if cfg.augment.flip != "none" else []) + \
        (["gain_db"] if cfg.augment.gain_db > 0 else [])
    if image_audio:
        notes.append(f"augment {', '.join(image_audio)} ignored: image/audio augmentations do not apply to text")
    if cfg.train.head_fit != "gradient":
        notes.append(f"train.head_fit {cfg.train.head_fit!r} ignored: it is for pictures and sounds; a text head "
                     "trains by gradient")
    return notes


class MiniLMTrainer(PhaseTrainer):
    """MiniLM's phases: the head on cached pooled embeddings, the fine-tune on cached boundary states.

    Each split is tokenised once (``token_cache.py``) and, without augmentation, sent once through the
    frozen part (``boundary.py``); batches are padded to their longest text (``buckets.py``). With
    augmentation every training batch streams through the whole encoder, every epoch; the event log says so.
    """

    caches_features = True
    #: Length buckets of the cached training batches (``buckets.py``). None: random batches, each padded to
    #: its own longest text. Measured (tests/test_text.py's run, 540 reviews): length-bucketed batches
    #: fine-tuned to 0.625 test accuracy, below the frozen probe's 0.665; random batches 0.715.
    bucket_boundaries = ()

    def __init__(self, cfg: RunConfig, data: TextData, tm: TextModel, tokenizer, job: Job, neighbours=None,
                 *, cache_boundary: bool = True, use_disk_cache: bool = True) -> None:
        super().__init__(cfg, data, job, neighbours)
        # cache_boundary=False: stream every batch through the frozen part too (what augmentation must do;
        # tests compare the two ways); use_disk_cache=False: compute the states, store nothing
        self.stream = self.augment or not cache_boundary
        self.tm, self.tokenizer, self.sequence_length = tm, tokenizer, cfg.backbone.sequence_length
        self.inputs, self.truncated, self.tokens_cached, self.encoder = {}, 0, {}, None
        for name, (_labels, texts) in self.splits.items():
            self.inputs[name], truncated, self.tokens_cached[name] = cached_tokenize(tokenizer, texts,
                                                                                     self.sequence_length)
            self.truncated += truncated
        if self.augment:
            self.job.emit(RunWarning(run_id=self.job.run_id, message=_(
                "Text augmentation is on, so every training text goes through the whole language model again in "
                "every epoch. This is slower; without augmentation the frozen layers run only once per text.")))
        fingerprint = weights_fingerprint(tm.backbone)
        # pooled embeddings and boundary hidden states per split; train's only without augmentation
        self.states, self.states_cached = {}, {}
        for name in ("train", "val", "test"):
            if name == "train" and self.stream:
                continue
            self.states[name], self.states_cached[name] = encode_split(
                tm, self.depth, self.inputs[name], fingerprint, job, split=name, precise=name == "test",
                use_cache=use_disk_cache)

    def phase_model(self, fine_tune: bool) -> keras.Model:
        freeze_to(self.tm, self.depth if fine_tune else NUM_LAYERS)
        return self.tm.top(self.depth) if fine_tune else self.tm.head()

    def _rows(self, split: str) -> RaggedRows:
        """What the fine-tuned part reads, per text: hidden states at the boundary, or (nothing frozen) tokens."""
        if self.depth == 0:
            lengths = token_lengths(self.inputs[split])
            return RaggedRows.from_padded(self.inputs[split]["token_ids"], lengths)
        return self.states[split].hidden

    def phase_inputs(self, split: str, fine_tune: bool):
        if not fine_tune:
            return self.states[split].pooled
        if self.depth == 0:
            return self.inputs[split]
        hidden, mask = self._rows(split).padded(np.arange(len(self.labels[split])), dtype=np.float32)
        return [hidden, mask]

    def train_data(self, fine_tune: bool):
        if not fine_tune:
            return super().train_data(fine_tune)
        return training_dataset(self._rows("train"), self.labels["train"], self.cfg.train.batch_size,
                                self.cfg.seed, as_tokens=self.depth == 0, boundaries=self.bucket_boundaries)

    def val_data(self, fine_tune: bool):
        if not fine_tune:
            return super().val_data(fine_tune)
        return ordered_dataset(self._rows("val"), self.labels["val"], PREDICT_BATCH, as_tokens=self.depth == 0)[0]

    def test_probabilities(self) -> np.ndarray:
        model, fine_tune = self.last
        if not fine_tune:
            return super().test_probabilities()
        dataset, order = ordered_dataset(self._rows("test"), None, PREDICT_BATCH, as_tokens=self.depth == 0)
        return np.asarray(model.predict(dataset, verbose=0))[np.argsort(order)]

    def encode_batch(self, texts: list[str], fine_tune: bool):
        # Full-length padding here: these batches reach fit() through a Keras PyDataset, whose tf.data signature
        # is fixed by the first batch, so a batch padded to its own longest text would be refused.
        inputs, _ = tokenize(self.tokenizer, texts, self.sequence_length)
        if fine_tune and self.depth == 0:
            return inputs
        if self.encoder is None:
            self.encoder = self.tm.encoder(self.depth)
        out = self.encoder.predict_on_batch(inputs)
        out = out if isinstance(out, (list, tuple)) else [out]
        return np.asarray(out[0]) if not fine_tune else (np.asarray(out[1]), inputs["padding_mask"])

    def trainable_params(self) -> int:
        return self.tm.trainable_params()


def _minilm_run(cfg: RunConfig, data: TextData, job: Job, neighbours):
    """``(trainer, model to save, text.json entries, save the tokenizer)`` of a MiniLM run."""
    source = open_text_source(cfg) if is_run_weights(cfg.backbone.weights) else None
    backbone, tokenizer = load_minilm("none" if source else cfg.backbone.weights)
    if source is not None:  # seeded from a MiniLM run: its (fine-tuned) encoder
        backbone.set_weights(minilm_weights(source))
    tm = build_text_classifier(backbone, data.prepared.num_classes, dropout=cfg.train.dropout, l2=cfg.train.l2,
                               seed=cfg.seed)
    trainer = MiniLMTrainer(cfg, data, tm, tokenizer, job, neighbours)
    tok_cfg = tokenizer.get_config()
    info = {"tokenizer": {"vocabulary": f"{TOKENIZER_DIR}/vocabulary.txt", "lowercase": tok_cfg["lowercase"],
                          "strip_accents": tok_cfg["strip_accents"]}}
    if source is not None:
        info["source_run"] = source.run_id

    def save_assets(folder) -> None:
        (folder / TOKENIZER_DIR).mkdir()
        tokenizer.save_assets(str(folder / TOKENIZER_DIR))  # writes vocabulary.txt there

    return trainer, tm.full, info, save_assets


def _trainer_for(cfg: RunConfig, data: TextData, job: Job):
    """The chosen encoder's ``(trainer, model to save, text.json entries, save assets)``; the trainer works
    under ``job`` (its run id, events, Stop and checkpoint folder)."""
    # GloVe neighbours of every training word, computed once
    neighbours = neighbours_for(data.split("train")[1]) if cfg.augment.word_substitute > 0 else None
    if text_encoder_name(cfg.backbone.name) == GLOVE_BACKBONE:
        from lepton_widgets.core.tasks.text.glove_run import glove_run

        return glove_run(cfg, data, job, neighbours)
    return _minilm_run(cfg, data, job, neighbours)


def run_text_experiment(cfg: RunConfig, job: Job | None = None, *, store: RunStore | None = None,
                        sequence_length: int | None = None) -> RunRecord:
    """Train and evaluate the text dataset named by ``cfg.data``, storing everything as a new run.

    ``sequence_length``, when given, replaces ``cfg.backbone.sequence_length`` (the stored config says so).
    Returns the stored run (``finished`` or ``cancelled``); failures are stored as ``failed`` and
    re-raised, as for image runs.
    """
    if sequence_length is not None:
        cfg = cfg.replace(backbone__sequence_length=int(sequence_length))
    cfg.validate()
    check_text_config(cfg)
    store = store or RunStore()
    recorder = RunRecorder(store.create(cfg), job.sink if job else None)
    writer, run_job = recorder.writer, recorder.job(job)  # the run's id, folder, events and the caller's Stop
    encoder = text_encoder_name(cfg.backbone.name)
    writer.extra.update(modality="text", encoder=encoder)  # the run list shows the encoder, not backbone.name

    def work() -> RunRecord:
        # late: experiment dispatches to us
        from lepton_widgets.core.runs.outputs import write_data_files, write_evaluation_files

        seed_everything(cfg.seed)
        data = prepare_texts(cfg.data, cfg.seed, job=run_job)
        run_job.check_stop()
        trainer, model, encoder_info, save_assets = _trainer_for(cfg, data, run_job)
        length = cfg.backbone.sequence_length
        if trainer.truncated:
            unit = "words" if encoder == GLOVE_BACKBONE else "word pieces"
            data.prepared.report.notes.append(
                f"{trainer.truncated} text(s) are longer than {length} {unit} and were truncated "
                f"to that length (the end is not seen by the model)")
        write_data_files(writer, data.prepared)
        writer.write_json("env.json", environment_card(
            cfg.seed, data.prepared.table.content_hash(), weights=f"{encoder}:{cfg.backbone.weights}",
            trainable_params=trainer.trainable_params(), total_params=int(model.count_params())))
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
        save_assets(writer.path)
        aug = cfg.augment
        writer.write_json(TEXT_FILE, {
            "encoder": encoder, "weights": cfg.backbone.weights, "sequence_length": length, **encoder_info,
            "frozen_layers": trainer.depth, "augmentation": {"word_dropout": aug.word_dropout,
                                                            "word_swap": aug.word_swap,
                                                            "word_substitute": aug.word_substitute},
            "truncated_texts": trainer.truncated, "frozen_probe": frozen_probe, "notes": ignored_settings(cfg)})
        metrics = write_evaluation_files(writer, evaluation, test_table)
        writer.save_model(model)
        run_job.emit(RunFinished(run_id=run_job.run_id, metrics=metrics))
        return writer.finalize("finished")

    return recorder.run(work)
