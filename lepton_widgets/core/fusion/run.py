"""The fusion engine behind :func:`lepton_widgets.core.fusion.fuse.fuse`: members' predictions, the fused model,
and the new run.

Steps: reload the members' data with their config and seed (through their task's fusion kit,
``task.fusion_kit().load``, which knows how pictures, texts or tables reach a model) and check it still splits
as each member's ``split.json`` says; load the members' models (soups: check their weights line up); predict
the validation and test splits with every member (``distill``: the train split too); build the fused model by
the chosen method; evaluate it on both splits; store it as a new run of the members' task (the kit writes
that task's own files: ``text.json``, ``tabular.json``...); reload the stored ``model.keras`` and check that
it reproduces the fused test probabilities, so what was measured is what was saved.

The fused run's ``config.json`` is the best member's (by validation accuracy; for ``distill``, the member the
student started from) with a new name: it has the data, seed and image size that ``lepton eval`` and
``lepton predict`` need. ``fusion.json`` says what the run really is. Nothing here asks which kind of data it
has: :class:`~lepton_widgets.core.tasks.fusing.FusionData` answers for the task.

Example (loads and predicts models, so shown rather than run; tests/test_fusion.py runs it)::

    from lepton_widgets.core.fusion.fuse import fuse
    record = fuse([store.open(a), store.open(b), store.open(c)], "greedy-soup", store=store)
    record.metrics["accuracy"], record.path / "fusion.json"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import keras
import numpy as np

from lepton_widgets.core.base.envcard import environment_card
from lepton_widgets.core.base.events import RunFinished
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.data import split_record
from lepton_widgets.core.evaluation import EvaluationResult, evaluate_predictions
from lepton_widgets.core.tasks.fusing import FusionData
from lepton_widgets.core.fusion.ensemble import build_ensemble_model, ensemble_probabilities, optimise_weights
from lepton_widgets.core.fusion.methods import FUSION_FILE, SOUPS
from lepton_widgets.core.fusion.soup import average_weights, check_same_weights, greedy_soup
from lepton_widgets.core.runs.outputs import write_data_files, write_evaluation_files
from lepton_widgets.core.runs.recorder import RunRecorder
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.tasks import task_for_run

#: Largest difference allowed between the reloaded model's probabilities and the fused ones (float32 sums).
RELOAD_TOLERANCE = 1e-4
#: Test rows used for the reload check: enough to catch a wrong model, bounded in time on big test splits.
RELOAD_ROWS = 256


@dataclass
class Member:
    """One member run with its loaded model and its predictions on the splits fusion needs."""

    record: RunRecord
    model: keras.Model
    val_probs: np.ndarray
    test_probs: np.ndarray
    val: EvaluationResult
    test: EvaluationResult
    train_probs: Optional[np.ndarray] = None

    @property
    def run_id(self) -> str:
        return self.record.run_id


@dataclass
class Fused:
    """What a method produced: the model, its probabilities, and what ``fusion.json`` should say."""

    model: keras.Model
    val_probs: np.ndarray
    test_probs: np.ndarray
    member_values: dict[str, float] = field(default_factory=dict)  # ensemble weight or soup membership
    details: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


@dataclass
class Context:
    """Everything a method needs besides the members: the task's data and the distillation budget."""

    data: FusionData
    distill_epochs: int

    def split(self, name: str):
        return self.data.split(name)

    def predict(self, model: keras.Model, split: str, task: str) -> np.ndarray:
        self.data.job.check_stop()
        return self.data.predict(model, split, task)

    @property
    def class_names(self) -> list[str]:
        return self.data.prepared.class_names


def _ranked(members: list[Member]) -> list[Member]:
    """Best first: validation accuracy, then validation log-loss (the tie-break accuracy cannot give)."""
    return sorted(members, key=lambda m: (-m.val.accuracy, m.val.log_loss))


