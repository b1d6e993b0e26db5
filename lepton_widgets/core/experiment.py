"""One training run end to end: data -> model -> two-phase training -> evaluation -> run store.

This is what ``lepton train``, :func:`lepton_widgets.train` and the workbench's Train button all call,
so a run started by clicking and one started from code are the same run.

Example (trains for real, so shown rather than run as a doctest; tests/test_training.py runs it)::

    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.run_store import RunStore
    cfg = RunConfig.from_dict({"data": {"dataset": "digits", "max_per_class": 30},
        "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32}, "train": {"epochs": 1}})
    record = run_experiment(cfg, store=RunStore("/tmp/lepton-doc-runs"))
    record.status   # 'finished'
"""

from __future__ import annotations

import threading
import traceback
from typing import Optional

from lepton_widgets.config import RunConfig
from lepton_widgets.core.backbones import weights_fingerprint
from lepton_widgets.core.data import prepare_data, split_record
from lepton_widgets.core.envcard import environment_card
from lepton_widgets.core.evaluation import evaluate_model, evaluate_predictions
from lepton_widgets.core.events import (Cancelled, EventSink, RunCancelled, RunFailed, RunFinished, RunStarted,
                                        fanout)
from lepton_widgets.core.model import build_transfer_model
from lepton_widgets.core.run_store import RunRecord, RunStore
from lepton_widgets.core.training import seed_everything, train_transfer


def run_experiment(cfg: RunConfig, *, store: Optional[RunStore] = None, sink: Optional[EventSink] = None,
                   stop_event: Optional[threading.Event] = None) -> RunRecord:
    """Train and evaluate ``cfg``, storing everything as a new run.

    Returns the stored run: ``finished``, or ``cancelled`` when ``stop_event`` was set. A failure is
    stored as ``failed`` (with the traceback in its events) and then re-raised.
    """
    cfg.validate()
    store = store or RunStore()
    writer = store.create(cfg)
    run_id = writer.run_id
    history: list[dict] = []  # kept from events, so a cancelled or failed run still has its curves

    def record_epoch(event) -> None:
        if event.kind == "epoch_ended":
            history.append({"epoch": event.epoch, "phase": event.phase, **event.metrics})

    emit = fanout(writer.append_event, record_epoch, sink)
    emit(RunStarted(run_id=run_id, config=cfg.to_dict()))
    try:
        seed_everything(cfg.seed)
        prepared = prepare_data(cfg.data, cfg.seed, sink=emit, stop_event=stop_event)
        writer.extra["class_names"] = prepared.class_names
        writer.write_frame("data_report.csv", prepared.report.frame)
        writer.write_json("data_report.json", prepared.report.to_dict())
        writer.write_json("split.json", split_record(prepared.table))
        tm = build_transfer_model(cfg, prepared.num_classes)
        writer.write_json("env.json", environment_card(
            cfg.seed, prepared.table.content_hash(),
            weights=weights_fingerprint(tm.spec, cfg.backbone.weights),
            trainable_params=tm.trainable_params(), total_params=int(tm.model.count_params())))
        result = train_transfer(tm, prepared, cfg, run_id=run_id, sink=emit, stop_event=stop_event,
                                workdir=writer.path)
        writer.write_jsonl("history.jsonl", history)
        writer.write_json("phases.json", result.phases)
        test = prepared.split("test")
        if result.test_probabilities is not None:  # head trained on cached features: test features are cached too
            evaluation = evaluate_predictions(test.label_indices(), result.test_probabilities, test.class_names,
                                              refs=test.frame["ref"].tolist(), paths=test.frame["path"].tolist())
        else:
            evaluation = evaluate_model(tm.model, test, cfg.backbone.image_size, sink=emit, stop_event=stop_event,
                                        run_id=run_id)
        writer.write_json("evaluation.json", evaluation.to_dict())
        writer.write_frame("predictions.csv", evaluation.predictions(test))
        writer.write_json("metrics.json", evaluation.summary())
        writer.save_model(tm.model)
        emit(RunFinished(run_id=run_id, metrics=evaluation.summary()))
        return writer.finalize("finished")
    except Cancelled:
        writer.write_jsonl("history.jsonl", history)
        emit(RunCancelled(run_id=run_id))
        return writer.finalize("cancelled")
    except Exception as error:
        writer.write_jsonl("history.jsonl", history)
        emit(RunFailed(run_id=run_id, error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()))
        writer.finalize("failed", error=f"{type(error).__name__}: {error}")
        raise
