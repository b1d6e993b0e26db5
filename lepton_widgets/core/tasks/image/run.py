"""One picture or sound training run end to end: data -> model -> two-phase training -> evaluation -> run store.

This is what ``lepton train``, :func:`lepton_widgets.train` and the workbench's Train button all call,
so a run started by clicking and one started from code are the same run.

Example (trains for real, so shown rather than run as a doctest; tests/test_training.py runs it)::

    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.runs.store import RunStore
    cfg = RunConfig.from_dict({"data": {"dataset": "digits", "max_per_class": 30},
        "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32}, "train": {"epochs": 1}})
    record = run_image_experiment(cfg, store=RunStore("/tmp/lepton-doc-runs"))
    record.status   # 'finished'
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from lepton_widgets.config import RunConfig
from lepton_widgets.core.backbones import weights_fingerprint
from lepton_widgets.core.data import PreparedData, SampleTable, prepare_data, split_record
from lepton_widgets.core.data.split import cross_validation_folds
from lepton_widgets.core.base.envcard import environment_card
from lepton_widgets.core.evaluation import EvaluationResult, evaluate_model, evaluate_predictions
from lepton_widgets.core.base.events import RunFinished, RunWarning
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.image.model import build_transfer_model
from lepton_widgets.core.runs.recorder import RunRecorder
from lepton_widgets.core.runs.outputs import write_data_files, write_evaluation_files
from lepton_widgets.core.runs.store import RunRecord, RunStore, RunWriter
from lepton_widgets.core.tasks.image.training import seed_everything, train_transfer


#: Test images attacked for a run's stored robustness (a seeded random subset of larger test splits).
ROBUSTNESS_MAX_SAMPLES = 1000


def write_robustness(writer: RunWriter, model, test: SampleTable, cfg: RunConfig, job: Optional[Job] = None) -> None:
    """``robustness.json``: test accuracy under FGSM at 0, half, one and two training epsilons.

    FGSM, not PGD, and at most ``ROBUSTNESS_MAX_SAMPLES`` images: one gradient per batch serves every
    epsilon, so this costs about three evaluation passes. The Evaluate panel measures PGD on demand.
    """
    from lepton_widgets.core.tasks.image.adversarial import ROBUSTNESS_FILE, default_epsilons, robustness_curve
    curve = robustness_curve(model, test, default_epsilons(cfg.train.adversarial_epsilon), "fgsm",
                             image_size=cfg.backbone.image_size, max_samples=ROBUSTNESS_MAX_SAMPLES, seed=cfg.seed,
                             job=(job or Job()).child(run_id=writer.run_id))
    writer.write_json(ROBUSTNESS_FILE, curve.to_dict())


def run_image_experiment(cfg: RunConfig, job: Optional[Job] = None, *, store: Optional[RunStore] = None) -> RunRecord:
    """Train and evaluate the picture (or sound) config ``cfg``, storing everything as a new run.

    Returns the stored run: ``finished``, or ``cancelled`` when ``job`` was asked to stop. A failure is
    stored as ``failed`` (with the traceback in its events) and then re-raised.
    """
    store = store or RunStore()
    recorder = RunRecorder(store.create(cfg), job.sink if job else None)
    writer, emit, run_id = recorder.writer, recorder.emit, recorder.run_id
    run_job = recorder.job(job)  # the run's id, folder (checkpoints) and events; the caller's Stop

    def work() -> RunRecord:
        for message in cfg.warnings():  # in events.jsonl, the CLI's output and the workbench's status line
            emit(RunWarning(run_id=run_id, message=message))
        seed_everything(cfg.seed)
        prepared = prepare_data(cfg.data, cfg.seed, job=run_job)
        folds = cross_validation_folds(prepared.report.class_counts, cfg.data.cv_below, cfg.data.cv_folds)
        if folds:
            return cross_validated_run(cfg, prepared, folds)
        write_data_files(writer, prepared)
        tm = build_transfer_model(cfg, prepared.num_classes)
        writer.write_json("env.json", environment_card(
            cfg.seed, prepared.table.content_hash(),
            weights=weights_fingerprint(tm.spec, cfg.backbone.weights),
            trainable_params=tm.trainable_params(), total_params=int(tm.model.count_params())))
        result = train_transfer(tm, prepared, cfg, run_job)
        recorder.write_history()
        writer.write_json("phases.json", result.phases)
        test = prepared.split("test")
        if result.test_probabilities is not None:  # head trained on cached features: test features are cached too
            evaluation = evaluate_predictions(test.label_indices(), result.test_probabilities, test.class_names,
                                              refs=test.frame["ref"].tolist(), paths=test.frame["path"].tolist())
        else:
            evaluation = evaluate_model(tm.model, test, cfg.backbone.image_size, job=run_job)
        write_evaluation_files(writer, evaluation, test)
        if cfg.train.adversarial != "none":
            write_robustness(writer, tm.model, test, cfg, run_job)
        writer.save_model(tm.model)
        emit(RunFinished(run_id=run_id, metrics=evaluation.summary()))
        return writer.finalize("finished")

    def cross_validated_run(cfg: RunConfig, prepared: PreparedData, folds: int) -> RunRecord:
        """Tiny data: k-fold cross-validation on the pooled samples, then the stored model on all of them."""
        from lepton_widgets.core.tasks.image.cross_validation import cross_validate, fixed_budget, pooled

        user_test = bool(cfg.data.test_path)
        pool = pooled(prepared, user_test)
        smallest = min(prepared.report.class_counts.values())
        emit(RunWarning(run_id=run_id, message=(
            f"Tiny data (the smallest class has {smallest} samples, under data.cv_below={cfg.data.cv_below}): "
            f"{folds}-fold cross-validation on all {len(pool)} samples instead of holding some out; the stored "
            "model is then trained on all of them.")))
        cv = cross_validate(cfg, pool, prepared.report, folds, run_job)
        # The stored model: every pooled sample trains it; a user-given test set stays the test split.
        frame = prepared.table.frame.copy()
        frame.loc[frame["split"] != "test", "split"] = "train"
        if not user_test:
            frame["split"] = "train"
        final = PreparedData(table=SampleTable(frame, prepared.table.class_names, prepared.table.arrays,
                                               prepared.table.modality, prepared.table.source),
                             report=prepared.report)
        prepared.report.notes.append(f"cross-validation: {folds} stratified folds over {len(pool)} samples; the "
                                     "stored model was trained on all of them.")
        write_data_files(writer, final)
        final_cfg = fixed_budget(cfg)
        seed_everything(cfg.seed)
        tm = build_transfer_model(final_cfg, final.num_classes)
        writer.write_json("env.json", environment_card(
            cfg.seed, final.table.content_hash(), weights=weights_fingerprint(tm.spec, cfg.backbone.weights),
            trainable_params=tm.trainable_params(), total_params=int(tm.model.count_params())))
        # no checkpoints for the final model: it trains on every sample, so there is no validation to keep a best
        result = train_transfer(tm, final, final_cfg, replace(run_job, workdir=None))
        recorder.write_history()
        writer.write_json("phases.json", result.phases)
        extra = cv.metrics()
        if user_test:
            test = final.split("test")
            evaluation = evaluate_model(tm.model, test, cfg.backbone.image_size, job=run_job)
            extra["evaluated_on"] = "test_path"
        else:
            test, evaluation = pool, cv.evaluation()
            extra["evaluated_on"] = "cross-validation (held-out predictions)"
        metrics = write_evaluation_files(writer, evaluation, test, extra_metrics=extra)
        writer.save_model(tm.model)
        emit(RunFinished(run_id=run_id, metrics=metrics))
        return writer.finalize("finished")

    return recorder.run(work)
