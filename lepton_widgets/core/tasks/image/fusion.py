"""The picture (and sound) part of model fusion: images stream from their files at the runs' image size.

``core/fusion`` reaches it through ``task.fusion_kit()``. Members must share the image size (one model
input); soup members also the backbone, its initial weights and the head (the same start). Distillation
streams the training images (``core/tasks/image/distill.py``).

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> from types import SimpleNamespace
    >>> run = SimpleNamespace(config=RunConfig())
    >>> ImageFusionKit().input_fields(run)
    {'backbone.image_size': 96}
"""

from __future__ import annotations

from typing import Optional

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.fusing import FusionData, FusionKit


class ImageFusionData(FusionData):
    """Prepared image data at ``image_size``: predictions stream from the files (``predict_table``)."""

    def __init__(self, prepared, image_size: int, job: Optional[Job] = None) -> None:
        super().__init__(prepared, job)
        self.image_size = image_size

    def predict(self, model, split, task, rows=None):
        from lepton_widgets.core.data import SampleTable
        from lepton_widgets.core.evaluation import predict_table

        table = self.split(split)
        if rows is not None:
            table = SampleTable(table.frame.iloc[:rows].reset_index(drop=True), table.class_names, table.arrays,
                                table.modality, table.source)
        return predict_table(model, table, self.image_size, job=self.job, task=task)

    def ensemble_inputs(self, model):
        import keras

        return keras.Input((self.image_size, self.image_size, 3), name="image")

    def can_be_student(self, model) -> bool:
        from lepton_widgets.core.tasks.image.distill import can_be_student

        return can_be_student(model)

    def distill(self, student, cfg, soft_labels, epochs):
        from lepton_widgets.core.tasks.image.distill import distill

        return distill(student, cfg, self.split("train"), soft_labels, self.split("val"), epochs, self.job)


class ImageFusionKit(FusionKit):
    """Pictures and sounds (a sound run is a picture run on spectrograms)."""

    def input_fields(self, record):
        return {"backbone.image_size": record.config.backbone.image_size}

    def start_fields(self, record):
        cfg = record.config
        return {"backbone": cfg.backbone.name, "backbone.weights (the initial weights)": cfg.backbone.weights,
                "train.head_units": cfg.train.head_units}

    def load(self, records, job=None):
        from lepton_widgets.core.data import prepare_data

        job = job or Job()
        config = records[0].config
        prepared = prepare_data(config.data, config.seed, job=job)
        return ImageFusionData(prepared, config.backbone.image_size, job)
