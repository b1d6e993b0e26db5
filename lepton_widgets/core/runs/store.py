"""The run store: one folder per run, written so that a killed process never fakes a finished run.

A run is written under ``<root>/<run_id>.partial/`` while it works; events stream into ``events.jsonl``
as they happen. Every other file is written to a temporary name and renamed into place. At the end
``run.json`` (status, times) is written last and the folder is renamed to ``<root>/<run_id>/`` in one
``os.rename``. A folder without ``.partial`` and with ``run.json`` is therefore complete; a ``.partial``
folder is a run that was interrupted (``kill -9``, power loss) and is listed as ``interrupted``.

A complete run whose records cannot be read (``run.json``, ``config.json`` or ``metrics.json`` that is not
JSON, or JSON of the wrong shape: a list, ``null``, a string) is listed as ``damaged`` with the reason
(:attr:`RunRecord.damage`), and the other runs are listed as usual. Opening it for evaluation, prediction or
export raises :class:`DamagedRunError`, which names the file.

Resolving what a person names (:meth:`RunStore.open`): a run id or a unique id prefix is looked up only among
the runs folder's own runs, so an id can never reach outside it (``..``, ``/`` and empty ids are refused). A
folder path is accepted wherever it is, but only when it holds a run record (``run.json``): a run copied
elsewhere still opens, while ``/etc`` or an interrupted ``.partial`` folder is refused with the reason.

Layout of a finished run::

    run.json        status (finished / cancelled / failed), times, class names, model file
    config.json     the RunConfig
    env.json        environment card: versions, seed, data hash, machine
    events.jsonl    every engine event
    history.jsonl   one line per epoch
    metrics.json    evaluation on the test split (evaluation.json: per class, confusion, worst examples)
    predictions.csv one row per test sample: where it lives, true and predicted class, confidence
    data_report.csv / data_report.json / split.json
    model.keras     the trained model (raw pixels in, class probabilities out)

Example:
    >>> import tempfile
    >>> from lepton_widgets.config import RunConfig
    >>> store = RunStore(tempfile.mkdtemp())
    >>> writer = store.create(RunConfig(name="demo"))
    >>> writer.write_json("metrics.json", {"accuracy": 0.9})
    >>> record = writer.finalize("finished")
    >>> record.status, store.frame()["accuracy"].tolist()
    ('finished', [0.9])
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pandas as pd

from lepton_widgets.config import ConfigError, RunConfig
from lepton_widgets.core.base.atomic import atomic_write_text
from lepton_widgets.core.base.events import Event
from lepton_widgets.core.base.paths import default_runs_dir
from lepton_widgets.i18n import _

PARTIAL_SUFFIX = ".partial"
STATUSES = ("finished", "cancelled", "failed")
#: The folder inside a run that holds its exports (``core/export``).
EXPORTS_DIR = "exports"
#: The status a complete run with unreadable records is listed with (see :attr:`RunRecord.damage`).
STATUS_DAMAGED = "damaged"
#: Records a complete run must hold as a JSON object (``metrics.json`` only where it exists: a failed run
#: has none).
_RECORD_FILES = (("run.json", True), ("config.json", True), ("metrics.json", False))


class DamagedRunError(ConfigError):
    """A run's record files cannot be read; the message names the run, the file and what is wrong.

    A :class:`ConfigError` (hence a ``ValueError``), so every place that reports a bad config in one line
    (the CLI, the Runs step's "Reopen") reports a damaged record the same way."""


def _json_kind(value: Any) -> str:
    return {list: "a list", str: "a text", type(None): "null", bool: "true/false"}.get(type(value), "a number")


def _json_default(value: Any):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=_json_default, sort_keys=False)


#: How a run finds its Task. The task registry lives in a higher layer (core/tasks), which hands its lookup
#: down here when it loads (:func:`use_task_registry`), so the store never imports it.
_TASK_OF_RUN: Optional[Callable[["RunRecord"], Any]] = None


def use_task_registry(task_of_run: Callable[["RunRecord"], Any]) -> None:
    """Let :attr:`RunRecord.task` (and the run list) ask ``task_of_run``, the registry's ``task_for_run``."""
    global _TASK_OF_RUN
    _TASK_OF_RUN = task_of_run


