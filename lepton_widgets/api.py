"""The Python API: a handful of functions around one :class:`~lepton_widgets.config.RunConfig`.

Example:
    >>> import lepton_widgets as lw
    >>> cfg = lw.RunConfig.from_dict({"data": {"dataset": "digits", "max_per_class": 40},
    ...     "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32}, "train": {"epochs": 2}})
    >>> run = lw.train(cfg, runs_dir="/tmp/lepton-doc-runs")            # doctest: +SKIP
    >>> run.metrics["accuracy"] > 0.5                                   # doctest: +SKIP
    True
    >>> lw.predict(run, ["digit.png"])                                  # doctest: +SKIP
    >>> lw.predict(lw.export(run, "tflite").results[0].path, ["digit.png"])   # an exported file  # doctest: +SKIP

Long calls (``train``, ``robustness``, ``export``, ``update``, ``fuse``, ``rank_backbones``, ``auto``) take
``job=`` (a :class:`~lepton_widgets.core.base.job.Job`: where events go and the stop request), or, as a convenience,
``sink=`` (a callable receiving each event) and ``stop_event=`` (a ``threading.Event``; set it to stop between
batches), which build that Job. Give one or the other, not both.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.events import EventSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunRecord, RunStore


def _as_config(config: RunConfig | dict | str | Path) -> RunConfig:
    if isinstance(config, RunConfig):
        return config.validate()
    if isinstance(config, dict):
        return RunConfig.from_dict(config)
    return RunConfig.load(config)


def _store(runs_dir: Optional[str | Path]) -> RunStore:
    return RunStore(runs_dir)


def _job(job: Optional[Job], sink: Optional[EventSink], stop_event: Optional[threading.Event]) -> Job:
    """``job``, or one made from the ``sink``/``stop_event`` conveniences; never both (one would be ignored)."""
    if job is not None and (sink is not None or stop_event is not None):
        raise ValueError("give job= or sink=/stop_event=, not both")
    return Job.of(job, sink=sink, stop_event=stop_event)


def train(config: RunConfig | dict | str | Path, *, runs_dir: Optional[str | Path] = None,
          job: Optional[Job] = None, sink: Optional[EventSink] = None,
          stop_event: Optional[threading.Event] = None) -> RunRecord:
    """Train and evaluate a model for ``config`` (object, dict or YAML/JSON path); returns the stored run."""
    from lepton_widgets.core.tasks import run_experiment

    return run_experiment(_as_config(config), _job(job, sink, stop_event), store=_store(runs_dir))


def open_run(run: str | Path | RunRecord, *, runs_dir: Optional[str | Path] = None) -> RunRecord:
    """A stored run by id, id prefix or path."""
    return run if isinstance(run, RunRecord) else _store(runs_dir).open(run)


def list_runs(*, runs_dir: Optional[str | Path] = None) -> pd.DataFrame:
    """All runs as a DataFrame (one row per run, metrics as columns) for listing and comparing."""
    return _store(runs_dir).frame()


def evaluate(run: str | Path | RunRecord, *, split: str = "test", runs_dir: Optional[str | Path] = None):
    """Re-evaluate a stored run's model on its recorded split; returns an ``EvaluationResult``.

    The data is reloaded and re-split from the run's config; the stored ``split.json`` is checked so that
    a changed dataset is reported instead of silently evaluated on different rows.
    """
    from lepton_widgets.core.data import prepare_data, split_record
    from lepton_widgets.core.evaluation import evaluate_model

    record = open_run(run, runs_dir=runs_dir)
    cfg = record.config
    prepared = prepare_data(cfg.data, cfg.seed)
    stored = record.split
    if record.metrics.get("cv_folds") and set(stored) == set(prepared.table.frame["sha256"].astype(str)):
        # A cross-validated run (tiny data) trained its model on every sample: its split is the stored one.
        prepared.table.frame["split"] = prepared.table.frame["sha256"].astype(str).map(stored)
        if split == "test" and not (prepared.table.frame["split"] == "test").any():
            raise ValueError(f"run {record.run_id} was cross-validated ({record.metrics['cv_folds']} folds on tiny "
                             "data) and its model trained on every sample, so it has no test split: its metrics "
                             "are the folds' held-out predictions. Set data.test_path to score it on a test set.")
    if stored and stored != split_record(prepared.table):
        raise ValueError(f"the data for run {record.run_id} changed since it was trained: the split no longer "
                         "matches split.json, so its metrics would not be comparable")
    table = prepared.split(split)
    if record.class_names and list(record.class_names) != table.class_names:
        # An updated run (core/update/incremental.py) may know more classes than its config's data holds: score the
        # data in the model's own class list, so label indices and outputs agree.
        from lepton_widgets.core.update.replay import relabel

        table = relabel(table, record.class_names)
    return evaluate_model(record.load_model(), table, cfg.backbone.image_size)


def robustness(run: str | Path | RunRecord, *, method: Optional[str] = None,
               epsilons: str | Sequence[float] | None = None, max_samples: Optional[int] = 1000,
               runs_dir: Optional[str | Path] = None, job: Optional[Job] = None,
               sink: Optional[EventSink] = None, stop_event: Optional[threading.Event] = None):
    """Test accuracy of a stored run under attack at each level; returns a ``RobustnessCurve``
    (``.epsilons``, ``.accuracy``, ``.at(level)``), from the run's task.

    Pictures and sounds: ``method`` ``fgsm`` (default) or ``pgd``, ``epsilons`` on pixels scaled to [0, 1]
    (default 0, 0.01, 0.03). Texts: ``random`` (default) or ``greedy`` substitution of words by GloVe
    neighbours, ``epsilons`` are substitution rates (default 0, 0.1, 0.2, 0.4). Tables are refused."""
    from lepton_widgets.core.tasks import task_for_run

    record = open_run(run, runs_dir=runs_dir)
    return task_for_run(record).robustness_curve(record, method=method, levels=epsilons, max_samples=max_samples,
                                                 job=_job(job, sink, stop_event).child(run_id=record.run_id))


def export(run: str | Path | RunRecord, formats: str | Sequence[str] = "all", *,
           out: Optional[str | Path] = None, runs_dir: Optional[str | Path] = None, job: Optional[Job] = None,
           sink: Optional[EventSink] = None, stop_event: Optional[threading.Event] = None):
    """Export a stored run as ``keras``, ``savedmodel``, ``tflite``, ``tflite-f16``, ``tflite-int8`` and/or
    ``onnx`` (``"all"``); each artefact is reloaded and checked against the model before it is kept.
    Image, sound, text and table runs all export; a format that cannot hold a model (a GloVe text model
    in TFLite or ONNX, a table with categories in ONNX...) is reported ``unavailable`` with the reason.

    Returns a ``core.export.verify.ExportReport`` (``.frame()``: format, status, size, max abs diff, top-1
    agreement, reason) with the model card beside the files (default ``<run>/exports/``)."""
    from lepton_widgets.core.export.verify import export_run

    return export_run(open_run(run, runs_dir=runs_dir), formats, out, job=_job(job, sink, stop_event))


def update(run: str | Path | RunRecord, new_data: str | Path | dict, *, replay: int = 200,
           classes: Optional[Sequence[str]] = None, epochs: Optional[int] = None,
           learning_rate: Optional[float] = None, compare: bool = False, runs_dir: Optional[str | Path] = None,
           job: Optional[Job] = None, sink: Optional[EventSink] = None,
           stop_event: Optional[threading.Event] = None) -> RunRecord:
    """Fine-tune a finished run (pictures, sounds, texts or a table) on new data (a built-in name, your own
    folder/zip/csv of the run's kind, or a DataConfig dict), new classes included, replaying ``replay`` old
    samples; returns the new version (see ``core/update/incremental.py``).

    Its ``update.json`` holds the forgetting meter; ``compare=True`` also trains without replay."""
    from lepton_widgets.core.update.incremental import update_run

    record = open_run(run, runs_dir=runs_dir)
    store = _store(runs_dir) if runs_dir is not None else RunStore(record.path.parent)
    return update_run(record, new_data, replay=replay, classes=classes, epochs=epochs,
                      learning_rate=learning_rate, compare=compare, store=store,
                      job=_job(job, sink, stop_event))


def predict(model: str | Path | RunRecord, inputs: Sequence[str | Path], *, top_k: int = 3,
            runs_dir: Optional[str | Path] = None) -> pd.DataFrame:
    """Predict with a stored run or an exported model file; one row per input (``file``, ``label``,
    ``confidence``, ``top``, ``error``).

    ``model``: a run (record, id, id prefix or folder) or a model file our export wrote: a ``.keras``,
    ``.tflite`` or ``.onnx`` file or a SavedModel folder (classes come from the ``export.json`` beside it).
    ``inputs`` follow what the model was trained on: image files; WAV files for a sound run; texts (or
    paths of text files, one text per line) for a text run; CSV files for a table run (one row per table
    row, ``file`` reads ``name.csv:row N``). Files are validated like training data: unreadable ones get
    a row with the reason instead of a prediction, odd image formats are converted on a copy.

    Example (needs a trained run; tests/test_predict_exported.py runs these)::

        lw.predict("20261130-101500-digits-1a2b3c", ["digit.png"])
        lw.predict("runs/20261130-101500-digits-1a2b3c/exports/tflite/model.tflite", ["digit.png"])
    """
    from lepton_widgets.core.predict.any_modality import open_target, predict_inputs

    store = _store(runs_dir) if not isinstance(model, RunRecord) else None
    return predict_inputs(open_target(model, store), list(inputs), top_k=top_k)


def fuse(runs: Sequence[str | Path | RunRecord], *, method: str = "ensemble", name: Optional[str] = None,
         runs_dir: Optional[str | Path] = None, job: Optional[Job] = None, sink: Optional[EventSink] = None,
         stop_event: Optional[threading.Event] = None, distill_epochs: int = 3) -> RunRecord:
    """Fuse two or more finished runs into a new run: ``ensemble``, ``uniform-soup``, ``greedy-soup`` or
    ``distill`` (see ``core/fusion/fuse.py``). Its ``fusion.json`` compares the members with the fused model."""
    from lepton_widgets.core.fusion.fuse import fuse as fuse_runs

    records = [open_run(run, runs_dir=runs_dir) for run in runs]
    store = _store(runs_dir) if runs_dir is not None or not records else RunStore(records[0].path.parent)
    return fuse_runs(records, method, store=store, name=name, job=_job(job, sink, stop_event),
                     distill_epochs=distill_epochs)


def rank_backbones(config: RunConfig | dict | str | Path, candidates: Optional[Sequence] = None, *,
                   job: Optional[Job] = None, sink: Optional[EventSink] = None,
                   stop_event: Optional[threading.Event] = None, **options) -> pd.DataFrame:
    """Score candidate backbones on ``config``'s data before training (LogME and a linear probe on cached
    features of a small split); one row each, best first, the recommended one marked. ``candidates``:
    ``"name:weights"`` strings (``"mobilenet_v2:offline"``, ``"small_cnn:run:<run folder>"``) or pairs;
    default: every registered backbone with its offline-capable weights. See ``core/tasks/image/ranking.py``."""
    from lepton_widgets.core.tasks.image.ranking import rank_backbones as rank

    job = _job(job, sink, stop_event)
    return rank(_as_config(config), candidates, job=job, **options)


def auto(data, budget: str | float = "10m", goal: str = "accuracy", *, labels: str = "keep", seed: int = 42,
         target: Optional[str] = None, runs_dir: Optional[str | Path] = None, job: Optional[Job] = None,
         sink: Optional[EventSink] = None, stop_event: Optional[threading.Event] = None, fresh: bool = False):
    """Lepton Auto: the best model it can make for ``data`` within ``budget``, with every choice explained.

    ``data`` is anything the Data step takes: a built-in dataset's name, a folder of class folders (images,
    ``.wav`` sounds, ``.txt`` texts), a zip, an image, text or table CSV (see ``core/tasks/data_guess.py``),
    or a ``DataConfig``. ``target`` names a CSV's class column when it is not called label, class, target,
    y or outcome. ``budget``: ``"10m"``, ``"90s"``, ``"1h30m"`` or seconds (at least 30). ``goal``:
    ``accuracy``, ``small`` (a small exported model) or ``fast`` (quick to make). ``labels="exclude"`` leaves
    out the examples the data doctor found likely mislabelled. The same call again resumes where it stopped
    (``fresh=True`` starts over); a stop keeps what finished.

    Returns an ``AutoResult`` (``core/auto/pipeline.py``): ``status``, each stage's plain summary, the
    leaderboard (``.frame()``), the chosen run (``.best_run()``), its model card (``.card()``) and the
    likely mislabelled examples (``.label_issues``). Bad data is a ``failed`` result whose ``message`` says
    why; a bad ``budget``, ``goal`` or ``labels`` is a ``ValueError``.

    Example (trains, so shown rather than run; tests/test_auto_cli.py runs it from the command line)::

        result = lw.auto("digits", budget="5m")
        result.frame()[["label", "val_score", "chosen"]]
        print(result.card())
        lw.auto("my_photos/", budget="10m", labels="exclude")   # again, without the likely mislabelled ones
        lw.auto("loans.csv", budget="3m", target="default")      # a table whose class column is 'default'
    """
    from lepton_widgets.core.auto.pipeline import run_auto

    if target is not None and isinstance(data, (str, Path)):
        from lepton_widgets.core.tasks.data_guess import data_config_for

        data = data_config_for(data, target=target)
    return run_auto(data, budget=budget, goal=goal, labels=labels, seed=seed, runs_dir=runs_dir,
                    job=_job(job, sink, stop_event), fresh=fresh)
