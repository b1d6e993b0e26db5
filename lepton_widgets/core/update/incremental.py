"""Incremental update: fine-tune a finished run on new labelled data, new classes included, with replay.

Pictures, sounds, texts and tables all update the same way: the run's task (``task_for_run(parent).updater``,
``core/tasks/<kind>/update.py``) reads the new data the run's way (its schema, its tokeniser), says what of the
model trains, feeds ``model.fit`` and predicts; everything else here is shared.

The result is a new *version* of the run: a normal run folder (so the Runs panel, ``lepton eval`` and
``lepton predict`` work on it) plus ``update.json``, which records the parent run, the version number
(the parent's plus one), the replay size, both datasets and the **forgetting meter**:

* old-data accuracy on the parent's own test split, before (the parent's model) and after the update;
  ``forgetting = before - after``;
* new-data accuracy on the new data's test split after the update (and before, when the new data shares
  classes with the old, since only then can the parent get any of it right).

Old data is the parent's dataset config and seed, re-prepared and checked against the parent's
``split.json`` (prepare_data is deterministic). New data is a :class:`DataConfig` (a built-in dataset,
usually with ``classes``, or a folder/zip/CSV) prepared with the same seed and split fractions; new-train
rows that are copies of old val/test samples are dropped, so the meter never scores samples it trained on.

The updated model's classes are the old ones followed by the added ones. Its classifier is a wider Dense
layer whose old columns are the parent's and whose new columns are freshly (seeded) initialised; every
other layer keeps its trained weights, and the run's frozen depth is respected (the task decides what
trains). Training mixes the new train split with a replay buffer of ``replay`` old train samples
(``core/update/replay.py``) every epoch, and validates on the new val split plus, when replaying, the old
one. With ``replay=0`` the old data is used only to measure, which is what makes the two comparable.

When old and new data are the same dataset with the same settings (say digits classes 0-4, then 5-9),
the version's ``config.json`` describes the union (``data.classes`` = all classes) and reproduces both
splits exactly (checked), so everything downstream treats it like any run trained on that data. Otherwise
its config keeps the old data (``lepton eval`` then scores the old data with the wider class list), its
``evaluation.json`` covers old + new test data as evaluated at update time, and predictions of array
images from the second source carry no ``array_index`` (galleries cannot show them).

Example (trains for real, so shown rather than run as a doctest; tests/test_update.py runs it)::

    from lepton_widgets.config import DataConfig
    from lepton_widgets.core.runs.store import RunStore
    store = RunStore("runs")
    parent = store.open("20260101-120000-digits04")                 # trained on digits 0-4
    new = DataConfig(dataset="digits", max_per_class=50, classes=["5", "6", "7", "8", "9"])
    version = update_run(parent, new, replay=100, store=store)
    update_info(version)["meter"]    # {'old_before': 0.95, 'old_after': 0.9, 'forgetting': 0.05, ...}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from lepton_widgets.config import ConfigError, DataConfig, RunConfig
from lepton_widgets.core.base.events import PhaseStarted, RunFinished
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data import PreparedData, SampleTable, list_datasets, split_record
from lepton_widgets.core.runs.recorder import RunRecorder
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.tasks import task_for_run
from lepton_widgets.core.update.meter import forgetting_meter, meter_lines
from lepton_widgets.core.update.replay import concat_frames, relabel, replay_sample

UPDATE_FILE = "update.json"
#: The softmax layer every task's model names so; an update widens it.
CLASSIFIER = "classifier"
DEFAULT_REPLAY = 200
PHASE = "update"
_USER_KINDS = ("folder", "zip", "csv")


# --- inputs -------------------------------------------------------------------------------------------


def new_data_config(new_data: str | Path | DataConfig | dict, parent: RunRecord,
                    classes: Optional[Sequence[str]] = None, updater=None) -> DataConfig:
    """The :class:`DataConfig` of ``new_data``: a built-in dataset name or the user's own file or folder
    (given as a string/path; which kinds the run's task takes: its updater's ``user_data``), or a ready
    DataConfig or dict (used as given).

    Names and paths inherit the parent's ``max_per_class``, split fractions and ``min_class_size``, so
    both datasets are capped and split alike; ``classes`` keeps only those classes of the new data.
    """
    if isinstance(new_data, DataConfig):
        cfg = dataclasses.replace(new_data)
    elif isinstance(new_data, dict):
        cfg = RunConfig.from_dict({"data": new_data}).data
    else:
        old = parent.config.data
        inherited = dict(max_per_class=old.max_per_class, val_fraction=old.val_fraction,
                         test_fraction=old.test_fraction, min_class_size=old.min_class_size)
        text = str(new_data).strip()
        path = Path(text).expanduser()
        builtin = list_datasets(include_user=False)
        updater = updater or task_for_run(parent).updater(parent)
        own = None if text in builtin else updater.user_data(path)
        if text in builtin:
            cfg = DataConfig(dataset=text, **inherited)
        elif own is not None:
            cfg = DataConfig(**own, **inherited)
        else:
            what = "no such file or folder" if not path.exists() else "not what this run can read"
            raise ConfigError(f"new data {text!r} is not a built-in dataset ({', '.join(builtin)}) and {what}; "
                              f"give a dataset name or {updater.user_data_words}")
    if classes is not None:
        cfg.classes = [str(c) for c in classes]
    cfg.__post_init__()
    cfg.validate()
    return cfg


@dataclass
class UpdatePlan:
    """Everything an update needs that does not depend on the replay size: both datasets, prepared and
    checked (each table carrying its samples as the task reads them), and the class lists. Made once by
    :func:`plan_update`; :func:`run_update` may use it twice (with and without replay) so a comparison trains
    on exactly the same data."""

    parent: RunRecord
    cfg: RunConfig
    updater: object  # the run's task's updater (core/tasks/<kind>/update.py)
    old: PreparedData
    new: PreparedData
    new_data: DataConfig
    old_classes: list[str]
    added: list[str]
    new_train: SampleTable
    combined_data: Optional[DataConfig] = None
    combined: Optional[PreparedData] = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        """The updated model's classes: the old ones, then the added ones."""
        return self.old_classes + self.added


