"""The Runner: one job at a time in a worker thread, cancellable, turning engine events into Session traits.

A blocking ``fit()`` in a notebook cell freezes every widget, so nothing long runs on the kernel's main
thread: a button click calls :meth:`Runner.train` (or :meth:`Runner.submit`), which returns at once. The
worker thread writes Session traits; ipywidgets sends those changes to the browser from the thread
(ipykernel's comm messages are thread-safe), which is how curves update live under Voilà.

Exceptions never escape the worker: they become ``status = "failed"`` with a readable ``last_error`` and
the full ``last_traceback``, and the Session is usable again.

On a shared server (a room: ``LEPTON_QUEUE_DIR`` set in every kernel's environment), the jobs that keep the CPU
busy (:data:`QUEUED_JOBS`) first wait for a slot of the :class:`~lepton_widgets.core.base.training_queue.TrainingQueue`,
so at most N of them run at once across every kernel; meanwhile the status is ``"waiting"`` and the message
says the place in line ("3rd in line"), and Stop leaves the line.

Example:
    >>> from lepton_widgets.state.session import Session
    >>> session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32, epochs=1)
    >>> runner = Runner(session, runs_dir="/tmp/lepton-doc-runs")
    >>> thread = runner.train()          # doctest: +SKIP
    >>> runner.stop(); runner.wait()     # doctest: +SKIP
"""

from __future__ import annotations

import threading
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Optional

from lepton_widgets.core.base.events import Cancelled, Event, EventSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.base.training_queue import QueueCancelled, TrainingQueue, ordinal
from lepton_widgets.core.data.table import DataError
from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.i18n import N_, _
from lepton_widgets.core.runs.store import RunStore, check_run_name, default_run_name
from lepton_widgets.state.session import BUSY_STATUSES, Session


#: Jobs that keep the CPU busy for long: on a shared server they wait for a training slot first. Checking data,
#: predicting and exporting are short and run at once.
QUEUED_JOBS = frozenset({"train", "search", "auto", "fuse", "update", "rank backbones", "robustness"})

#: The Progress task of a run's test-split evaluation (``core.evaluation.evaluate_model``).
EVALUATION_TASK = "evaluate"

#: Words for the engine's phase and task names in the status line (the names themselves stay as they are:
#: they are keys in the history and the events). A task may carry a detail: "extract features (train)".
PHASE_LABELS = {"head": N_("training the new head"), "fine_tune": N_("fine-tuning"), "distill": N_("distilling"),
                "train": N_("training the model"), "update": N_("updating")}
TASK_LABELS = {"validate": N_("checking the data"), "extract features": N_("extracting features"),
               "evaluate": N_("evaluating"), "predict": N_("predicting"), "cross-validation": N_("cross-validation"),
               "data doctor": N_("checking the data"), "rank backbones": N_("ranking pretrained networks"),
               "rank table models": N_("ranking table models"), "rank text encoders": N_("ranking text encoders"),
               "synthesise": N_("making examples"), "export": N_("exporting"),
               "export: loading data and model": N_("exporting: loading data and model")}
SPLIT_LABELS = {"train": N_("train"), "val": N_("val"), "test": N_("test")}


def phase_label(phase: str) -> str:
    """A training phase in words, in the current language (``"fine_tune"`` -> ``"fine-tuning"``)."""
    return _(PHASE_LABELS[phase]) if phase in PHASE_LABELS else phase


def task_label(task: str) -> str:
    """A Progress task in words, in the current language, its detail kept: ``"extract features (train)"``."""
    if task in TASK_LABELS:
        return _(TASK_LABELS[task])
    base, _sep, detail = task.partition(" (")
    if base in TASK_LABELS and detail.endswith(")"):
        inner = detail[:-1]
        return _("{task} ({detail})").format(task=_(TASK_LABELS[base]),
                                             detail=_(SPLIT_LABELS[inner]) if inner in SPLIT_LABELS else inner)
    return task


class BusyError(RuntimeError):
    """A job is already running; the Session runs one job at a time."""


