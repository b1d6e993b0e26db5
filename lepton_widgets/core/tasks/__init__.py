"""Tasks: one per modality (pictures, sounds, texts, tables), and the one registry that maps data to them.

Importing this package registers the four tasks and their datasets (``import lepton_widgets`` does it), so
a dataset, a config or a stored run always finds its task.

Example:
    >>> from lepton_widgets.core.tasks import all_tasks, task_for_dataset
    >>> [t.name for t in all_tasks()]
    ['image', 'audio', 'text', 'tabular']
    >>> task_for_dataset("breast_cancer").words
    'tables'
"""

from __future__ import annotations


from lepton_widgets.core.tasks.base import STEPS, Task
from lepton_widgets.core.tasks.registry import (all_tasks, register_task, task_for_backbone, task_for_config,
                                                task_for_dataset, task_for_model, task_for_model_file, task_for_run,
                                                task_named)
# Self-registration inside this package: each task, and the datasets its package declares.
from lepton_widgets.core.tasks.image.task import ImageTask
from lepton_widgets.core.tasks.audio.task import AudioTask
from lepton_widgets.core.tasks.text.task import TextTask
from lepton_widgets.core.tasks.tabular.task import TabularTask
from lepton_widgets.core.tasks.text import data as _text_datasets  # noqa: F401 - food_reviews, text_csv, ...
from lepton_widgets.core.tasks.tabular import data as _table_datasets  # noqa: F401 - german_credit, ...

for _task in (ImageTask(), AudioTask(), TextTask(), TabularTask()):
    register_task(_task)


def run_experiment(cfg, job=None, *, store=None):
    """Train and evaluate ``cfg`` with its task, storing everything as a new run.

    This is what ``lepton train``, :func:`lepton_widgets.train` and the workbench's Train button all call,
    so a run started by clicking and one started from code are the same run. Returns the stored run:
    ``finished``, or ``cancelled`` when ``job``'s stop was asked for; a failure is stored as ``failed`` and
    re-raised. ``job`` (a :class:`~lepton_widgets.core.base.job.Job`) carries the event sink and stop request.
    On several GPUs or workers the whole run (extraction, training, fine-tuning, evaluation) runs under one
    ``tf.distribute`` strategy (:mod:`lepton_widgets.core.base.distribute`): ``train.batch_size`` is then per
    replica, and the stored config holds the global batch it trained with.
    """
    from lepton_widgets.core.base.distribute import distributed as _distributed

    cfg.validate()
    task = task_for_config(cfg)
    with _distributed(per_replica_batch=cfg.train.batch_size) as dist:
        if dist.replicas > 1:
            cfg = cfg.replace(train__batch_size=dist.global_batch(cfg.train.batch_size))
        return task.run(cfg, job, store=store)


__all__ = ["STEPS", "Task", "all_tasks", "register_task", "run_experiment", "task_for_backbone", "task_for_config",
           "task_for_dataset", "task_for_model", "task_for_model_file", "task_for_run", "task_named"]