def plan_update(parent: RunRecord | str | Path, new_data: str | Path | DataConfig | dict, *,
                classes: Optional[Sequence[str]] = None, store: Optional[RunStore] = None,
                job: Optional[Job] = None) -> UpdatePlan:
    """Prepare and check both datasets; a ``ValueError`` (or ``DataError``) says what is wrong with them.
    A run whose kind of data cannot be updated is refused with the task's sentence."""
    parent = _as_record(parent, store)
    job = (job or Job()).child(run_id=parent.run_id)
    if parent.status != "finished" or not parent.model_path.exists():
        raise ValueError(f"run {parent.run_id} is {parent.status}, not a finished run with a model: only a "
                         "finished run can be updated")
    cfg = parent.config
    updater = task_for_run(parent).updater(parent)
    new_cfg = new_data_config(new_data, parent, classes, updater)
    updater.check_model(updater.load_model())
    old = updater.prepare(cfg.data, cfg.seed, job)
    if parent.split and split_record(old.table) != parent.split:
        raise ValueError(f"the data of run {parent.run_id} changed since it was trained (its split no longer "
                         "matches split.json), so its old-data accuracy cannot be measured on the same samples")
    old_classes = list(parent.class_names) or old.class_names
    if old.class_names != old_classes:
        raise ValueError(f"run {parent.run_id} has classes {old_classes} but its data now has {old.class_names}")
    job.check_stop()
    # One class is enough: the run brings the others (adding a single class is the commonest update).
    new = updater.prepare(new_cfg, cfg.seed, job, min_classes=1)
    notes = [f"new data: {line}" for line in new.report.summary().splitlines()]
    warnings = [f"new data: {text}" for text in new.report.warnings]
    skipped = new.report.frame[~new.report.frame["status"].isin(["ok", "converted"])]
    if len(skipped):
        listed = "; ".join(f"{ref} ({reason})" for ref, reason in zip(skipped["ref"], skipped["reason"]))
        warnings.append(f"new data: {len(skipped)} file(s) not used: {listed[:600]}")

    added = [name for name in new.class_names if name not in old_classes]
    old_shas = set(old.table.frame["sha256"])
    new_train = new.split("train")
    if not added and set(new.table.frame["sha256"]) <= old_shas:
        raise ValueError(f"the new data adds nothing: its classes ({', '.join(new.class_names)}) are all known "
                         f"to run {parent.run_id} and every one of its samples is already in the run's data. "
                         f"Choose other classes (the run has {', '.join(old_classes)}) or other samples.")
    # A new-train sample that is also an old val/test sample would be trained on and then scored as 'old'.
    held_out = set(old.table.frame.loc[old.table.frame["split"] != "train", "sha256"])
    overlap = new_train.frame["sha256"].isin(held_out)
    if overlap.any():
        notes.append(f"{int(overlap.sum())} new training sample(s) are old val/test samples; left out of training")
        new_train = SampleTable(new_train.frame[~overlap].reset_index(drop=True), new_train.class_names,
                                new_train.arrays, new_train.modality, new_train.source)
    if len(new_train) == 0:
        raise ValueError("the new data has no training samples left (all are already old val/test samples)")
    notes += updater.notes()
    plan = UpdatePlan(parent=parent, cfg=cfg, updater=updater, old=old, new=new, new_data=new_cfg,
                      old_classes=old_classes, added=added, new_train=new_train, notes=notes, warnings=warnings)
    _find_combined_data(plan, job)
    return plan


