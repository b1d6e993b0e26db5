"""Lepton Workbench: cross-scenario transfer learning for Jupyter, Voilà and the command line.

Example:
    >>> import lepton_widgets as lw
    >>> cfg = lw.RunConfig()            # Fashion-MNIST, MobileNetV2 with offline ImageNet weights
    >>> cfg.backbone.name, cfg.backbone.weights
    ('mobilenet_v2', 'offline')
    >>> run = lw.train(cfg)             # doctest: +SKIP
"""

from lepton_widgets.core.base.quiet_tensorflow import install as _quiet_tensorflow_startup

_quiet_tensorflow_startup()  # before anything imports TensorFlow: its start-up log lines never reach the user

import lepton_widgets.core.tasks  # noqa: E402,F401 - registers the four tasks and every dataset
from lepton_widgets.api import (auto, evaluate, export, fuse, list_runs, open_run, predict, rank_backbones,
                                robustness, train, update)
from lepton_widgets.config import AugmentConfig, BackboneConfig, DataConfig, RunConfig, TrainConfig

__all__ = [
    "AugmentConfig", "BackboneConfig", "DataConfig", "RunConfig", "TrainConfig",
    "auto", "evaluate", "export", "fuse", "list_runs", "open_run", "predict", "rank_backbones", "robustness", "train",
    "update",
]
__version__ = "0.1.0"
