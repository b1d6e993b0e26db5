"""Model fusion: combine two or more finished runs into one new run.

Methods (``METHODS``):

``ensemble``
    Average the members' class probabilities with weights optimised on the validation split (log-loss
    over the probability simplex, ``core/fusion/ensemble.py``). Members may differ in backbone.
``uniform-soup`` / ``greedy-soup``
    Average the members' *weights* into one model of the same size (Wortsman et al. 2022, "Model
    soups"). Only valid for runs that share architecture and initial weights (``core/fusion/soup.py``).
    The greedy soup adds members in order of validation accuracy and keeps each one only if the soup's
    validation accuracy does not drop, so it is never worse than the best member on the validation split.
``distill``
    Train one member-sized student on the optimised ensemble's soft labels (the task trains it: pictures
    stream their images, ``core/tasks/image/distill.py``; texts and tables fit in memory,
    ``core/tasks/fusing.py``).

Members are runs of one task, pictures, sounds, texts or tables; the task's fusion kit
(``task.fusion_kit()``, ``core/tasks/<kind>/fusion.py``) says what members must share and how they read
the data, so nothing here asks which kind of data it is.

Every fused model is stored as a normal run of that task (``model.keras``, ``metrics.json``, ``evaluation.json``,
``predictions.csv``, ``split.json``...), so the Runs and Evaluate panels, ``lepton eval`` and ``lepton
predict`` work on it, plus ``fusion.json``: the method, the members with their validation and test
metrics (and ensemble weights or soup membership) and the fused model's own.

This module holds the cheap parts (checks on the runs' configs, the comparison table); :func:`fuse` loads
the engine (``core/fusion/run.py``) when it is called.

Example:
    >>> import tempfile
    >>> from lepton_widgets.config import RunConfig
    >>> from lepton_widgets.core.runs.store import RunStore
    >>> store = RunStore(tempfile.mkdtemp())
    >>> runs = []
    >>> for seed in (1, 2):
    ...     writer = store.create(RunConfig(name="m", seed=seed))
    ...     writer.extra["class_names"] = ["a", "b"]
    ...     _ = (writer.path / "model.keras").write_bytes(b"")  # stands in for a trained model: only configs are read
    ...     runs.append(writer.finalize("finished"))
    >>> check_compatible(runs, "ensemble")
    Traceback (most recent call last):
    ...
    ValueError: ensemble needs runs made on the same data and split, but seed differs: ...
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

import pandas as pd

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.fusion.methods import FUSION_FILE, METHODS, SOUPS
from lepton_widgets.core.tasks import task_for_run
from lepton_widgets.i18n import N_, _


def _fail(method: str, what: str, differences: list[str]) -> None:
    raise ValueError(_("{method} needs {what}, but {differences}").format(
        method=method, what=_(what), differences=_("; ").join(differences)))


def _differences(label: str, values: dict[str, Any]) -> list[str]:
    """``["seed differs: run a 1, run b 2"]`` when the runs do not all have the same value."""
    if len({repr(v) for v in values.values()}) <= 1:
        return []
    shown = ", ".join(f"{run_id} {value!r}" for run_id, value in values.items())
    return [_("{label} differs: {values}").format(label=_(label), values=shown)]


def _field_differences(records: Sequence[RunRecord], fields: Callable[[RunRecord], dict]) -> list[str]:
    """Differences between the runs in each labelled value ``fields(record)`` gives (the task says which)."""
    values = {r.run_id: fields(r) for r in records}
    labels = list(next(iter(values.values())))
    return [d for label in labels for d in _differences(label, {i: v.get(label) for i, v in values.items()})]


def _fusion_kit(records: Sequence[RunRecord], method: str):
    """The members' one task's fusion kit; ``ValueError`` for runs of several kinds of data or a task
    without fusion."""
    tasks = {r.run_id: task_for_run(r) for r in records}
    kinds = {task.name for task in tasks.values()}
    if len(kinds) > 1:
        shown = ", ".join(_("{run} on {data}").format(run=run_id, data=_(task.words)) for run_id, task in tasks.items())
        raise ValueError(_("{method} needs runs trained on one kind of data, but these were trained on "
                           "different kinds ({runs}); fuse pictures with pictures, texts with texts").format(
            method=method, runs=shown))
    task = next(iter(tasks.values()))
    task.require("fusion", _("run {run}").format(run=records[0].run_id))
    return task.fusion_kit()


def check_compatible(records: Sequence[RunRecord], method: str) -> None:
    """Raise ``ValueError`` saying what is wrong when ``records`` cannot be fused with ``method``.

    Checks only what the stored files say (no model is loaded): at least two distinct finished runs with
    saved models, all of one task (pictures, sounds, texts or tables: never mixed) that supports fusion; the
    same class names, data settings and seed (so the same validation and test rows); the same input, as the
    task's fusion kit says (pictures: the image size; texts: the encoder; tables: the columns); for soups also
    the same start, as the kit says (architecture and initial weights). The weight shapes of soup members
    are checked again when the models are loaded.
    """
    if method not in METHODS:
        raise ValueError(_("unknown fusion method {method}; choose one of {methods}").format(
            method=repr(method), methods=", ".join(METHODS)))
    ids = [r.run_id for r in records]
    if len(records) < 2:
        raise ValueError(_("{method} needs at least two runs, got {count}").format(method=method, count=len(records)))
    if len(set(ids)) != len(ids):
        raise ValueError(_("a run is listed twice: {runs}").format(
            runs=", ".join(sorted({i for i in ids if ids.count(i) > 1}))))
    unusable = [_("{run} is {status}").format(run=r.run_id, status=_(r.status)) for r in records
                if r.status != "finished"]
    unusable += [_("{run} has no saved model").format(run=r.run_id) for r in records
                 if r.status == "finished" and not r.model_path.exists()]
    if unusable:
        _fail(method, N_("finished runs with saved models"), unusable)
    kit = _fusion_kit(records, method)
    configs = {r.run_id: r.config for r in records}
    same_data = _differences(N_("class names"), {r.run_id: list(r.class_names) for r in records})
    same_data += _differences(N_("seed"), {i: c.seed for i, c in configs.items()})
    data_fields = [f.name for f in dataclasses.fields(next(iter(configs.values())).data)]
    for name in data_fields:
        same_data += _differences(f"data.{name}", {i: getattr(c.data, name) for i, c in configs.items()})
    if same_data:
        _fail(method, N_("runs made on the same data and split"), same_data)
    same_input = _field_differences(records, kit.input_fields)
    if same_input:
        _fail(method, N_("runs that take the same input (one fused model takes one input)"), same_input)
    if method in SOUPS:
        same_arch = _field_differences(records, kit.start_fields)
        if same_arch:
            _fail(method, N_("runs that share architecture and initial weights (fine-tuned from the same "
                             "start); use ensemble for different models"), same_arch)


def fuse(records: Sequence[RunRecord], method: str, *, store: RunStore, name: Optional[str] = None,
         job: Optional[Job] = None, distill_epochs: int = 3) -> RunRecord:
    """Fuse ``records`` (runs of one task: pictures, sounds, texts or tables) with ``method`` into a new run
    in ``store``; returns the stored run, a run of the members' task.

    ``job`` carries where events go and the stop request (none: silent, not stoppable).
    Raises ``ValueError`` (from :func:`check_compatible`, or when soup members' weights differ in shape)
    before anything is written, and :class:`~lepton_widgets.core.base.events.Cancelled` when a stop is asked
    for before the new run exists (after that the run is stored as ``cancelled``). ``distill_epochs`` is the
    student's training budget (``distill`` only).
    """
    check_compatible(records, method)
    from lepton_widgets.core.fusion.run import run_fusion  # TensorFlow: loaded only when fusing

    return run_fusion(list(records), method, store=store, name=name,
                      job=job or Job(), distill_epochs=distill_epochs)


def comparison_frame(record: RunRecord) -> pd.DataFrame:
    """Members and the fused model of a fused run, one row each, from its ``fusion.json``.

    Columns: ``run_id``, ``role`` (``member``, ``best member`` (by validation accuracy), or the method for
    the fused row), ``weight`` (ensemble weight, soup membership as 1/0, else empty), ``val_accuracy``,
    ``val_log_loss``, ``test_accuracy``, ``test_log_loss``. Raises ``ValueError`` for a run that is not a
    fused run.
    """
    fusion = fusion_info(record)
    if not fusion:
        raise ValueError(f"run {record.run_id} is not a fused run (it has no fusion.json)")

    def row(run_id: str, role: str, weight, val: dict, test: dict) -> dict:
        return {"run_id": run_id, "role": role, "weight": weight, "val_accuracy": val.get("accuracy"),
                "val_log_loss": val.get("log_loss"), "test_accuracy": test.get("accuracy"),
                "test_log_loss": test.get("log_loss")}

    rows = [row(m["run_id"], "best member" if m["run_id"] == fusion.get("best_member") else "member",
                m.get("weight"), m["val"], m["test"]) for m in fusion["members"]]
    rows.append(row(record.run_id, fusion["method"], None, fusion["fused"]["val"], fusion["fused"]["test"]))
    return pd.DataFrame(rows)


def fusion_info(record: RunRecord) -> dict:
    """The run's ``fusion.json`` ({} for a run that is not fused)."""
    return record._read_json(FUSION_FILE, {})
