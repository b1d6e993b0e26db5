"""Hyper-parameter search with KerasTuner: run, report, stop, resume, distribute, and use the best trial.

:func:`run_search` searches ``cfg.tuner``'s space around ``cfg`` with KerasTuner's RandomSearch,
BayesianOptimization or Hyperband, subclassed (:class:`LeptonRandomSearch`, ...) only to report and to
stop: their ``on_trial_begin`` / ``on_epoch_end`` / ``on_trial_end`` hooks call ``super()`` and then send
``TrialStarted`` / ``TrialEpoch`` / ``TrialEnded`` events (``core.search.events``) to the sink, and
``on_batch_end`` checks the stop event. The sink and the event live on the tuner, never in a Keras
callback: ``search()`` deep-copies callbacks, and an Event or a widget cannot be copied. KerasTuner runs
with ``verbose=0``, so it never prints trial tables or calls ``clear_output`` (which would wipe a
notebook dashboard).

A search lives in ``<runs_dir>/searches/<name>-<fingerprint>/`` (KerasTuner's own layout: ``oracle.json``,
``tuner0.json``, ``trial_N/``, plus our ``search.json`` and ``best.json``). After a Stop or a killed
process the same config resumes there: finished trials are kept, and the interrupted one runs again.
KerasTuner's state files are written atomically, each with a verified copy, and repaired before a resume
if they were damaged anyway (``core.search.state``); ``SearchStarted.repairs`` says what was rolled back.
A changed search space gets a new directory, and the ``SearchStarted`` message says which it is.

Distributed: with ``KERASTUNER_TUNER_ID`` / ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT`` set
(``lepton tune --chief`` / ``--worker``), the chief serves the oracle (``core.search.chief``) and needs no
data; each worker prepares the data and runs trials.

Example (trains, so shown rather than run; tests/test_tuning.py runs it)::

    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.base.events import ListSink
    from lepton_widgets.core.base.job import Job
    cfg = RunConfig.from_dict({"data": {"dataset": "digits", "max_per_class": 30},
        "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32},
        "train": {"epochs": 1, "fine_tune_epochs": 0},
        "tuner": {"max_trials": 3, "learning_rate": [1e-4, 1e-2], "dropout": [0.0, 0.5]}})
    result = run_search(cfg, Job(sink=ListSink()), runs_dir="/tmp/lepton-doc-runs")
    result.best["score"], result.best_config().train.learning_rate
    run_experiment(result.best_config(), Job())       # "use best": a normal run in the run store
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import keras_tuner as kt
from keras_tuner.src.engine.stateful import Stateful  # not exported; checked with keras-tuner 1.4.8

from lepton_widgets.config import RunConfig
from lepton_widgets.core.base.atomic import atomic_write_text
from lepton_widgets.core.base.events import Cancelled, fanout, null_sink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.paths import default_runs_dir
from lepton_widgets.core.runs.store import dump_json
from lepton_widgets.core.search.chief import serve_oracle
from lepton_widgets.core.search.events import SearchFinished, SearchStarted, TrialEnded, TrialEpoch, TrialStarted
from lepton_widgets.core.search.hypermodel import SearchHyperModel, SearchStopped
from lepton_widgets.core.search.state import (make_oracle_writes_atomic, rebuild_oracle, repair_search_state,
                                              write_state)
from lepton_widgets.core.search.space import (differences, fingerprint, read_trials, search_id, searched_values, slug,
                                              space_digest, trial_config)
from lepton_widgets.core.tasks import task_for_config
from lepton_widgets.i18n import _

SEARCHES_DIR = "searches"
DONE_STATUSES = ("COMPLETED", "FAILED")


def distributed_role(environ: Optional[dict] = None) -> str:
    """``local``, ``chief`` or ``worker``, from KerasTuner's environment variables.

    >>> distributed_role({}), distributed_role({"KERASTUNER_ORACLE_IP": "h", "KERASTUNER_TUNER_ID": "chief"})
    ('local', 'chief')
    """
    env = os.environ if environ is None else environ
    if "KERASTUNER_ORACLE_IP" not in env:
        return "local"
    return "chief" if "chief" in env.get("KERASTUNER_TUNER_ID", "") else "worker"


def planned_trials(cfg: RunConfig) -> int:
    """How many trials the search runs: ``max_trials``, or what Hyperband's brackets add up to."""
    tuner = cfg.tuner
    if tuner.algorithm != "hyperband":
        return tuner.max_trials
    # HyperbandOracle._get_num_brackets / _get_size (keras-tuner 1.4.8), summed over rounds.
    max_epochs, factor = hyperband_max_epochs(cfg), tuner.hyperband_factor
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    per_iteration = sum(math.ceil(end_size / (b + 1) * factor ** (b - r)) for b in range(brackets)
                        for r in range(b + 1))
    return per_iteration * tuner.hyperband_iterations


