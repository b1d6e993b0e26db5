"""The text task: a pretrained encoder (MiniLM, or GloVe vectors) fine-tuned to classify texts.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> task = task_for_dataset("food_reviews")
    >>> task.name, task.supports("train"), task.supports("gradcam")
    ('text', True, False)
"""

from __future__ import annotations

from lepton_widgets.core.tasks.base import Task

TEXT_STEPS = frozenset({"train", "evaluate", "predict", "export"})


class TextTask(Task):
    """Texts: ``run.run_text_experiment`` (MiniLM or GloVe, chosen by ``backbone.name``)."""

    name, words, item_words, family = "text", "texts", "text", "text"
    steps = TEXT_STEPS

    def run(self, cfg, job=None, *, store=None):
        from lepton_widgets.core.tasks.text.run import run_text_experiment

        return run_text_experiment(cfg, job, store=store)

    def backbone_names(self) -> list[str]:
        from lepton_widgets.core.tasks.text.encoder import TEXT_ENCODERS

        return list(TEXT_ENCODERS)

    def owns_model(self, model) -> bool:
        """Token ids (MiniLM) or one string input (GloVe)."""
        inputs = model.input
        if isinstance(inputs, dict):
            return "token_ids" in inputs
        return not isinstance(inputs, (list, tuple)) and "string" in str(inputs.dtype)
