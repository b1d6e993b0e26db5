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

#: Every step: pictures are where each step was built first.
PICTURE_STEPS = frozenset({"train", "evaluate", "predict", "export", "search", "fusion", "update", "robustness",
                           "adversarial_training", "gradcam", "rank", "cross_validation"})


class ImageTask(Task):
    """Pictures: ``build_transfer_model`` + ``train_transfer`` (``run.run_image_experiment``)."""

    name, words, item_words, family = "image", "pictures", "picture", "image"
    steps = PICTURE_STEPS

    def run(self, cfg, job=None, *, store=None):
        from lepton_widgets.core.tasks.image.run import run_image_experiment

        return run_image_experiment(cfg, job, store=store)

    def backbone_names(self) -> list[str]:
        from lepton_widgets.core.backbones import list_backbones

        return list(list_backbones())

    def owns_model(self, model) -> bool:
        """One 4-D input (batch, height, width, channels): the picture chain, which sounds share."""
        return not isinstance(model.input, (dict, list, tuple)) and len(model.input.shape) == 4