def hyperband_max_epochs(cfg: RunConfig) -> int:
    """Hyperband's ``max_epochs``: the head epochs, plus the fine-tune epochs when some trial can unfreeze."""
    head = cfg.tuner.epochs or cfg.train.epochs
    depths = cfg.tuner.frozen_depth if cfg.tuner.frozen_depth is not None else [cfg.backbone.frozen_depth]
    can_fine_tune = any(d is not None for d in depths) and cfg.train.fine_tune_epochs > 0
    return head + (cfg.train.fine_tune_epochs if can_fine_tune else 0)


@dataclass
class SearchPlan:
    """Where a search lives and whether it resumes; ``message`` tells the user, in words."""

    config: RunConfig
    root: Path                      # <runs_dir>/searches (KerasTuner's ``directory``)
    search_id: str                  # KerasTuner's ``project_name``
    resumed: bool
    completed: int
    total: int
    previous: Optional[str] = None  # the latest other search of the same name, when the space changed
    changes: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def directory(self) -> Path:
        return self.root / self.search_id


def plan_search(cfg: RunConfig, runs_dir: Optional[str | Path] = None) -> SearchPlan:
    """Decide where ``cfg``'s search lives and whether it resumes; nothing is written."""
    root = Path(runs_dir if runs_dir is not None else default_runs_dir()) / SEARCHES_DIR
    # The same space under another run name (e.g. after "use best" renamed the Session) is the same search.
    same = sorted(root.glob(f"*-{space_digest(cfg)}/oracle.json"), key=lambda p: p.stat().st_mtime)
    sid = same[-1].parent.name if same else search_id(cfg)
    directory = root / sid
    resumed = (directory / "oracle.json").exists()
    completed = sum(row["status"] in DONE_STATUSES for row in read_trials(directory)) if resumed else 0
    plan = SearchPlan(config=cfg, root=root, search_id=sid, resumed=resumed, completed=completed,
                      total=planned_trials(cfg))
    if resumed:
        plan.message = _resume_message(plan)
        return plan
    previous = _latest_search_named(root, cfg.name, exclude=sid)
    if previous is not None:
        plan.previous = previous.name
        old = json.loads((previous / "search.json").read_text(encoding="utf-8")).get("fingerprint", {})
        plan.changes = differences(old, fingerprint(cfg))
        shown = "; ".join(plan.changes[:4]) + (_("; and {count} more").format(count=len(plan.changes) - 4)
                                               if len(plan.changes) > 4 else "")
        plan.message = _("The search space changed since search {previous} ({changes}): starting a new "
                         "search {search}. Folder: {folder}").format(previous=previous.name, changes=shown, search=sid,
                                                                     folder=directory)
    else:
        plan.message = _("Starting a new search {search}. Folder: {folder}").format(search=sid, folder=directory)
    return plan


def _resume_message(plan: SearchPlan) -> str:
    left = _("all trials are done (raise tuner.max_trials to continue)") if plan.completed >= plan.total else \
        _("{done} of {total} trials done").format(done=plan.completed, total=plan.total)
    return _("Resuming search {search}: {left}. Folder: {folder}").format(search=plan.search_id, left=left,
                                                                          folder=plan.directory)


