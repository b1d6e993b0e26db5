"""The picture task: a pretrained image backbone with a new head, trained in two phases.

Its parts live beside this file: ``model`` (the transfer model and its blocks), ``training``, ``feature_cache``,
``augment``, ``run`` (one run end to end), ``gradcam``, ``adversarial``, ``ranking``, ``gallery``, ``previews``,
``blocks`` and ``cross_validation``.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> task_named("image").supports("gradcam"), task_named("image").words
    (True, 'pictures')
"""

from __future__ import annotations

from lepton_widgets.core.tasks.base import Task
from lepton_widgets.i18n import N_

#: Every step: pictures are where each step was built first.
PICTURE_STEPS = frozenset({"train", "evaluate", "predict", "export", "search", "fusion", "update", "robustness",
                           "adversarial_training", "gradcam", "rank", "cross_validation", "auto"})


class ImageTask(Task):
    """Pictures: ``build_transfer_model`` + ``train_transfer`` (``run.run_image_experiment``)."""

    name, words, item_words, family = "image", N_("pictures"), N_("picture"), "image"
    steps = PICTURE_STEPS

    def run(self, cfg, job=None, *, store=None):
        from lepton_widgets.core.tasks.image.run import run_image_experiment

        return run_image_experiment(cfg, job, store=store)

    def backbone_names(self) -> list[str]:
        from lepton_widgets.core.backbones import list_backbones

        return list(list_backbones())

    # --- what the setup panels ask (issue 14 item 6) ---
    augmentations = ("flip", "rotation", "zoom", "translation", "contrast", "brightness")

    def prepare(self, data_cfg, seed, job=None):
        from lepton_widgets.core.data import prepare_data

        return prepare_data(data_cfg, seed, job=job)

    def build_problem(self, backbone, weights, image_size):
        """An unknown backbone, an image size outside its range, or weights that cannot load here."""
        from lepton_widgets.core.backbones import availability, get_backbone

        try:
            spec = get_backbone(backbone)
        except ValueError as error:
            return str(error)
        if not spec.min_size <= image_size <= spec.max_size:
            return f"{backbone} needs an image size in {spec.min_size}-{spec.max_size} px, not {image_size}."
        ok, reason = availability(spec, weights, image_size)
        return "" if ok else reason

    # --- fusion (issue 14 item 7) ---
    def fusion_kit(self):
        from lepton_widgets.core.tasks.image.fusion import ImageFusionKit

        return ImageFusionKit()

    # --- search (issue 14 item 7, search) ---
    search_fields = ("backbone", "frozen_depth", "augment", "augment_strength", "dropout", "l2", "learning_rate",
                     "batch_size", "head_units")
    search_policies = ("none", "base", "flip", "geometric", "color", "all")

    def search_trials(self, cfg, job=None):
        """How a search trains picture and sound trials (``image/search.py``)."""
        from lepton_widgets.core.tasks.image.search import PictureTrials

        return PictureTrials(cfg, job)

    # --- Lepton Auto (issue 15) ---
    def auto_kit(self):
        """Pictures' answers to Lepton Auto (``image/auto.py``): MobileNetV2 by default, a head on cached
        features, then fine-tuning of its last blocks."""
        from lepton_widgets.core.tasks.image.auto import ImageAutoKit

        return ImageAutoKit(self)

    # --- incremental update (issue 14 item 7) ---
    def updater(self, record):
        """What ``core/update`` needs to update ``record`` with new data (``image/update.py``)."""
        from lepton_widgets.core.tasks.image.update import ImageUpdater

        return ImageUpdater(record)

    # --- Evaluate and Export panels (issue 14 items 1 and 6) ---
    run_words = "picture run"

    def cell_examples(self, record, true_index, predicted_index, *, limit=12, display_size=None):
        """A cell's test pictures, each with its Grad-CAM for the predicted class (``gallery.cell_gallery``)."""
        from lepton_widgets.core.tasks.image.gallery import DISPLAY_SIZE, cell_gallery

        return cell_gallery(record, true_index, predicted_index, limit=limit,
                            display_size=display_size or DISPLAY_SIZE)

    # --- robustness (issue 14 item 7) ---
    def robustness_curve(self, record, *, method=None, levels=None, max_samples=None, job=None):
        """FGSM (default) or PGD on the test pictures at pixel ``levels`` (epsilons, default 0, 0.01, 0.03)."""
        from lepton_widgets.core.base.job import Job
        from lepton_widgets.core.tasks.image.adversarial import parse_epsilons, robustness_curve, run_test_table

        job = job or Job()
        return robustness_curve(self.load_model(record), run_test_table(record),
                                parse_epsilons((0, 0.01, 0.03) if levels is None else levels), method or "fgsm",
                                image_size=record.config.backbone.image_size, max_samples=max_samples,
                                seed=record.config.seed, job=job.child(run_id=job.run_id or record.run_id))

    # --- predict, export, model cards (issue 14, core side: predict/, export/, runs/) ---
    export_module = "lepton_widgets.core.tasks.image.export"
    input_words, sample_words = "", "images"  # pictures are the default: the Predict list names no input

    def owns_model(self, model) -> bool:
        """One 4-D input (batch, height, width, channels): the picture chain, which sounds share."""
        return not isinstance(model.input, (dict, list, tuple)) and len(model.input.shape) == 4