class Runner:
    """Runs Session jobs in a worker thread and reflects their events in the Session."""

    def __init__(self, session: Session, runs_dir: Optional[str | Path] = None,
                 queue: Optional[TrainingQueue] = None) -> None:
        self.session = session
        #: The shared training queue (``LEPTON_QUEUE_DIR``), or None: jobs run at once.
        self.queue = queue if queue is not None else TrainingQueue.from_env()
        self.store = RunStore(runs_dir)
        self.job = Job(sink=self.on_event)  # the current (or last) unit of work; each submit makes a new one
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self.result: Any = None
        self.last_exception: Optional[BaseException] = None  # e.g. a DataError carrying its report

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job: str, work: Callable[[Job], Any], on_done: Optional[Callable[[Any], None]] = None,
               *, sink: Optional[EventSink] = None, queued: Optional[bool] = None) -> threading.Thread:
        """Run ``work(job)`` in the worker thread; ``on_done(result)`` runs there afterwards.

        ``job`` is a fresh :class:`~lepton_widgets.core.base.job.Job` for this unit of work: its events go to
        ``sink`` (default :meth:`on_event`, the Session's traits) and :meth:`stop` sets its stop request.
        ``queued`` (default: the job's name is in :data:`QUEUED_JOBS`) makes ``work`` wait for a slot of the
        shared training queue first, when there is one.
        """
        queued = (job in QUEUED_JOBS) if queued is None else queued
        with self._lock:
            if self.busy:
                raise BusyError(_("'{job}' is still running; press Stop or wait for it").format(job=self.session.job))
            self.job = Job(sink=sink or self.on_event)
            session = self.session
            session.job, session.last_error, session.last_traceback = job, "", ""
            session.progress = {}
            session.status = "preparing"
            self._thread = threading.Thread(target=self._work, args=(work, self.job, on_done, queued),
                                            name=f"lepton-{job}", daemon=True)
            self._thread.start()
            return self._thread

    def _work(self, work, job: Job, on_done, queued: bool = False) -> None:
        session = self.session
        self.last_exception = None
        try:
            with self._training_slot(job) if queued else nullcontext():
                self.result = work(job)
            if on_done is not None:
                on_done(self.result)
            if session.status in BUSY_STATUSES:
                session.status = "cancelled" if job.stopped else "finished"
        except Cancelled:
            session.status = "cancelled"
        except QueueCancelled:
            session.message = _("left the queue before its turn")
            session.status = "cancelled"
        except Exception as error:  # the kernel must survive anything a job does
            self.last_exception = error
            session.last_error = f"{type(error).__name__}: {error}"
            session.last_traceback = traceback.format_exc()
            # An error raised for the person (bad data, a bad setting) already says what to do, in their
            # language: the status line shows it without the exception's class name.
            session.message = str(error) if isinstance(error, (ConfigError, DataError)) else session.last_error
            session.status = "failed"
            session.runs_version += 1  # a failed training run is stored too: run lists must refresh

    def _training_slot(self, job: Job):
        """A held slot of the shared training queue (waiting in line first), or nothing when there is no queue.

        Leaving the ``with`` frees the slot, whether the work finished, failed or was stopped; a kernel that
        dies frees it too (the queue's file lock goes with the process).
        """
        if self.queue is None:
            return nullcontext()
        session = self.session

        def in_line(place: int) -> None:
            if session.status != "stopping":
                session.status = "waiting"
                session.message = _("{place} in line").format(place=ordinal(place))

        slot = self.queue.acquire(should_stop=lambda: job.stopped, on_wait=in_line)
        if session.status == "waiting":
            session.status, session.message = "preparing", _("your turn: starting")
        return slot

    def stop(self) -> None:
        """Ask the job to stop; the engine checks between batches (a job waiting in line leaves it)."""
        if self.busy:
            waiting = self.session.status == "waiting"
            self.job.stop()
            self.session.status = "stopping"
            self.session.message = _("leaving the queue...") if waiting else _("stopping after the current batch...")

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job ends (tests, scripts); True when nothing is running any more."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.busy

    # --- jobs -----------------------------------------------------------------------------------

    def train(self) -> threading.Thread:
        """Train and evaluate the Session's config as a new run."""
        if self.busy:  # checked before clearing anything: a running job keeps its curves
            raise BusyError(_("'{job}' is still running; press Stop or wait for it").format(job=self.session.job))
        cfg = self.session.to_config()  # a ConfigError here is raised to the caller, before any thread
        if self.session.name == RunConfig.name:  # the untouched default: say what was trained, not "run"
            self.session.name = default_run_name(cfg)
        try:
            name = check_run_name(self.session.name)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        cfg = cfg.replace(name=name)
        self.session.history = []
        self.session.evaluation = {}
        self.session.selected_cell = None

        def work(job: Job):
            # Imported here, in the worker: the first import of TensorFlow takes seconds and must not
            # freeze the widgets.
            from lepton_widgets.core.tasks import run_experiment

            return run_experiment(cfg, job, store=self.store)

        def done(record):
            self.session.status = record.status
            self.session.current_run = record.run_id
            self.session.runs_version += 1
            evaluation = record.evaluation
            if evaluation:
                self.session.evaluation = evaluation
            # Panels show the status beside the message, so the message does not repeat it.
            accuracy = record.metrics.get("accuracy")
            self.session.message = (_("test accuracy {accuracy}").format(accuracy=f"{accuracy:.3f}")
                                    if accuracy is not None
                                    else _("run {run} saved with the epochs it finished").format(run=record.run_id))

        return self.submit("train", work, done)

    def prepare_data(self) -> threading.Thread:
        """Load and validate the Session's dataset (for the Dataset panel's report and samples)."""
        cfg = self.session.to_config()

        def work(job: Job):
            from lepton_widgets.core.data import prepare_data

            return prepare_data(cfg.data, cfg.seed, job=job)

        def done(prepared):
            self.session.prepared = prepared
            self.session.data_report = prepared.report
            self.session.message = prepared.report.summary().splitlines()[0]

        return self.submit("prepare data", work, done)

    # --- events -> traits -----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Engine event sink: runs in the worker thread and only sets traits."""
        session = self.session
        kind = event.kind
        if kind == "run_started":
            session.current_run = event.run_id
            session.runs_version += 1
        elif kind == "progress":
            if event.task.startswith(EVALUATION_TASK) and session.status == "running":
                session.status = "evaluating"  # not "finished" yet: the test split is being predicted
            session.progress = {"task": event.task, "done": event.done, "total": event.total}
            session.message = (_("on the test split: {done}/{total}").format(done=event.done, total=event.total)
                               if session.status == "evaluating"
                               else _("{task}: {done}/{total}").format(task=task_label(event.task), done=event.done,
                                                                      total=event.total))
        elif kind == "phase_started":
            if session.status != "stopping":
                session.status = "running"
            template = (_("{phase}: {epochs} epochs, {params} trainable parameters on cached features")
                        if event.cached_features else _("{phase}: {epochs} epochs, {params} trainable parameters"))
            session.message = template.format(phase=phase_label(event.phase), epochs=event.epochs,
                                              params=f"{event.trainable_params:,}")
        elif kind == "batch_progress":
            session.progress = {"task": f"epoch {event.epoch}", "done": event.step, "total": event.steps}
        elif kind == "epoch_ended":
            # Batch progress is sent at most twice a second, so its last value may be an early step: an
            # ended epoch shows a full bar (else a finished run would stand beside a bar that barely started).
            progress = session.progress or {}
            if progress.get("total"):
                session.progress = {**progress, "done": progress["total"]}
            session.history = session.history + [{"epoch": event.epoch, "phase": event.phase, **event.metrics}]
            session.message = _("epoch {epoch}/{epochs} ({phase})").format(epoch=event.epoch, epochs=event.epochs,
                                                                            phase=phase_label(event.phase))
        elif kind == "run_failed":
            session.last_error, session.last_traceback = event.error, event.traceback