def _latest_search_named(root: Path, name: str, exclude: str) -> Optional[Path]:
    prefix = f"{slug(name)}-"
    candidates = [p for p in root.glob(f"{prefix}*/search.json")
                  if p.parent.name != exclude and len(p.parent.name) == len(prefix) + 10]  # not "<name>-x-<digest>"
    return max(candidates, key=lambda p: p.stat().st_mtime).parent if candidates else None


@dataclass
class SearchResult:
    """A search's outcome, read back from its folder: every trial, and the best completed one."""

    plan: SearchPlan
    status: str                     # finished, cancelled, or stored (opened from disk)
    trials: list[dict] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def directory(self) -> Path:
        return self.plan.directory

    @property
    def completed(self) -> list[dict]:
        return [t for t in self.trials if t["status"] == "COMPLETED" and t["score"] is not None]

    @property
    def best(self) -> Optional[dict]:
        """The best completed trial's row (see ``space.read_trials``), or None."""
        pick = max if self.plan.config.tuner.objective.endswith("accuracy") else min
        return pick(self.completed, key=lambda t: t["score"]) if self.completed else None

    def best_config(self, name: Optional[str] = None) -> Optional[RunConfig]:
        """The best trial as a plain RunConfig ("use best": pass it to ``run_experiment``)."""
        best = self.best
        if best is None:
            return None
        cfg = self.plan.config
        return trial_config(cfg, best["hyperparameters"], name=name or f"{cfg.name}-best",
                            n_blocks=task_for_config(cfg).search_trials(cfg).n_blocks)


def open_search(directory: str | Path) -> SearchResult:
    """A stored search (its ``search.json`` and trials), e.g. to use its best trial later."""
    directory = Path(directory)
    info = json.loads((directory / "search.json").read_text(encoding="utf-8"))
    cfg = RunConfig.from_dict(info["config"])
    plan = SearchPlan(config=cfg, root=directory.parent, search_id=directory.name, resumed=True,
                      completed=0, total=planned_trials(cfg))
    trials = read_trials(directory)
    plan.completed = sum(t["status"] in DONE_STATUSES for t in trials)
    return SearchResult(plan=plan, status="stored", trials=trials)


class _Reporter:
    """Turns tuner hooks into search events and checks the stop event; held by the tuner, not a callback."""

    def __init__(self, plan: SearchPlan, hypermodel: SearchHyperModel, job: Job) -> None:
        self.plan, self.hypermodel, self.job = plan, hypermodel, job
        self.sink = job.sink
        self.objective = plan.config.tuner.objective
        self.started = time.monotonic()
        self.trial_started: dict[str, float] = {}
        self.trial_epochs: dict[str, int] = {}
        self.durations: list[float] = []
        self.ended = 0  # trials this process saw end

    def check_stop(self) -> None:
        if self.job.stopped:
            raise SearchStopped("stop requested")

    def _ids(self, trial) -> tuple[str, int]:
        return trial.trial_id, int(trial.trial_id) + 1

    def trial_started_event(self, trial, path: str, epochs: int, started: Optional[float] = None) -> None:
        trial_id, number = self._ids(trial)
        self.trial_started[trial_id] = started if started is not None else time.monotonic()
        self.trial_epochs[trial_id] = epochs
        self.sink(TrialStarted(run_id=self.plan.search_id, trial_id=trial_id, number=number,
                               total=self.plan.total, epochs=epochs, path=path,
                               hyperparameters=searched_values(trial.hyperparameters.values)))

    def trial_began(self, trial) -> None:
        values = trial.hyperparameters.values
        plan = self.hypermodel.plan(searched_values(values))
        self.trial_started_event(trial, plan.path, int(values.get("tuner/epochs", plan.epochs)))

    def epoch_ended(self, trial, epoch: int, logs: Optional[dict]) -> None:
        trial_id, number = self._ids(trial)
        metrics = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        self.sink(TrialEpoch(run_id=self.plan.search_id, trial_id=trial_id, number=number, total=self.plan.total,
                             epoch=epoch + 1, epochs=self.trial_epochs.get(trial_id, 0), metrics=metrics))

    def trial_ended(self, trial, oracle, finished: Optional[int], workers: int = 1) -> None:
        """``trial`` as the oracle holds it after ``end_trial`` (with its score)."""
        trial_id, number = self._ids(trial)
        self.ended += 1
        elapsed = time.monotonic() - self.trial_started.pop(trial_id, time.monotonic())
        self.trial_epochs.pop(trial_id, None)
        status = str(trial.status)
        if status == "COMPLETED":
            self.durations.append(elapsed)
        best = oracle.get_best_trials(1)
        best = best[0] if best and best[0].status == "COMPLETED" else None
        eta = None
        if finished is not None and self.durations:
            eta = statistics.fmean(self.durations) * max(self.plan.total - finished, 0) / max(workers, 1)
        metrics = {}
        for name in trial.metrics.metrics:
            value = trial.metrics.get_best_value(name)
            if value is not None:
                metrics[name] = float(value)
        self.sink(TrialEnded(
            run_id=self.plan.search_id, trial_id=trial_id, number=number, total=self.plan.total,
            hyperparameters=searched_values(trial.hyperparameters.values), status=status,
            score=None if trial.score is None else float(trial.score), objective=self.objective, metrics=metrics,
            best_score=None if best is None else float(best.score),
            best_number=None if best is None else int(best.trial_id) + 1,
            elapsed=elapsed, search_elapsed=time.monotonic() - self.started, eta=eta,
            message=(trial.message or "")[-2000:]))


