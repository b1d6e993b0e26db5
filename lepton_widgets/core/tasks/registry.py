"""The one place that answers "which modality?": a dataset, a config, a stored run or a model file -> its Task.

Tasks register themselves when :mod:`lepton_widgets.core.tasks` is imported (``import lepton_widgets`` does
that). Everything outside ``tasks/`` asks here and then calls the task; ``tests/test_layering.py`` fails on a
modality test anywhere else.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset, task_named
    >>> task_for_dataset("food_reviews").name, task_for_dataset("spoken_keywords").family
    ('text', 'image')
    >>> task_named("tabular").words
    'tables'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from lepton_widgets.core.tasks.base import Task

_TASKS: dict[str, Task] = {}
#: What a run, dataset or file with no modality of its own is: Lepton's first modality, pictures.
DEFAULT_TASK = "image"


def register_task(task: Task) -> Task:
    """Add ``task`` under ``task.name`` (a second registration of a name replaces the first)."""
    _TASKS[task.name] = task
    return task


def task_named(name: Optional[str]) -> Task:
    """The task registered as ``name``; ``None`` or ``""`` gives the default (pictures)."""
    try:
        return _TASKS[name or DEFAULT_TASK]
    except KeyError:
        raise ValueError(f"unknown kind of data {name!r}; known: {', '.join(_TASKS)}") from None


def all_tasks() -> list[Task]:
    """Every registered task, in registration order (image, audio, text, tabular)."""
    return list(_TASKS.values())


def task_for_dataset(dataset: str) -> Task:
    """The task of the registered dataset ``dataset`` (an unknown name: pictures, whose loader then says so)."""
    from lepton_widgets.core.data.registry import _REGISTRY

    spec = _REGISTRY.get(dataset)
    return task_named(spec.modality if spec is not None else None)


def task_for_config(cfg: Any) -> Task:
    """The task of a ``RunConfig`` (by its dataset)."""
    return task_for_dataset(cfg.data.dataset)


def task_for_run(record: Any) -> Task:
    """The task of a stored run (a ``RunRecord``): the modality its record names, else its dataset's.

    Older picture and sound runs name no modality; a run whose config cannot be read is treated as the
    picture run it most likely is.
    """
    recorded = record.info.get("modality")
    if recorded:
        return task_named(str(recorded))
    try:
        dataset = record.config.data.dataset
    except (ValueError, TypeError):
        return task_named(None)
    return task_for_dataset(dataset)


def task_for_model_file(path: "str | Path") -> Task:
    """What the model file at ``path`` takes: its run's task, or pictures for a file from elsewhere."""
    from lepton_widgets.core.runs.store import run_of_model_file

    record = run_of_model_file(Path(path))
    return task_for_run(record) if record is not None else task_named(None)


def task_for_facts(facts: dict) -> Task:
    """The task a written record names (an export's meta, a model card: their ``modality``); pictures when
    it names none, as older picture exports and every picture card do."""
    return task_named(facts.get("modality") or None)


def task_for_backbone(name: str) -> Task:
    """The task whose models are built on the backbone or encoder ``name`` (pictures for any other name)."""
    for task in all_tasks():
        if name in task.backbone_names():
            return task
    return task_named(None)


def task_for_model(model: Any) -> Task:
    """The task family a loaded Keras model belongs to, read from its inputs: one 4-D input is a picture
    model (pictures and sounds share it); strings, token ids or named columns are texts or tables."""
    for task in all_tasks():
        if task.owns_model(model):
            return task
    return task_named(None)


# --- issue 14, core side: RunRecord.task. The run store sits below tasks/ and never imports it, so the
# registry hands it this lookup when it loads.
from lepton_widgets.core.runs.store import use_task_registry  # noqa: E402 - after task_for_run is defined

use_task_registry(task_for_run)