def run_fusion(records: list[RunRecord], method: str, *, store: RunStore, name: Optional[str] = None,
               job: Optional[Job] = None, distill_epochs: int = 3) -> RunRecord:
    """See :func:`lepton_widgets.core.fusion.fuse.fuse` (which checks the runs' configs first)."""
    job = job or Job()
    data = task_for_run(records[0]).fusion_kit().load(records, job)
    prepared = data.prepared
    recorded = split_record(prepared.table)
    changed = [r.run_id for r in records if r.split and r.split != recorded]
    if changed:
        raise ValueError(f"the data changed since {', '.join(changed)} trained: the dataset no longer splits as "
                         "their split.json says, so their predictions cannot be compared; retrain them")
    other_classes = [r.run_id for r in records if list(r.class_names) != prepared.class_names]
    # e.g. a run updated with new classes (core/update/incremental.py) predicts more than its data holds
    if other_classes:
        raise ValueError(f"{', '.join(other_classes)} predict other classes than their config's data "
                         f"({', '.join(prepared.class_names)}); fuse runs that predict exactly those classes")
    models = [data.load_model(r) for r in records]
    if method in SOUPS:
        check_same_weights(models, [r.run_id for r in records])
    context = Context(data, distill_epochs)
    members = [_member(record, model, context, with_train=method == "distill")
               for record, model in zip(records, models)]
    ranked = _ranked(members)
    base = ranked[0]
    if method == "distill":
        students = [m for m in ranked if data.can_be_student(m.model)]
        if not students:
            raise ValueError("distill needs at least one member that is a plain trained model (the student "
                             "starts from it); these are all ensembles")
        base = students[0]
    cfg = base.record.config.replace(name=name or f"{method}-of-{len(members)}")
    recorder = RunRecorder(store.create(cfg), job.sink)
    writer, emit = recorder.writer, recorder.emit
    data.job = recorder.job(job)

    def work() -> RunRecord:
        write_data_files(writer, prepared)
        data.write_run_files(writer, base.record)
        fused = METHODS[method](members, ranked, base, context)
        val, test = context.split("val"), context.split("test")
        class_names = prepared.class_names
        val_eval = evaluate_predictions(val.label_indices(), fused.val_probs, class_names)
        test_eval = evaluate_predictions(test.label_indices(), fused.test_probs, class_names,
                                         refs=test.frame["ref"].tolist(), paths=test.frame["path"].tolist())
        writer.write_jsonl("history.jsonl", fused.history)
        write_evaluation_files(writer, test_eval, test, data.extra_metrics(test.label_indices(), fused.test_probs))
        writer.save_model(fused.model)
        difference = _reload_difference(RunRecord(writer.path), fused.test_probs, data)
        writer.write_json("env.json", environment_card(
            cfg.seed, prepared.table.content_hash(), fusion=method, members=[m.run_id for m in members],
            total_params=int(fused.model.count_params())))
        best = ranked[0]
        writer.write_json(FUSION_FILE, {
            "method": method,
            "best_member": best.run_id,
            "members": [{"run_id": m.run_id, "name": m.record.config.name, "backbone": m.record.config.backbone.name,
                         "weight": fused.member_values.get(m.run_id), "val": m.val.summary(),
                         "test": m.test.summary()} for m in members],
            "fused": {"val": val_eval.summary(), "test": test_eval.summary()},
            "gain_over_best_member": {
                "val_accuracy": val_eval.accuracy - best.val.accuracy,
                "val_log_loss": val_eval.log_loss - best.val.log_loss,
                "test_accuracy": test_eval.accuracy - best.test.accuracy,
                "test_log_loss": test_eval.log_loss - best.test.log_loss},
            "reload_max_abs_difference": difference,
            **fused.details,
        })
        writer.extra["fusion"] = {"method": method, "members": [m.run_id for m in members]}
        emit(RunFinished(run_id=writer.run_id, metrics=test_eval.summary()))
        return writer.finalize("finished")

    return recorder.run(work)


def _member(record: RunRecord, model: keras.Model, context: Context, with_train: bool) -> Member:
    task = f"predict {record.run_id}"
    val_probs = context.predict(model, "val", task + " (val)")
    test_probs = context.predict(model, "test", task + " (test)")
    train_probs = context.predict(model, "train", task + " (train)") if with_train else None
    names = context.class_names
    return Member(record, model, val_probs, test_probs,
                  val=evaluate_predictions(context.split("val").label_indices(), val_probs, names),
                  test=evaluate_predictions(context.split("test").label_indices(), test_probs, names),
                  train_probs=train_probs)


def _reload_difference(record: RunRecord, expected: np.ndarray, data: FusionData) -> float:
    """Largest |difference| between the stored model's probabilities and ``expected`` on the first test rows.

    Raises ``RuntimeError`` when it exceeds :data:`RELOAD_TOLERANCE`: a stored model that does not compute
    what was measured must not be published as a finished run.
    """
    rows = min(len(data.split("test")), RELOAD_ROWS)
    # the plain Keras load: the run is not finalised yet, so a task's loader would not know it as its run
    reloaded = data.predict(record.load_model(), "test", "check stored model", rows=rows)
    difference = float(np.max(np.abs(reloaded - np.asarray(expected)[:rows])))
    if difference > RELOAD_TOLERANCE:
        raise RuntimeError(f"the stored fused model differs from the fused predictions by {difference:.2e} "
                           f"(allowed {RELOAD_TOLERANCE:.0e}); not publishing it")
    return difference