def _find_combined_data(plan: UpdatePlan, job: Job) -> None:
    """Same dataset, same settings: one config with every class reproduces both splits (checked)."""
    old, new = plan.cfg.data, plan.new_data
    same = {f.name for f in dataclasses.fields(DataConfig)} - {"classes"}
    if any(getattr(old, name) != getattr(new, name) for name in same):
        return
    combined_cfg = dataclasses.replace(old, classes=plan.classes)
    job.check_stop()
    combined = plan.updater.prepare(combined_cfg, plan.cfg.seed, job)
    expected = {**split_record(plan.new.table), **split_record(plan.old.table)}
    conflict = any(split_record(plan.old.table).get(sha, split) != split
                   for sha, split in split_record(plan.new.table).items())
    if combined.class_names == plan.classes and split_record(combined.table) == expected and not conflict:
        plan.combined_data, plan.combined = combined_cfg, combined


# --- the model ----------------------------------------------------------------------------------------


def expand_classifier(model, num_classes: int, seed: int):
    """The same network with a ``classifier`` of ``num_classes`` units: the old units keep their weights,
    new ones start from a seeded Glorot kernel and zero bias. Every other layer is shared, not copied; the
    inputs keep their structure (a table model's dict of columns stays a dict)."""
    import keras

    old = model.get_layer(CLASSIFIER)
    kernel, bias = old.get_weights()
    n_old = kernel.shape[1]
    if num_classes < n_old:
        raise ValueError(f"a classifier can grow, not shrink: {n_old} -> {num_classes} classes")
    if num_classes == n_old:
        return model
    wider = keras.layers.Dense(num_classes, activation="softmax", kernel_regularizer=old.kernel_regularizer,
                               kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                               name=CLASSIFIER)
    outputs = wider(old.input)  # what fed the old classifier (head dropout, or the last hidden layer)
    expanded = keras.Model(model.input, outputs, name=model.name)
    new_kernel, new_bias = (np.asarray(w) for w in wider.get_weights())
    new_kernel[:, :n_old], new_bias[:n_old] = kernel, bias
    new_bias[n_old:] = 0.0
    wider.set_weights([new_kernel, new_bias])
    return expanded


# --- running an update --------------------------------------------------------------------------------


def parent_version(record: RunRecord) -> int:
    """A run's version: 1 for a trained run, the stored number for an updated one."""
    return int(update_info(record).get("version") or 1)


