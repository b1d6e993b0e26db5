"""A search's KerasTuner state files, written so that a kill never loses the search, and repaired if damaged.

KerasTuner keeps a search in JSON files: ``oracle.json`` (what was tried, in which order), ``tuner0.json``
and one ``trial_N/trial.json`` per trial, and it writes them in place. A process killed during such a
write leaves a truncated file, and the next ``reload()`` fails on it ("Expecting value: line 1 column 1").

Two defences:

* :func:`write_state` writes every one of these files atomically (temporary name, then rename) and then
  keeps a verified copy beside it (``oracle.json.good``, ...). ``core.search.tuner`` routes KerasTuner's own
  writes through it (:func:`make_oracle_writes_atomic`, the tuner's ``save()``). A trial's record is written
  when it is created and when it ends, not after every epoch (nothing reads those; see there).
* :func:`repair_search_state` runs before KerasTuner reloads a search. A file that does not parse is
  restored from its copy; without a copy, a damaged ``tuner0.json`` is rewritten (KerasTuner keeps nothing
  in it), the latest trial's damaged record is dropped so that the trial runs again, and a damaged
  ``oracle.json`` is rebuilt from the trial records (:func:`rebuild_oracle`). Each step is reported in words.

Example:
    >>> import tempfile, pathlib
    >>> search = pathlib.Path(tempfile.mkdtemp())
    >>> write_state(search / "tuner0.json", "{}")
    >>> _ = (search / "tuner0.json").write_text("")          # a kill during KerasTuner's own write
    >>> repair_search_state(search).messages
    ["the search's tuner0.json was damaged by the interruption; restored its last good copy"]
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import MethodType

from lepton_widgets.core.base.atomic import atomic_write_text

GOOD_SUFFIX = ".good"
ORACLE_FILE = "oracle.json"
DONE_STATUSES = ("COMPLETED", "FAILED")


def good_copy(path: Path) -> Path:
    return path.with_name(path.name + GOOD_SUFFIX)


def write_state(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, then its verified copy (only ever a complete file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    atomic_write_text(good_copy(path), text)


def make_oracle_writes_atomic(oracle) -> None:
    """Route a KerasTuner oracle's own writes (``save``, ``_save_trial``) through :func:`write_state`.

    The oracle calls these from ``create_trial`` / ``end_trial`` (and ``update_trial``, which no longer
    writes), also when it serves workers as a chief; they write the same JSON as KerasTuner's
    (``Stateful.save``), only atomically.
    """

    def save(self):
        write_state(self._get_oracle_fname(), json.dumps(self.get_state()))

    per_epoch = threading.local()  # set while update_trial runs, in that thread only (a chief serves many)

    def _save_trial(self, trial):
        if getattr(per_epoch, "active", False):
            return  # an epoch's metrics: see update_trial
        write_state(Path(self._get_trial_dir(trial.trial_id)) / "trial.json", json.dumps(trial.get_state()))

    def update_trial(self, trial_id, metrics, step=0):
        # KerasTuner writes trial.json with every epoch's metrics. Nothing reads them before the trial ends
        # (an interrupted trial runs again from its start when the search resumes; the page follows events),
        # and each verified write costs two fsyncs: 5-20 ms here, more than an epoch of a head on cached
        # features. end_trial still writes the trial, with every epoch's metrics, before the oracle's save.
        per_epoch.active = True
        try:
            return type(self).update_trial(self, trial_id, metrics, step=step)  # KerasTuner's, with its lock
        finally:
            per_epoch.active = False

    oracle.save = MethodType(save, oracle)
    oracle._save_trial = MethodType(_save_trial, oracle)  # noqa: SLF001 (KerasTuner's hook, 1.4.8)
    oracle.update_trial = MethodType(update_trial, oracle)


def _read(path: Path):
    """The parsed JSON of ``path``, or None when it is missing, truncated or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class Repair:
    """What :func:`repair_search_state` did: ``messages`` for the user; ``rebuild_oracle`` tells the tuner to
    rebuild ``oracle.json``'s state from the trial records (there was no good copy of it)."""

    messages: list[str] = field(default_factory=list)
    rebuild_oracle: bool = False


def _trial_number(trial_dir: Path) -> int:
    return int(trial_dir.name.removeprefix("trial_")) + 1


