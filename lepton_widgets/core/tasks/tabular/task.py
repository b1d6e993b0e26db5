"""The table task: Keras preprocessing layers for each column, then an MLP.

Example:
    >>> from lepton_widgets.core.tasks import task_for_dataset
    >>> task = task_for_dataset("german_credit")
    >>> task.name, task.item_words
    ('tabular', 'row')
"""

from __future__ import annotations

from lepton_widgets.core.tasks.base import Task
from lepton_widgets.i18n import N_

TABLE_STEPS = frozenset({"train", "evaluate", "predict", "export", "search", "fusion", "update", "auto"})


class TabularTask(Task):
    """Tables: ``run.run_tabular_experiment``."""

    name, words, item_words, family = "tabular", N_("tables"), N_("row"), "tabular"
    steps = TABLE_STEPS

    def run(self, cfg, job=None, *, store=None):
        from lepton_widgets.core.tasks.tabular.run import run_tabular_experiment

        return run_tabular_experiment(cfg, job, store=store)

    def backbone_names(self) -> list[str]:
        return ["mlp"]

    # --- what the setup panels ask (issue 14 item 6): tables train without augmentation ---
    def prepare(self, data_cfg, seed, job=None):
        from lepton_widgets.core.tasks.tabular.data import prepare_table

        return prepare_table(data_cfg, seed, job=job)

    # --- fusion (issue 14 item 7) ---
    def fusion_kit(self):
        from lepton_widgets.core.tasks.tabular.fusion import TabularFusionKit

        return TabularFusionKit()

    # --- search (issue 14 item 7, search): an MLP's width and depth and its training; no backbone, no augmentation
    search_fields = ("dropout", "l2", "learning_rate", "batch_size", "head_units", "hidden_layers")

    def search_trials(self, cfg, job=None):
        """How a search trains table trials (``tabular/search.py``)."""
        from lepton_widgets.core.tasks.tabular.search import TableTrials

        return TableTrials(cfg, job)

    # --- Lepton Auto (issue 15) ---
    def auto_kit(self):
        """Tables' answers to Lepton Auto (``tabular/auto.py``): the MLP, judged by ROC AUC for two classes."""
        from lepton_widgets.core.tasks.tabular.auto import TabularAutoKit

        return TabularAutoKit(self)

    # --- incremental update (issue 14 item 7) ---
    def updater(self, record):
        """What ``core/update`` needs to update ``record`` with new data (``tabular/update.py``)."""
        from lepton_widgets.core.tasks.tabular.update import TabularUpdater

        return TabularUpdater(record)

    # --- Evaluate and Export panels (issue 14 items 1 and 6) ---
    run_words = "table run"

    def cell_examples(self, record, true_index, predicted_index, *, limit=12, display_size=None):
        """A cell's test rows with the values the model read (``inspect.cell_rows``)."""
        from lepton_widgets.core.tasks.tabular.inspect import cell_rows

        return cell_rows(record, true_index, predicted_index, limit=limit)

    # --- predict, export, model cards (issue 14, core side: predict/, export/, runs/) ---
    export_module = "lepton_widgets.core.tasks.tabular.export"
    input_words, sample_words, listed_backbone = "tables (.csv)", "rows", "mlp (table columns)"
    # predicted from the run's own model and stored column schema; export reloads it in Keras' safe mode
    predicts_exports, reloads_in_safe_mode = False, True
    has_backbone = False  # a table trains its own MLP

    def open_for_prediction(self, path):
        from lepton_widgets.core.tasks.tabular.predict import open_table_model

        return open_table_model(path)

    def predict_rows(self, model, inputs, top_k):
        from lepton_widgets.core.tasks.tabular.predict import table_rows

        return table_rows(model, inputs, top_k)

    def owns_model(self, model) -> bool:
        """Named column inputs (a dict without token ids)."""
        return isinstance(model.input, dict) and "token_ids" not in model.input