# --- methods ------------------------------------------------------------------------------------------

def _ensemble_weights(members: list[Member]) -> np.ndarray:
    y_val = members[0].val.y_true
    return optimise_weights([m.val_probs for m in members], y_val)


def _ensemble(members: list[Member], ranked: list[Member], base: Member, context: Context) -> Fused:
    weights = _ensemble_weights(members)
    y_val = members[0].val.y_true
    uniform = ensemble_probabilities([m.val_probs for m in members], np.full(len(members), 1 / len(members)))
    return Fused(
        model=build_ensemble_model([m.model for m in members], weights, context.data.ensemble_inputs(base.model)),
        val_probs=ensemble_probabilities([m.val_probs for m in members], weights),
        test_probs=ensemble_probabilities([m.test_probs for m in members], weights),
        member_values={m.run_id: float(w) for m, w in zip(members, weights)},
        details={"weights": {m.run_id: float(w) for m, w in zip(members, weights)},
                 "weights_objective": "validation log-loss",
                 "uniform_weights_val_log_loss": evaluate_predictions(
                     y_val, uniform, context.class_names).log_loss})


def _soup(members: list[Member], ranked: list[Member], base: Member, context: Context, greedy: bool) -> Fused:
    weight_lists = {m.run_id: m.model.get_weights() for m in members}
    soup_model = base.model  # its own predictions are already computed; it now holds soups
    y_val = base.val.y_true
    cache: dict[tuple, np.ndarray] = {}

    def soup_val(ids: list[str]) -> tuple[float, np.ndarray]:
        soup_model.set_weights(average_weights([weight_lists[i] for i in ids]))
        probs = context.predict(soup_model, "val", f"soup of {len(ids)} (val)")
        cache[tuple(ids)] = probs
        return float(np.mean(probs.argmax(axis=1) == y_val)), probs

    order = [m.run_id for m in ranked]
    details: dict = {"order": order}
    if greedy:
        chosen, steps = greedy_soup(order, soup_val, first_score=ranked[0].val.accuracy)
        cache.setdefault((order[0],), ranked[0].val_probs)
        details["greedy_steps"] = [{"run_id": s["member"], "soup_val_accuracy": s["val_accuracy"],
                                    "added": s["added"]} for s in steps]
    else:
        chosen = order
    soup_model.set_weights(average_weights([weight_lists[i] for i in chosen]))
    val_probs = cache.get(tuple(chosen))
    if val_probs is None:
        val_probs = context.predict(soup_model, "val", f"soup of {len(chosen)} (val)")
    details["soup"] = chosen
    return Fused(model=soup_model, val_probs=val_probs,
                 test_probs=context.predict(soup_model, "test", f"soup of {len(chosen)} (test)"),
                 member_values={m.run_id: float(m.run_id in chosen) for m in members}, details=details)


def _distill(members: list[Member], ranked: list[Member], base: Member, context: Context) -> Fused:
    weights = _ensemble_weights(members)
    soft_labels = ensemble_probabilities([m.train_probs for m in members], weights)
    names = context.class_names
    teacher_val = ensemble_probabilities([m.val_probs for m in members], weights)
    teacher_test = ensemble_probabilities([m.test_probs for m in members], weights)
    student = context.data.load_model(base.record)  # a fresh copy: the member's own model object stays as it was
    history = context.data.distill(student, base.record.config, soft_labels, context.distill_epochs)
    return Fused(
        model=student,
        val_probs=context.predict(student, "val", "student (val)"),
        test_probs=context.predict(student, "test", "student (test)"),
        member_values={m.run_id: float(w) for m, w in zip(members, weights)},
        history=history,
        details={"weights": {m.run_id: float(w) for m, w in zip(members, weights)},
                 "student_from": base.run_id, "epochs": context.distill_epochs,
                 "teacher": {"val": evaluate_predictions(base.val.y_true, teacher_val, names).summary(),
                             "test": evaluate_predictions(base.test.y_true, teacher_test, names).summary()}})


METHODS: dict[str, Callable[[list[Member], list[Member], Member, Context], Fused]] = {
    "ensemble": _ensemble,
    "uniform-soup": lambda members, ranked, base, context: _soup(members, ranked, base, context, greedy=False),
    "greedy-soup": lambda members, ranked, base, context: _soup(members, ranked, base, context, greedy=True),
    "distill": _distill,
}