def repair_after_kill(oracle) -> None:
    """Make a reloaded oracle agree with its trial files after a kill at an unlucky moment.

    KerasTuner writes ``trial_N/trial.json`` and then ``oracle.json``. Killed in between, a finished trial
    is still "ongoing" in ``oracle.json`` (and would run again), or a trial just created is unknown to it
    (and would count against ``max_trials`` without ever running). The trial files are the truth here.
    """
    queue, ongoing = oracle._retry_queue, {t.trial_id for t in oracle.ongoing_trials.values()}  # noqa: SLF001
    for trial_id, trial in oracle.trials.items():
        if trial.status in DONE_STATUSES:
            while trial_id in queue:
                queue.remove(trial_id)
            if trial_id not in oracle.end_order:
                oracle.end_order.append(trial_id)
        elif trial.status == "RUNNING" and trial_id not in queue and trial_id not in ongoing:
            queue.append(trial_id)
            if trial_id not in oracle.start_order:
                oracle.start_order.append(trial_id)


class _Reporting:
    """Mixin for KerasTuner tuners: progress events and Stop through the tuner hooks (each calls super())."""

    def __init__(self, *args, reporter: _Reporter, rebuild_oracle: bool = False, **kwargs) -> None:
        self._reporter = reporter
        self._rebuild_oracle = rebuild_oracle  # oracle.json was lost: reload() rebuilds it from the trials
        super().__init__(*args, **kwargs)  # reloads a resumed search
        if not self._is_worker():
            make_oracle_writes_atomic(self.oracle)  # a kill mid-write must not leave half a file

    def save(self):
        # BaseTuner.save, written atomically with a verified copy (KerasTuner writes in place).
        if not self._is_worker():
            self.oracle.save()
        write_state(self._get_tuner_fname(), json.dumps(self.get_state()))

    def _populate_initial_space(self):
        # KerasTuner builds the hypermodel once just to collect the space; skip the heavy part (models,
        # feature extraction), which the chief of a distributed search must never do.
        self.hypermodel.declaring = True
        try:
            super()._populate_initial_space()
        finally:
            self.hypermodel.declaring = False

    def reload(self):
        if self._rebuild_oracle and not self._is_worker():
            rebuild_oracle(self.oracle, self._populate_initial_space)
            Stateful.reload(self, self._get_tuner_fname())  # BaseTuner.reload, less the oracle's part
        else:
            super().reload()
        if not self._is_worker():
            repair_after_kill(self.oracle)

    def _try_build(self, hp):
        # KerasTuner clears the Keras session and collects garbage before every build (about 0.6 s here);
        # a head-only trial reuses the search's traced head on purpose, so skip that for it.
        if self.hypermodel.shares_model(hp):
            return self._build_hypermodel(hp)  # Hyperband's override still loads the continued trial's weights
        return super()._try_build(hp)

    def on_search_begin(self):
        super().on_search_begin()
        self.save()  # so that a search killed during its first trial resumes (KerasTuner saves after trials)

    def pre_create_trial(self):
        super().pre_create_trial()
        self._reporter.check_stop()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._reporter.trial_began(trial)

    def on_batch_end(self, trial, model, batch, logs=None):
        super().on_batch_end(trial, model, batch, logs)
        self._reporter.check_stop()

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs=logs)
        self._reporter.epoch_ended(trial, epoch, logs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # the oracle scores and records the trial here
        worker = self._is_worker()
        ended = self.oracle.get_trial(trial.trial_id)  # from the chief when distributed: it holds the score
        self._reporter.trial_ended(ended, self.oracle, finished=None if worker else len(self.oracle.end_order))


class LeptonRandomSearch(_Reporting, kt.RandomSearch):
    """KerasTuner ``RandomSearch`` that reports to an event sink and stops on an Event (see module doc)."""


class LeptonBayesianOptimization(_Reporting, kt.BayesianOptimization):
    """KerasTuner ``BayesianOptimization`` that reports to an event sink and stops on an Event."""


class LeptonHyperband(_Reporting, kt.Hyperband):
    """KerasTuner ``Hyperband`` that reports to an event sink and stops on an Event."""


def make_tuner(cfg: RunConfig, hypermodel: SearchHyperModel, plan: SearchPlan, reporter: _Reporter,
               rebuild_oracle: bool = False):
    """The configured KerasTuner tuner over ``hypermodel``, in ``plan``'s folder, never overwriting it."""
    tuner = cfg.tuner
    direction = "max" if tuner.objective.endswith("accuracy") else "min"
    common = dict(hypermodel=hypermodel, objective=kt.Objective(tuner.objective, direction),
                  directory=str(plan.root), project_name=plan.search_id, overwrite=False, seed=cfg.seed,
                  reporter=reporter, rebuild_oracle=rebuild_oracle)
    if tuner.algorithm == "random":
        return LeptonRandomSearch(max_trials=tuner.max_trials, **common)
    if tuner.algorithm == "bayesian":
        return LeptonBayesianOptimization(max_trials=tuner.max_trials, **common)
    return LeptonHyperband(max_epochs=hyperband_max_epochs(cfg), factor=tuner.hyperband_factor,
                           hyperband_iterations=tuner.hyperband_iterations, **common)


def _write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, dump_json(value))  # a reader (a worker, the panel) never sees half a file