def update_info(record: RunRecord) -> dict:
    """The run's ``update.json`` ({} for a run that was not made by an update)."""
    try:
        return json.loads((record.path / UPDATE_FILE).read_text(encoding="utf-8")) or {}
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def run_update(plan: UpdatePlan, *, replay: int = DEFAULT_REPLAY, epochs: Optional[int] = None,
               learning_rate: Optional[float] = None, store: Optional[RunStore] = None,
               job: Optional[Job] = None, compare: Optional[dict] = None) -> RunRecord:
    """Train one version from ``plan`` with a replay buffer of ``replay`` old train samples; store it.

    Returns the stored run: ``finished``, or ``cancelled`` (no model, no ``update.json``) when ``job``'s
    stop was asked for. A failure is stored as ``failed`` and re-raised. ``compare`` (another version's
    forgetting meter) is stored beside this one's, for a with/without-replay comparison.
    """
    from lepton_widgets.core.base.callbacks import EventCallback
    from lepton_widgets.core.base.envcard import environment_card
    from lepton_widgets.core.evaluation import evaluate_predictions
    from lepton_widgets.core.runs.outputs import write_data_files, write_evaluation_files
    from lepton_widgets.core.tasks.image.training import compile_model, seed_everything, standard_callbacks

    if replay < 0:
        raise ValueError(f"replay must be >= 0 samples, got {replay}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if learning_rate is not None and not 0 < learning_rate < 1:
        raise ValueError(f"learning_rate must be in (0, 1), got {learning_rate}")
    parent, cfg, classes, updater = plan.parent, plan.cfg, plan.classes, plan.updater
    store = store or RunStore(parent.path.parent)
    version = parent_version(parent) + 1
    base = cfg.name.rsplit("-v", 1)[0] if update_info(parent) else cfg.name
    data = plan.combined_data or cfg.data
    run_cfg = cfg.replace(name=f"{base}-v{version}", data=dataclasses.asdict(data))

    recorder = RunRecorder(store.create(run_cfg), job.sink if job else None)
    writer, emit, run_id = recorder.writer, recorder.emit, recorder.run_id
    own = recorder.job(job)

    def work() -> RunRecord:
        nonlocal epochs, learning_rate
        seed_everything(cfg.seed)
        old_train = relabel(plan.old.split("train"), classes)
        old_val, old_test = relabel(plan.old.split("val"), classes), relabel(plan.old.split("test"), classes)
        new_train = relabel(plan.new_train, classes)
        new_val, new_test = relabel(plan.new.split("val"), classes), relabel(plan.new.split("test"), classes)
        buffer = replay_sample(old_train, replay, cfg.seed)

        parent_model = updater.load_model()
        old_before = updater.predict(parent_model, old_test, own, "before: old data")
        overlap = [name for name in plan.new.class_names if name in plan.old_classes]
        new_before = updater.predict(parent_model, new_test, own, "before: new data") if overlap else None

        model, facts = updater.trainable(expand_classifier(parent_model, len(classes), cfg.seed))
        planned_epochs, planned_lr = updater.defaults()
        epochs, learning_rate = epochs or planned_epochs, learning_rate or planned_lr
        fit = updater.fit_args([new_train, buffer], [new_val, old_val] if len(buffer) else [new_val], cfg.seed)
        steps = math.ceil((len(new_train) + len(buffer)) / cfg.train.batch_size)
        compile_model(model, learning_rate, cfg, steps=epochs * steps)
        emit(PhaseStarted(run_id=run_id, phase=PHASE, epochs=epochs, learning_rate=learning_rate,
                          trainable_params=facts["trainable_params"]))
        callback = EventCallback(own, PHASE, epochs)
        model.fit(epochs=epochs, verbose=0, callbacks=standard_callbacks(cfg, writer.path, PHASE, learning_rate)
                  + [callback], **fit)
        recorder.write_history()
        writer.write_json("phases.json", [{"phase": PHASE, "epochs_run": len(callback.history), "epochs": epochs,
                                           "learning_rate": learning_rate, "cached_features": False,
                                           **facts, "replay": len(buffer)}])

        old_after = updater.predict(model, old_test, own, "after: old data")
        new_after = updater.predict(model, new_test, own, "after: new data")
        meter = forgetting_meter(plan.old_classes, classes, old_test, new_test, old_before, old_after, new_before,
                                 new_after)

        # The version's own evaluation: every test sample of old and new data, each counted once.
        if plan.combined is not None:
            write_data_files(writer, plan.combined)
            test = plan.combined.split("test")
            data_hash = plan.combined.table.content_hash()
        else:
            _write_two_sources(writer, plan, classes)
            test = concat_frames([old_test, new_test], classes)
            data_hash = hashlib.sha256(f"{plan.old.table.content_hash()}+{plan.new.table.content_hash()}"
                                       .encode()).hexdigest()
        probs = _rows_in(test, [(old_test, old_after), (new_test, new_after)])
        evaluation = evaluate_predictions(test.label_indices(), probs, classes, refs=test.frame["ref"].tolist(),
                                          paths=test.frame["path"].tolist())
        write_evaluation_files(writer, evaluation, test)
        writer.write_json("env.json", environment_card(
            cfg.seed, data_hash, weights=parent.env.get("weights"), trainable_params=facts["trainable_params"],
            total_params=int(model.count_params()), parent=parent.run_id))
        writer.write_json(UPDATE_FILE, {
            "parent": parent.run_id, "root": update_info(parent).get("root") or parent.run_id,
            "version": version, "replay": {"requested": int(replay), "used": len(buffer),
                                           "per_class": buffer.frame["label"].value_counts().to_dict()},
            "epochs": epochs, "epochs_run": len(callback.history), "learning_rate": learning_rate,
            "old_data": dataclasses.asdict(cfg.data), "new_data": dataclasses.asdict(plan.new_data),
            "classes": {"old": plan.old_classes, "new_data": plan.new.class_names, "added": plan.added,
                        "all": classes},
            "samples": {"new_train": len(new_train), "replay": len(buffer), "new_val": len(new_val),
                        "old_val": len(old_val), "old_test": len(old_test), "new_test": len(new_test)},
            "config_reproduces_data": plan.combined is not None,
            "meter": meter, "compare": compare, "notes": plan.notes, "warnings": plan.warnings,
        })
        writer.extra.update(version=version, parent=parent.run_id)
        updater.write_files(writer, classes)
        writer.save_model(model)
        emit(RunFinished(run_id=run_id, metrics={**evaluation.summary(), **{k: v for k, v in meter.items()
                                                                            if isinstance(v, float)}}))
        return writer.finalize("finished")

    return recorder.run(work)


def _rows_in(test: SampleTable, parts: list[tuple[SampleTable, np.ndarray]]) -> np.ndarray:
    """Probabilities for each row of ``test``, looked up by content hash among already predicted parts."""
    lookup: dict[str, np.ndarray] = {}
    for table, probs in parts:
        for sha, row in zip(table.frame["sha256"], probs):
            lookup.setdefault(sha, row)
    return np.stack([lookup[sha] for sha in test.frame["sha256"]])


def _write_two_sources(writer, plan: UpdatePlan, classes: list[str]) -> None:
    """Data files when old and new data cannot be one config: the report covers both, the split is the
    old data's (the version's config.json keeps the old data, and ``lepton eval`` checks that split)."""
    import pandas as pd

    writer.extra["class_names"] = classes
    frames = [plan.old.report.frame.assign(source="old"), plan.new.report.frame.assign(source="new")]
    writer.write_frame("data_report.csv", pd.concat(frames, ignore_index=True))
    writer.write_json("data_report.json", {"old": plan.old.report.to_dict(), "new": plan.new.report.to_dict()})
    writer.write_json("split.json", split_record(plan.old.table))


def update_run(parent: RunRecord | str | Path, new_data: str | Path | DataConfig | dict, *,
               replay: int = DEFAULT_REPLAY, epochs: Optional[int] = None, learning_rate: Optional[float] = None,
               classes: Optional[Sequence[str]] = None, compare: bool = False, store: Optional[RunStore] = None,
               job: Optional[Job] = None) -> RunRecord:
    """Update ``parent`` with ``new_data`` and store the new version (see the module docstring).

    With ``compare`` (and ``replay > 0``), a no-replay variant is trained first on the same data and
    stored as its own run; its meter is kept in the version's ``update.json`` under ``compare``.
    ``job`` carries the events and the stop request (none: silent, not stoppable).
    """
    job = job or Job()
    record = _as_record(parent, store)
    store = store or RunStore(record.path.parent)
    plan = plan_update(record, new_data, classes=classes, store=store, job=job)
    other = None
    if compare and replay > 0:
        baseline = run_update(plan, replay=0, epochs=epochs, learning_rate=learning_rate, store=store, job=job)
        if baseline.status != "finished":
            return baseline
        other = {"run_id": baseline.run_id, "replay": 0, "meter": update_info(baseline)["meter"]}
    return run_update(plan, replay=replay, epochs=epochs, learning_rate=learning_rate, store=store, job=job,
                      compare=other)


def _as_record(run: RunRecord | str | Path, store: Optional[RunStore]) -> RunRecord:
    if isinstance(run, RunRecord):
        return run
    return (store or RunStore()).open(run)


__all__ = ["UpdatePlan", "plan_update", "run_update", "update_run", "expand_classifier", "new_data_config",
           "update_info", "parent_version", "meter_lines", "DEFAULT_REPLAY", "UPDATE_FILE", "CLASSIFIER"]
