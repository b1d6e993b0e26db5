"""The Task protocol: everything that differs between pictures, sounds, texts and tables, behind one face.

A :class:`Task` knows its modality's data, model and training, and says which workbench steps it supports.
Steps (search, fusion, updates, export, robustness, Auto) ask the task; they never test the modality
themselves. :mod:`lepton_widgets.core.tasks.registry` is the one place that maps a dataset, a config, a
stored run or a model file to its task.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> task = task_named("text")
    >>> task.words, task.supports("gradcam")
    ('texts', False)
    >>> task.refusal("gradcam")
    'Grad-CAM is available for pictures and sounds; this run was trained on texts.'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # the names below are only for annotations: a task module imports its own heavy parts lazily
    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.runs.store import RunRecord, RunStore

#: Every step a task may support, with the words a refusal uses for it.
STEPS = {
    "train": "Training", "evaluate": "Evaluation", "predict": "Prediction", "export": "Export",
    "search": "Search", "fusion": "Fusion", "update": "Updating with new data", "robustness": "The robustness check",
    "adversarial_training": "Adversarial training", "gradcam": "Grad-CAM", "rank": "Backbone ranking",
    "cross_validation": "Cross-validation of tiny data", "auto": "Auto",
}


class Task:
    """One modality. Subclasses set the class attributes and implement :meth:`run`.

    - ``name``: ``image``, ``audio``, ``text`` or ``tabular`` (what run records and dataset specs say);
    - ``words`` / ``item_words``: plain words for the data and one item (``texts`` / ``text``);
    - ``family``: the model family; ``audio`` shares the ``image`` model behind a spectrogram front end;
    - ``steps``: the steps of :data:`STEPS` this task supports.
    """

    name: str = ""
    words: str = ""
    item_words: str = ""
    family: str = ""
    steps: frozenset = frozenset()

    def supports(self, step: str) -> bool:
        if step not in STEPS:
            raise KeyError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
        return step in self.steps

    def refusal(self, step: str) -> Optional[str]:
        """``None`` when ``step`` applies, else one plain sentence saying which data it works on."""
        if self.supports(step):
            return None
        from lepton_widgets.core.tasks.registry import all_tasks

        takers = [t.words for t in all_tasks() if t.supports(step)]
        where = " and ".join(takers) if takers else "no kind of data yet"
        return f"{STEPS[step]} is available for {where}; this run was trained on {self.words}."

    def require(self, step: str, what: str = "") -> None:
        """Raise ``ValueError`` with :meth:`refusal`'s sentence (prefixed by ``what``) if ``step`` does not apply."""
        message = self.refusal(step)
        if message:
            raise ValueError(f"{what}: {message}" if what else message)

    def run(self, cfg: "RunConfig", job: "Optional[Job]" = None, *, store: "Optional[RunStore]" = None) -> "RunRecord":
        """Train and evaluate ``cfg`` and store it as a new run; ``job`` carries the sink and the stop request."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
