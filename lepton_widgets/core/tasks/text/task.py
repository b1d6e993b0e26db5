"""The text task: a pretrained encoder (MiniLM, or GloVe vectors) fine-tuned to classify texts.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> task = task_for_dataset("food_reviews")
    >>> task.name, task.supports("train"), task.supports("gradcam")
    ('text', True, False)
"""

from __future__ import annotations

from lepton_widgets.core.tasks.base import Task

TEXT_STEPS = frozenset({"train", "evaluate", "predict", "export", "fusion", "update"})


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

    # --- what the setup panels ask (issue 14 item 6) ---
    augmentations = ("word_dropout", "word_swap", "word_substitute")

    def prepare(self, data_cfg, seed, *, sink=None, stop_event=None):
        from lepton_widgets.core.tasks.text.data import prepare_texts

        return prepare_texts(data_cfg, seed, sink=sink, stop_event=stop_event)

    def source_backbone(self, record):
        """A text run's encoder, as its text.json names it."""
        from lepton_widgets.core.tasks.text.transfer import source_encoder

        return source_encoder(record)

    # --- fusion (issue 14 item 7) ---
    def fusion_kit(self):
        from lepton_widgets.core.tasks.text.fusion import TextFusionKit

        return TextFusionKit()

    # --- incremental update (issue 14 item 7) ---
    def updater(self, record):
        """What ``core/update`` needs to update ``record`` with new data (``text/update.py``)."""
        from lepton_widgets.core.tasks.text.update import TextUpdater

        return TextUpdater(record)

    # --- Evaluate and Export panels (issue 14 items 1 and 6) ---
    run_words = "text run"

    def cell_examples(self, record, true_index, predicted_index, *, limit=12, display_size=None):
        """A cell's test texts with their confidence (``inspect.cell_texts``)."""
        from lepton_widgets.core.tasks.text.inspect import cell_texts

        return cell_texts(record, true_index, predicted_index, limit=limit)

    def owns_model(self, model) -> bool:
        """Token ids (MiniLM) or one string input (GloVe)."""
        inputs = model.input
        if isinstance(inputs, dict):
            return "token_ids" in inputs
        return not isinstance(inputs, (list, tuple)) and "string" in str(inputs.dtype)
