"""The text task: a pretrained encoder (MiniLM, or GloVe vectors) fine-tuned to classify texts.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> task = task_for_dataset("food_reviews")
    >>> task.name, task.supports("train"), task.supports("gradcam")
    ('text', True, False)
"""

from __future__ import annotations

from lepton_widgets.core.tasks.base import Task
from lepton_widgets.i18n import N_

TEXT_STEPS = frozenset({"train", "evaluate", "predict", "export", "search", "fusion", "update", "robustness", "auto"})


class TextTask(Task):
    """Texts: ``run.run_text_experiment`` (MiniLM or GloVe, chosen by ``backbone.name``)."""

    name, words, item_words, family = "text", N_("texts"), N_("text"), "text"
    steps = TEXT_STEPS

    def run(self, cfg, job=None, *, store=None):
        from lepton_widgets.core.tasks.text.run import run_text_experiment

        return run_text_experiment(cfg, job, store=store)

    def backbone_names(self) -> list[str]:
        from lepton_widgets.core.tasks.text.encoder import TEXT_ENCODERS

        return list(TEXT_ENCODERS)

    # --- what the setup panels ask (issue 14 item 6) ---
    augmentations = ("word_dropout", "word_swap", "word_substitute")

    def prepare(self, data_cfg, seed, job=None):
        from lepton_widgets.core.tasks.text.data import prepare_texts

        return prepare_texts(data_cfg, seed, job=job)

    def source_backbone(self, record):
        """A text run's encoder, as its text.json names it."""
        from lepton_widgets.core.tasks.text.transfer import source_encoder

        return source_encoder(record)

    # --- fusion (issue 14 item 7) ---
    def fusion_kit(self):
        from lepton_widgets.core.tasks.text.fusion import TextFusionKit

        return TextFusionKit()

    # --- search (issue 14 item 7, search): head width is the GloVe head's (text/search.py refuses it for MiniLM)
    search_fields = ("backbone", "frozen_depth", "augment", "augment_strength", "dropout", "l2", "learning_rate",
                     "batch_size", "head_units")
    search_policies = ("none", "base", "word_dropout", "word_swap", "word_substitute", "words")

    def search_trials(self, cfg, job=None):
        """How a search trains text trials (``text/search.py``)."""
        from lepton_widgets.core.tasks.text.search import TextTrials

        return TextTrials(cfg, job, policies=self.search_policies)

    # --- Lepton Auto (issue 15) ---
    def auto_kit(self):
        """Texts' answers to Lepton Auto (``text/auto.py``): GloVe by default, MiniLM as a candidate."""
        from lepton_widgets.core.tasks.text.auto import TextAutoKit

        return TextAutoKit(self)

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

    # --- robustness (issue 14 item 7) ---
    def robustness_curve(self, record, *, method=None, levels=None, max_samples=None, job=None):
        """Accuracy when a seeded fraction of each test text's words becomes a GloVe neighbour (``text/robustness.py``):
        ``method`` ``random`` (default) or ``greedy``; ``levels``: substitution rates (default 0, 0.1, 0.2, 0.4)."""
        from lepton_widgets.core.tasks.text.robustness import text_robustness_curve

        return text_robustness_curve(record, rates=levels, method=method, max_samples=max_samples, job=job)

    # --- predict, export, model cards (issue 14, core side: predict/, export/, runs/) ---
    export_module = "lepton_widgets.core.tasks.text.export"
    input_words, sample_words, listed_backbone = "texts", "texts", "all_minilm_l6_v2"  # older runs: MiniLM
    # predicted from the run's own model and stored tokenizer; export reloads it in Keras' safe mode
    predicts_exports, reloads_in_safe_mode = False, True

    def open_for_prediction(self, path):
        from lepton_widgets.core.tasks.text.predict import open_text_model

        return open_text_model(path)

    def predict_rows(self, model, inputs, top_k):
        from lepton_widgets.core.tasks.text.predict import text_rows

        return text_rows(model, inputs, top_k)

    def load_model(self, record):
        import keras_hub  # noqa: F401 - a MiniLM model's BertBackbone must be registered before it loads

        return record.load_model()

    def block_parts(self, backbone, num_classes):
        from lepton_widgets.core.tasks.text.blocks import text_blocks

        return text_blocks(backbone, int(num_classes))

    def owns_model(self, model) -> bool:
        """Token ids (MiniLM) or one string input (GloVe)."""
        inputs = model.input
        if isinstance(inputs, dict):
            return "token_ids" in inputs
        return not isinstance(inputs, (list, tuple)) and "string" in str(inputs.dtype)