def new_run_id(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "run"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{uuid.uuid4().hex[:6]}"


class RunWriter:
    """Writes one run into its ``.partial`` folder; :meth:`finalize` publishes it."""

    def __init__(self, root: Path, config: RunConfig) -> None:
        self.run_id = new_run_id(config.name)
        self.root = root
        self.path = root / f"{self.run_id}{PARTIAL_SUFFIX}"
        self.path.mkdir(parents=True)
        self.started = time.time()
        self.extra: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._events = open(self.path / "events.jsonl", "a", encoding="utf-8")
        self.config = config
        self.write_json("config.json", config.to_dict())
        self.write_json("owner.json", {"pid": os.getpid(), "host": os.uname().nodename})

    def write_json(self, name: str, value: Any) -> None:
        atomic_write_text(self.path / name, dump_json(value))

    def write_jsonl(self, name: str, rows: list[dict]) -> None:
        atomic_write_text(self.path / name, "".join(json.dumps(r, default=_json_default) + "\n" for r in rows))

    def write_frame(self, name: str, frame: pd.DataFrame) -> None:
        from lepton_widgets.core.base.safe_csv import to_safe_csv  # file names, classes, cells: no live formulas

        atomic_write_text(self.path / name, to_safe_csv(frame))

    def append_event(self, event: Event) -> None:
        """Event sink: one JSON line per event, flushed so a crash keeps what happened so far."""
        with self._lock:
            if self._events.closed:
                return
            self._events.write(json.dumps(event.to_dict(), default=_json_default) + "\n")
            self._events.flush()

    def save_model(self, model) -> None:
        tmp = self.path / ".model.tmp.keras"  # Keras insists on the .keras suffix
        model.save(tmp)
        os.replace(tmp, self.path / "model.keras")

    def finalize(self, status: str, **info: Any) -> "RunRecord":
        """Write ``run.json`` last, then rename the folder to its final name in one step."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        with self._lock:
            self._events.close()
        for leftover in self.path.glob("checkpoint_*.weights.h5"):
            leftover.unlink()  # best-epoch checkpoints are only needed while training
        run_info = {"run_id": self.run_id, "status": status, "started": self.started, "finished": time.time(),
                    "model": "model.keras" if (self.path / "model.keras").exists() else None,
                    **self.extra, **info}
        self.write_json("run.json", run_info)
        final = self.root / self.run_id
        os.rename(self.path, final)
        self.path = final
        return RunRecord(final)


@dataclass
class RunRecord:
    """A finished (or interrupted) run on disk; reads its files lazily.

    ``status`` is ``finished``, ``cancelled``, ``failed`` or, for a ``.partial`` folder, ``running`` (its
    process is alive) or ``interrupted``.
    """

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def run_id(self) -> str:
        return self.path.name.removesuffix(PARTIAL_SUFFIX)

    @property
    def complete(self) -> bool:
        return not self.path.name.endswith(PARTIAL_SUFFIX) and (self.path / "run.json").exists()

    def _read_json(self, name: str, default: Any = None) -> Any:
        try:
            return json.loads((self.path / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return default

    def _read_dict(self, name: str) -> dict:
        """A JSON object file as a dict; ``{}`` when it is missing, unreadable or not an object (a damaged
        record must never break a listing: :attr:`damage` says what is wrong)."""
        value = self._read_json(name, {})
        return value if isinstance(value, dict) else {}

    @property
    def damage(self) -> Optional[str]:
        """Why this complete run's records cannot be trusted (``"config.json is a list, not a record"``), or
        None when they read well. ``.partial`` folders are never damaged: they are running or interrupted.

        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / "20260101-000000-x-abc123"; folder.mkdir()
        >>> _ = (folder / "run.json").write_text("[1, 2]"); _ = (folder / "config.json").write_text("{}")
        >>> RunRecord(folder).damage, RunRecord(folder).status
        ('run.json holds a list where a record {...} belongs', 'damaged')
        """
        if not self.complete:
            return None
        for name, required in _RECORD_FILES:
            path = self.path / name
            if not path.exists():
                if required:
                    return f"{name} is missing"
                continue
            try:
                value = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                return f"{name} is not valid JSON ({error.msg} at line {error.lineno})"
            except UnicodeDecodeError:
                return f"{name} is not text (damaged bytes)"
            except OSError as error:
                return f"{name} cannot be read ({error.strerror or error})"
            if not isinstance(value, dict):
                return f"{name} holds {_json_kind(value)} where a record {{...}} belongs"
        status = self._read_dict("run.json").get("status")
        if status not in STATUSES:
            return f"run.json has no valid status ({status!r}; expected one of {', '.join(STATUSES)})"
        return None

    def check(self) -> "RunRecord":
        """This record, or :class:`DamagedRunError` when its records are damaged."""
        damage = self.damage
        if damage:
            raise DamagedRunError(f"run {self.run_id} has a damaged run record: {damage}. It cannot be "
                                  f"evaluated, used or exported; train it again (its folder: {self.path})")
        return self

    def _read_jsonl(self, name: str) -> list[dict]:
        rows = []
        try:
            for line in (self.path / name).read_text(encoding="utf-8").splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break  # a line cut short by a crash ends the readable part
        except FileNotFoundError:
            pass
        return rows

    @property
    def info(self) -> dict:
        if self.complete:
            return self._read_dict("run.json")
        return {"run_id": self.run_id, "status": "running" if self._owner_alive() else "interrupted"}

    def _owner_alive(self) -> bool:
        """Whether the process writing this ``.partial`` run still exists on this machine."""
        owner = self._read_dict("owner.json")
        if owner.get("host") != os.uname().nodename or not owner.get("pid"):
            return False
        try:
            os.kill(int(owner["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @property
    def status(self) -> str:
        if self.damage:
            return STATUS_DAMAGED
        return self.info.get("status", "interrupted")

    @property
    def config(self) -> RunConfig:
        """The run's :class:`RunConfig`; :class:`DamagedRunError` when ``config.json`` is damaged (never
        the default config in its place: that would evaluate other data and blame the data)."""
        self.check()
        try:
            return RunConfig.from_dict(self._read_dict("config.json"))
        except (ConfigError, TypeError) as error:
            raise DamagedRunError(f"run {self.run_id} has a damaged run record: config.json does not hold a "
                                  f"valid config ({error})") from None

    @property
    def metrics(self) -> dict:
        return self._read_dict("metrics.json")

    @property
    def evaluation(self) -> dict:
        """Test-split evaluation: per-class metrics, confusion matrix, worst examples."""
        return self._read_dict("evaluation.json")

    @property
    def split(self) -> dict:
        """The recorded split: content sha256 -> train / val / test."""
        return self._read_dict("split.json")

    @property
    def history(self) -> list[dict]:
        return self._read_jsonl("history.jsonl")

    @property
    def events(self) -> list[dict]:
        return self._read_jsonl("events.jsonl")

    @property
    def env(self) -> dict:
        return self._read_dict("env.json")

    @property
    def class_names(self) -> list[str]:
        return self.info.get("class_names") or self.metrics.get("class_names", [])

    @property
    def task(self):
        """The :class:`~lepton_widgets.core.tasks.base.Task` of this run (what it was trained on), from the
        one registry: ``record.task.require("fusion", what)``, ``record.task.words``."""
        if _TASK_OF_RUN is None:  # lepton_widgets.core.tasks sets it (``import lepton_widgets`` imports it)
            raise RuntimeError("no task registry: import lepton_widgets.core.tasks first")
        return _TASK_OF_RUN(self)

    @property
    def data_report(self) -> pd.DataFrame:
        from lepton_widgets.core.base.safe_csv import read_safe_csv  # written escaped (write_frame)

        return read_safe_csv(self.path / "data_report.csv")

    @property
    def predictions(self) -> pd.DataFrame:
        """Test-split predictions: ref, path, array_index, true, predicted, confidence."""
        from lepton_widgets.core.base.safe_csv import read_safe_csv

        return read_safe_csv(self.path / "predictions.csv")

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    def load_model(self):
        """The trained Keras model (safe mode: no arbitrary code is run while loading)."""
        import keras

        from lepton_widgets.core.custom_layers import register_custom_layers

        self.check()
        if not self.model_path.exists():
            raise FileNotFoundError(f"run {self.run_id} has no saved model (status: {self.status})")
        register_custom_layers()
        return keras.saving.load_model(self.model_path, safe_mode=True)

    def row(self) -> dict:
        """One flat row for comparing runs in a DataFrame; a damaged run's row says ``damaged`` and, in
        ``problem``, why (its other columns hold what could still be read)."""
        damage = self.damage
        config = self._read_dict("config.json")
        metrics = self.metrics
        sections = {key: config.get(key) if isinstance(config.get(key), dict) else {} for key in ("data", "backbone")}
        if damage:
            return {"run_id": self.run_id, "name": run_name(self) or None, "status": STATUS_DAMAGED,
                    "problem": damage, "path": str(self.path)}
        return {
            "run_id": self.run_id,
            "name": config.get("name"),
            "status": self.status,
            "started": pd.to_datetime(self.info.get("started"), unit="s") if self.info.get("started") else None,
            "dataset": sections["data"].get("dataset"),
            # Table and text runs ignore backbone.name: say what they really used (text runs since GloVe
            # record their ``encoder`` in run.json; older ones all used MiniLM).
            "backbone": self.info.get("encoder") or self.task.listed_backbone or sections["backbone"].get("name"),
            "weights": sections["backbone"].get("weights"),
            "frozen_depth": sections["backbone"].get("frozen_depth"),
            "image_size": sections["backbone"].get("image_size"),
            "epochs_run": len(self.history),
            **{k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
            "path": str(self.path),
        }


class RunStore:
    """All runs under one folder (default ``./runs`` or ``$LEPTON_RUNS``)."""

    def __init__(self, root: Optional[str | Path] = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()

    def create(self, config: RunConfig) -> RunWriter:
        self.root.mkdir(parents=True, exist_ok=True)
        return RunWriter(self.root, config)

    def runs(self, include_incomplete: bool = True) -> list[RunRecord]:
        """Runs oldest first. ``.partial`` folders appear as ``running``/``interrupted`` and damaged runs as
        ``damaged`` unless ``include_incomplete`` is False (then only runs whose records read well: what the
        pickers offer). A folder without a run record is not a run and never listed."""
        if not self.root.is_dir():
            return []
        records = []
        for path in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            record = RunRecord(path)
            if record.complete and (include_incomplete or not record.damage):
                records.append(record)
            elif include_incomplete and path.name.endswith(PARTIAL_SUFFIX):
                records.append(record)
        return records

    def frame(self, include_incomplete: bool = True) -> pd.DataFrame:
        """Runs as a DataFrame, one row each, for listing and comparing."""
        return pd.DataFrame([r.row() for r in self.runs(include_incomplete)])

    def open(self, run: str | Path) -> RunRecord:
        """A run by id or unique id prefix (looked up only among this folder's runs, running and interrupted
        ones included), or by the path of a run folder (one holding ``run.json``, wherever it is). A folder that
        is no run raises ``ValueError``, an unknown id ``FileNotFoundError``. A damaged run opens (its history
        and files can be looked at); its :attr:`RunRecord.config` and :meth:`RunRecord.load_model` raise
        :class:`DamagedRunError`."""
        text = str(run)
        path = Path(run)
        # A bare name that is also some folder here is still looked up as an id (a path names a folder).
        if path.is_dir() and ((path / "run.json").exists() or path.is_absolute() or os.sep in text
                              or text.startswith(".")):
            return open_run_folder(path)
        if not text.strip() or "/" in text or "\\" in text or text in (".", "..") or "\0" in text:
            raise FileNotFoundError(f"{text!r} is not a run id nor a run folder: give a run id (or its start) "
                                    f"from `lepton runs`, or the path of a run folder")
        runs = self.runs()
        matches = [r for r in runs if r.run_id == text] or [r for r in runs if r.run_id.startswith(text)]
        if len(matches) != 1:
            known = ", ".join(r.run_id for r in runs[-5:]) or "none"
            why = "no run" if not matches else f"{len(matches)} runs"
            raise FileNotFoundError(f"{why} matching {text!r} in {self.root}; recent runs: {known}")
        return matches[0]

    def remove_interrupted(self) -> int:
        """Delete ``.partial`` folders left by killed processes (not running ones); returns how many."""
        count = 0
        for record in self.runs():
            if record.status == "interrupted":
                shutil.rmtree(record.path)
                count += 1
        return count


def open_run_folder(path: str | Path) -> RunRecord:
    """The run in folder ``path``, checked: a folder is a run only when it holds a run record (``run.json``).

    ``ValueError`` for a folder that is no run or an interrupted ``.partial`` one."""
    record = RunRecord(Path(path))
    if not record.complete:
        if record.path.name.endswith(PARTIAL_SUFFIX) and (record.path / "config.json").exists():
            raise ValueError(f"{record.path} is a run that never finished ({record.status}): it has no run record "
                             "(run.json) and no model to use")
        raise ValueError(f"{record.path} is not a run folder: it holds no run record (run.json). Give a run id "
                         "from `lepton runs` or the folder of a run")
    return record


def run_of_model_file(path: "str | Path") -> Optional[RunRecord]:
    """The finished run a model file belongs to (its ``model.keras`` or one of its exports), else None."""
    path = Path(path)
    parents = path.parents
    if path.name == "model.keras" and (parents[0] / "run.json").is_file():
        return RunRecord(parents[0])
    if len(parents) > 2 and parents[1].name == EXPORTS_DIR and (parents[2] / "run.json").is_file():
        return RunRecord(parents[2])
    return None


def model_file_run(path: "str | Path", noun: str, keeps: str) -> RunRecord:
    """The run whose folder holds the ``model.keras`` at ``path``: a ``noun`` model (``text``, ``table``)
    predicts only from there, beside what its folder ``keeps`` (its tokenizer, its column schema)."""
    record = run_of_model_file(path)
    if record is None or Path(path).name != "model.keras":
        run = f" (predict with its run: {record.run_id})" if record is not None else ""
        raise ValueError(f"{Path(path).name}: a {noun} model is predicted from its run folder's model.keras, "
                         f"which keeps its {keeps}{run}")
    return record


def as_record(run: "RunRecord | str | Path") -> RunRecord:
    """``run`` as a :class:`RunRecord`: a record as it is, a run folder opened directly (checked), else a run
    id in the default store (``$LEPTON_RUNS`` or ``./runs``)."""
    if isinstance(run, RunRecord):
        return run
    return RunStore().open(str(run))


#: Run names: short, and safe in a URL and a shell: letters of any language (a student may write 张伟), digits,
#: space, ``-``, ``_``, ``.``. Folder names never hold them raw: ``new_run_id`` keeps only ASCII in the id.
RUN_NAME_MAX = 40
_RUN_NAME_OK = re.compile(r"^[^\W_][\w .-]*$")


def check_run_name(name: Any) -> str:
    """``name`` stripped, or a ValueError that says what a run name may hold.

    >>> check_run_name("  cnn baseline ")
    'cnn baseline'
    >>> check_run_name("张伟 第一次")
    '张伟 第一次'
    """
    text = str(name if name is not None else "").strip()
    if not text:
        raise ValueError(_("a run name cannot be empty"))
    if len(text) > RUN_NAME_MAX:
        raise ValueError(_("a run name can have at most {limit} characters ({given} given)").format(
            limit=RUN_NAME_MAX, given=len(text)))
    if not _RUN_NAME_OK.match(text):
        raise ValueError(_("a run name may hold letters, digits, spaces, '-', '_' and '.', and must start with "
                           "a letter or digit: {name}").format(name=repr(text)))
    return text


def default_run_name(cfg: RunConfig) -> str:
    """A name that says what a run trains, for a run nobody named: ``<dataset>-<backbone>``.

    >>> default_run_name(RunConfig.from_dict({"data": {"dataset": "digits"}, "backbone": {"name": "small_cnn"}}))
    'digits-small_cnn'
    """
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cfg.data.dataset}-{cfg.backbone.name}").strip("-._")
    return text[:RUN_NAME_MAX] or "run"


def run_name(run: "RunRecord | dict | pd.Series") -> str:
    """The name a run was given (its config's ``name``), or ``""`` when it has none on record."""
    if isinstance(run, RunRecord):
        name = run._read_dict("config.json").get("name")
    else:
        name = run.get("name")
    return name if isinstance(name, str) and name == name else ""


def run_label(run: "RunRecord | dict | pd.Series", detail: str = "") -> str:
    """How every list shows a run: its name first, then its id (unique), then ``detail`` in brackets.

    Takes a :class:`RunRecord` or a row of :meth:`RunStore.frame` (anything with ``run_id`` and ``name``).

    >>> run_label({"run_id": "20260101-120000-cnn-a1b2c3", "name": "cnn"}, "acc 0.91")
    'cnn · 20260101-120000-cnn-a1b2c3 (acc 0.91)'
    """
    run_id = run.run_id if isinstance(run, RunRecord) else str(run.get("run_id"))
    name = run_name(run)
    text = f"{name} · {run_id}" if name else run_id
    return f"{text} ({detail})" if detail else text