def run_search(cfg: RunConfig, job: Optional[Job] = None, *, runs_dir: Optional[str | Path] = None) -> SearchResult:
    """Search ``cfg.tuner``'s space around ``cfg``; resumes the same search if it exists.

    The config's task trains the trials (``task.search_trials``: pictures, sounds, texts and tables); a task
    without the step is refused in words. ``job`` carries the event sink and the stop request (none: a
    silent search nobody stops).

    Returns the result with ``status`` ``finished`` or ``cancelled`` (stopped: run it again to resume);
    anything else that goes wrong is raised, after a ``SearchFinished`` event with status ``failed``.
    Emits ``SearchStarted``, then per trial ``TrialStarted`` / ``TrialEpoch`` / ``TrialEnded``, then
    ``SearchFinished``; the data's and the feature extraction's ``Progress`` events pass through too.
    """
    cfg.validate()
    task = task_for_config(cfg)
    task.require("search", f"searching {cfg.data.dataset!r}")
    job = job or Job()
    trials = task.search_trials(cfg, None)  # its Job comes below, once the search has its id
    trials.check()  # refuse what this data cannot search before anything starts
    role = distributed_role()
    plan = plan_search(cfg, runs_dir)
    emit = fanout(job.sink) if job.sink is not null_sink else null_sink
    repair = repair_search_state(plan.directory, os.environ.get("KERASTUNER_TUNER_ID", "tuner0")) \
        if role != "worker" else None  # a worker keeps no search state of its own: the chief repairs
    if repair is not None and repair.messages:  # say what was rolled back, then what resumes
        plan.resumed = True
        plan.completed = sum(row["status"] in DONE_STATUSES for row in read_trials(plan.directory))
        said = "; ".join(repair.messages)
        plan.message = f"{said[:1].upper()}{said[1:]}. {_resume_message(plan)}"
    plan.directory.mkdir(parents=True, exist_ok=True)
    _write_json(plan.directory / "search.json",
                {"search_id": plan.search_id, "config": cfg.to_dict(), "fingerprint": fingerprint(cfg)})
    if role == "worker":
        plan.message = _("Worker {worker} joining search {search} (oracle at {host}:{port}).").format(
            worker=os.environ.get("KERASTUNER_TUNER_ID"), search=plan.search_id,
            host=os.environ.get("KERASTUNER_ORACLE_IP"), port=os.environ.get("KERASTUNER_ORACLE_PORT"))
    emit(SearchStarted(run_id=plan.search_id, search_id=plan.search_id, directory=str(plan.directory),
                       algorithm=cfg.tuner.algorithm, role=role, resumed=plan.resumed, completed=plan.completed,
                       total=plan.total, searched=cfg.tuner.searched(), message=plan.message,
                       repairs=repair.messages if repair is not None else []))
    started = time.monotonic()
    status = "finished"
    search_job = job.child(run_id=plan.search_id, sink=emit)
    trials = task.search_trials(cfg, search_job)
    hypermodel = SearchHyperModel(cfg, trials)
    reporter = _Reporter(plan, hypermodel, search_job)
    try:
        if role != "chief":  # the chief only serves the oracle: it never trains, so it needs no data
            hypermodel.prepare()
        tuner = make_tuner(cfg, hypermodel, plan, reporter,
                           rebuild_oracle=repair is not None and repair.rebuild_oracle)
        if role == "chief":
            serve_oracle(
                tuner, job=search_job,
                on_trial_start=lambda trial, tuner_id, t0: reporter.trial_started_event(
                    trial, f"worker {tuner_id}", int(trial.hyperparameters.values.get("tuner/epochs", 0)), t0),
                on_trial_end=lambda trial, t0: reporter.trial_ended(
                    trial, tuner.oracle, finished=len(tuner.oracle.end_order),
                    workers=max(1, len(tuner.oracle.tuner_ids))))
        else:
            tuner.search(verbose=0)
    except Cancelled:
        status = "cancelled"
    except Exception:
        emit(SearchFinished(run_id=plan.search_id, search_id=plan.search_id, directory=str(plan.directory),
                            status="failed", role=role, total=plan.total, objective=cfg.tuner.objective,
                            elapsed=time.monotonic() - started))
        raise
    result = SearchResult(plan=plan, status=status, trials=read_trials(plan.directory),
                          elapsed=time.monotonic() - started)
    best = result.best
    if role != "worker" and best is not None:
        _write_json(plan.directory / "best.json", {"search_id": plan.search_id, "objective": cfg.tuner.objective,
                                                    **best, "config": result.best_config().to_dict()})
    if role == "worker":  # the chief holds the search's results; a worker reports what it ran
        best, completed = None, reporter.ended
    else:
        completed = sum(t["status"] in DONE_STATUSES for t in result.trials)
    emit(SearchFinished(
        run_id=plan.search_id, search_id=plan.search_id, directory=str(plan.directory), status=status, role=role,
        completed=completed, total=plan.total,
        best_trial_id=best and best["trial_id"], best_number=best and best["number"],
        best_score=best and best["score"], best_hyperparameters=best["hyperparameters"] if best else {},
        objective=cfg.tuner.objective, elapsed=result.elapsed))
    return result
