"""The table part of model fusion: members read the shared split's rows as a dict of raw columns.

``core/fusion`` reaches it through ``task.fusion_kit()``. The table is read again with the members' seed and
column kinds (``tabular.json``), and every member takes the same raw columns, so one fused model takes them
too; members must use the same columns with the same kinds. Soup members also share the start: the same
hidden widths and the same starting weights (fresh from the seed, or the same transfer source run). The
fused run is a table run like any other: ``run.json`` says ``"modality": "tabular"``, it carries the best
member's ``tabular.json`` (so ``predict_frame`` and ``lepton predict`` read it) and ``metrics.json`` has
its ROC AUC.

Example:
    >>> from lepton_widgets.core.tasks.tabular.fusion import TabularFusionKit
    >>> callable(TabularFusionKit().load)
    True
"""

from __future__ import annotations

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.fusing import FusionKit, InMemoryFusionData
from lepton_widgets.core.tasks.tabular.transfer import TABULAR_FILE, read_tabular_info


class TabularFusionData(InMemoryFusionData):
    """Each split as the model's input dict of raw columns."""

    def write_run_files(self, writer, base) -> None:
        writer.extra["modality"] = "tabular"
        writer.write_json(TABULAR_FILE, read_tabular_info(base))

    def extra_metrics(self, y_true, probs):
        from lepton_widgets.core.tasks.tabular.run import roc_auc

        return {"roc_auc": roc_auc(y_true, probs, probs.shape[1])}


class TabularFusionKit(FusionKit):
    """Tables: the same columns for all members; soups from one start."""

    def input_fields(self, record):
        columns = read_tabular_info(record)["schema"]["columns"]
        return {"columns used (name: kind)": sorted(columns.items())}

    def start_fields(self, record):
        transfer = read_tabular_info(record).get("transfer") or {}
        return {"starting weights": transfer.get("source_run") or "fresh, from the seed",
                "train.head_units": record.config.train.head_units}

    def load(self, records, job=None):
        from lepton_widgets.core.tasks.tabular.data import prepare_table

        job = job or Job()
        config = records[0].config
        column_types = read_tabular_info(records[0]).get("column_types") or None
        data = prepare_table(config.data, config.seed, job=job,
                             column_types=column_types)
        inputs = {name: data.schema.model_inputs(data.split(name)[1]) for name in ("train", "val", "test")}
        return TabularFusionData(data.prepared, inputs, job)
