"""What Auto has done so far, on disk, so that starting it again resumes where it stopped.

An Auto session lives in ``<runs>/auto/<auto_id>/auto.json``. ``auto_id`` is made from the data, the goal and
the seed, so the same request finds its folder again; each finished stage is recorded with what it found and
chose, and a resume skips it. The file is rewritten atomically after every stage: a killed process leaves the
last complete state, never half of one.

Example:
    >>> import tempfile
    >>> from lepton_widgets.config import DataConfig
    >>> root = Path(tempfile.mkdtemp())
    >>> state = AutoState.open(root, DataConfig(dataset="digits"), goal="accuracy", seed=1)
    >>> state.finish_stage("doctor", "done", 1.5, "10 classes", {"classes": 10})
    >>> AutoState.open(root, DataConfig(dataset="digits"), goal="accuracy", seed=1).done("doctor")
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from lepton_widgets.config import DataConfig
from lepton_widgets.core.base.atomic import atomic_write_text
from lepton_widgets.core.runs.store import dump_json

AUTO_DIR = "auto"
STATE_FILE = "auto.json"
#: Stage statuses a resume does not repeat.
FINISHED = ("done", "skipped")


def auto_id(data_cfg: DataConfig, goal: str, seed: int) -> str:
    """``<dataset or folder name>-<goal>-<8 hex>`` from the data, goal and seed (the exclusions are a choice
    made inside the session, so they are not part of its id)."""
    data = _data_dict(data_cfg)
    data.pop("exclude", None)
    digest = hashlib.sha256(json.dumps([data, goal, seed], sort_keys=True, default=str).encode()).hexdigest()[:8]
    name = Path(data_cfg.path).stem if data_cfg.path else data_cfg.dataset
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")[:32] or "data"
    return f"{slug}-{goal}-{digest}"


@dataclass
class AutoState:
    """The session's record: ``stages`` (name -> status, seconds, summary, detail), the ``leaderboard``
    entries, the ``choices`` (the model card's sentences), and the user's ``label_choice``."""

    folder: Path
    request: dict
    stages: dict = field(default_factory=dict)
    leaderboard: list = field(default_factory=list)
    choices: list = field(default_factory=list)
    label_choice: str = "keep"
    best_run_id: str = ""
    card_md: str = ""
    status: str = "running"

    @classmethod
    def open(cls, root: Path, data_cfg: DataConfig, *, goal: str, seed: int, fresh: bool = False) -> "AutoState":
        """The session for this request under ``root/auto/``: the stored one (resumed), or a new one."""
        folder = Path(root) / AUTO_DIR / auto_id(data_cfg, goal, seed)
        path = folder / STATE_FILE
        request = {"data": _data_dict(data_cfg), "goal": goal, "seed": seed}
        if path.exists() and not fresh:
            try:
                stored = json.loads(path.read_text(encoding="utf-8"))
                return cls(folder=folder, request=stored.get("request", request),
                           stages=stored.get("stages", {}), leaderboard=stored.get("leaderboard", []),
                           choices=stored.get("choices", []), label_choice=stored.get("label_choice", "keep"),
                           best_run_id=stored.get("best_run_id", ""), card_md=stored.get("card_md", ""),
                           status=stored.get("status", "running"))
            except (OSError, ValueError):
                pass  # a damaged file: start over rather than trust half of it (atomic writes make this rare)
        state = cls(folder=folder, request=request)
        state.save()
        return state

    @property
    def auto_id(self) -> str:
        return self.folder.name

    def done(self, stage: str) -> bool:
        return self.stages.get(stage, {}).get("status") in FINISHED

    def detail(self, stage: str) -> dict:
        return self.stages.get(stage, {}).get("detail", {})

    def finish_stage(self, stage: str, status: str, seconds: float, summary: str,
                     detail: Optional[dict] = None) -> None:
        self.stages[stage] = {"status": status, "seconds": round(seconds, 2), "summary": summary,
                              "detail": detail or {}}
        self.save()

    def forget_from(self, stages: list[str]) -> None:
        """Forget ``stages`` and the models they made (a changed label choice makes them stale)."""
        for stage in stages:
            self.stages.pop(stage, None)
        self.leaderboard = [e for e in self.leaderboard if e.get("stage") not in stages]
        self.best_run_id, self.card_md = "", ""
        self.save()

    def to_dict(self) -> dict[str, Any]:
        return {"auto_id": self.auto_id, "request": self.request, "status": self.status,
                "label_choice": self.label_choice, "stages": self.stages, "leaderboard": self.leaderboard,
                "choices": self.choices, "best_run_id": self.best_run_id, "card_md": self.card_md}

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / STATE_FILE, dump_json(self.to_dict()))


def _data_dict(data_cfg: DataConfig) -> dict:
    return dataclasses.asdict(data_cfg)