def repair_search_state(directory: str | Path, tuner_id: str = "tuner0") -> Repair:
    """Make every state file of the search in ``directory`` readable again, rolling back to the last good
    state; nothing happens to a search whose files are all fine. See the module docstring."""
    directory = Path(directory)
    repair = Repair()
    if not directory.is_dir():
        return repair
    trial_dirs = sorted((p for p in directory.glob("trial_*") if p.is_dir() and p.name[6:].isdigit()),
                        key=_trial_number)
    dropped: list[str] = []
    for index, trial_dir in enumerate(trial_dirs):
        record = trial_dir / "trial.json"
        if _read(record) is not None:
            continue
        number = _trial_number(trial_dir)
        if _read(good_copy(record)) is not None:
            atomic_write_text(record, good_copy(record).read_text(encoding="utf-8"))
            repair.messages.append(f"trial {number}'s record was damaged by the interruption; restored its last "
                                   f"good copy")
        elif index == len(trial_dirs) - 1:
            # Only the newest trial can be caught mid-write; dropping it frees its id for the next trial.
            written = record.exists()  # else it was killed before its first write: nothing of it was recorded
            shutil.rmtree(trial_dir)
            dropped.append(trial_dir.name.removeprefix("trial_"))
            if written:
                repair.messages.append(f"trial {number}'s record was damaged by the interruption; it will be "
                                       f"run again")
        else:
            raise RuntimeError(f"trial {number}'s record in {directory} is damaged and has no good copy, and later "
                               f"trials exist; delete that search folder to start the search again")
    oracle_file = directory / ORACLE_FILE
    if oracle_file.exists() or good_copy(oracle_file).exists():
        state = _read(oracle_file)
        if state is None:
            state = _read(good_copy(oracle_file))
            if state is not None:
                done = len(state.get("end_order", []))
                repair.messages.append(f"the search's progress file was damaged by the interruption; rolled back "
                                       f"to its copy saved with {done} trial{'s' * (done != 1)} done")
        if state is None:
            oracle_file.unlink(missing_ok=True)
            good_copy(oracle_file).unlink(missing_ok=True)
            repair.rebuild_oracle = True
            repair.messages.append("the search's progress file was damaged by the interruption and had no good "
                                   "copy; rebuilt it from the trial records")
        elif dropped or _read(oracle_file) is None:
            write_state(oracle_file, json.dumps(_forget_trials(state, dropped)))
    tuner_file = directory / f"{tuner_id}.json"
    if tuner_file.exists() and _read(tuner_file) is None:
        saved = _read(good_copy(tuner_file))
        write_state(tuner_file, json.dumps(saved if saved is not None else {}))  # KerasTuner's tuner state is {}
        repair.messages.append(f"the search's {tuner_file.name} was damaged by the interruption; "
                               f"{'restored its last good copy' if saved is not None else 'rewrote it'}")
    elif not tuner_file.exists() and (repair.rebuild_oracle or trial_dirs) and good_copy(tuner_file).exists():
        write_state(tuner_file, good_copy(tuner_file).read_text(encoding="utf-8"))
    return repair


def _forget_trials(state: dict, trial_ids: list[str]) -> dict:
    """``oracle.json``'s state without the dropped trials, so that reloading never looks them up."""
    if not trial_ids:
        return state
    gone = set(trial_ids)
    state = dict(state)
    state["ongoing_trials"] = {k: v for k, v in state.get("ongoing_trials", {}).items() if v not in gone}
    for key in ("start_order", "end_order", "retry_queue"):
        state[key] = [t for t in state.get(key, []) if t not in gone]
    state["run_times"] = {k: v for k, v in state.get("run_times", {}).items() if k not in gone}
    hashes = {state.get("id_to_hash", {}).get(t) for t in gone}
    state["id_to_hash"] = {k: v for k, v in state.get("id_to_hash", {}).items() if k not in gone}
    state["tried_so_far"] = [h for h in state.get("tried_so_far", []) if h not in hashes]
    for bracket in state.get("brackets") or []:  # Hyperband's rounds name their trials
        bracket["rounds"] = [[t for t in r if t.get("id") not in gone] for r in bracket.get("rounds", [])]
    return state


def rebuild_oracle(oracle, populate_space) -> None:
    """Fill a fresh oracle's state from its project's trial records (``oracle.json`` was lost).

    ``populate_space()`` declares the search space (the tuner's ``_populate_initial_space``). Algorithm
    state that only ``oracle.json`` held (Hyperband's brackets) starts afresh; finished trials are kept.
    """
    from keras_tuner.src.engine import trial as trial_module

    project = Path(oracle._project_dir)  # noqa: SLF001
    for path in sorted(project.glob("trial_*/trial.json")):
        trial = trial_module.Trial.load(str(path))
        oracle.trials[trial.trial_id] = trial
    populate_space()
    ids = sorted(oracle.trials, key=int)
    oracle.start_order = list(ids)
    oracle.end_order = [t for t in ids if oracle.trials[t].status in DONE_STATUSES]
    for trial_id in ids:
        oracle._run_times[trial_id] = 1  # noqa: SLF001
        values_hash = oracle._compute_values_hash(oracle.trials[trial_id].hyperparameters.values)  # noqa: SLF001
        oracle._tried_so_far.add(values_hash)  # noqa: SLF001
        oracle._id_to_hash[trial_id] = values_hash  # noqa: SLF001
    # Trials that were running are queued again by tuner.repair_after_kill.
