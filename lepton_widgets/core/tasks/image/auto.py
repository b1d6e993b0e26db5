"""Pictures' answers to Lepton Auto (``core/tasks/autokit.py``): which backbones to rank, their frozen features
for the data doctor, and the config of each stage (a head on cached features, a search of the head, then
fine-tuning of the last blocks).

The default is MobileNetV2 with its offline ImageNet weights at 96 px: a head on its cached features learns
in seconds on a CPU. A backbone trained from scratch (``small_cnn``, weights ``none``) is never given a frozen
head: its features are random, so its "head" config trains every block instead, and it has nothing to search
on cached features nor to fine-tune afterwards. Sounds use the same kit on spectrograms
(``core/tasks/audio/auto.py``); only the augmentation of a from-scratch model differs.

Example:
    >>> from lepton_widgets.config import DataConfig
    >>> from lepton_widgets.core.tasks import task_named
    >>> kit = task_named("image").auto_kit()
    >>> cfg = kit.base_config(DataConfig(dataset="digits"), seed=1, goal="accuracy")
    >>> cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size, cfg.backbone.frozen_depth
    ('mobilenet_v2', 'offline', 96, None)
    >>> [c.label for c in kit.candidates(cfg, "fast")]
    ['MobileNetV2 · ImageNet weights', 'EfficientNet-Lite0 · ImageNet weights', 'small CNN · trained from scratch']
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Optional

import numpy as np

from lepton_widgets.config import AugmentConfig, DataConfig, RunConfig, TunerConfig
from lepton_widgets.core.tasks.autokit import GOALS, RANK_COLUMNS, AutoFeatures, AutoKit, Candidate, Recipe

if TYPE_CHECKING:
    import pandas as pd

    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.data import PreparedData

#: Plain names of the backbones (the registry's descriptions are for experts).
NAMES = {"mobilenet_v2": "MobileNetV2", "efficientnet_lite0": "EfficientNet-Lite0", "vgg16": "VGG16",
         "small_cnn": "small CNN", "mobilenet_v3_small": "MobileNetV3-Small", "mobilenet_v3_large": "MobileNetV3-Large",
         "efficientnet_b0": "EfficientNet-B0", "resnet50": "ResNet50", "convnext_tiny": "ConvNeXt-Tiny",
         "densenet121": "DenseNet121"}
#: What each backbone is, for the candidate's card.
ABOUT = {
    "mobilenet_v2": "a small, fast network pretrained on ImageNet photos (3.5M parameters)",
    "efficientnet_lite0": "a small network pretrained on ImageNet photos, often a little more accurate than "
                          "MobileNetV2 and a little slower (3.4M parameters)",
    "vgg16": "a large, slow network pretrained on ImageNet photos and then tuned to find edges (14.7M parameters)",
    "small_cnn": "a tiny network (47 thousand parameters) that learns everything from your data",
}
#: Backbones above this many parameters (millions) are left out when the goal is a small or fast model.
SMALL_MILLIONS = 5.0
#: What ranking one candidate costs, in first-model times (``rank_units``): its subset features on disk, or
#: not (the backbone built, offline weights converted the first time, the subset extracted), or random weights.
RANK_UNITS = {"cached": 0.1, "cold": 2.0, "none": 0.3}
#: Why a from-scratch candidate's ranking scores say little (shown in its ranking row).
RANDOM_REASON = ("trained from scratch: its scores here come from untrained (random) features, so they say "
                 "little about how well it learns; if chosen it trains every layer on your data")


def _millions(spec) -> float:
    """Approximate parameters in millions, read off the registry's description ("3.5M params", "~47k params")."""
    found = re.search(r"([\d.]+)\s*([Mk]) params", spec.description)
    if not found:
        return float("inf")
    return float(found.group(1)) * (1.0 if found.group(2) == "M" else 1e-3)


def weights_words(backbone: str, weights: str) -> str:
    """What a weights source means, in words: ``ImageNet weights``, ``trained from scratch``."""
    if weights in ("none",):
        return "trained from scratch"
    if weights == "offline":
        return "ImageNet weights tuned for edges" if backbone == "vgg16" else "ImageNet weights"
    if weights == "imagenet":
        return "ImageNet weights (downloaded)"
    if weights.startswith("run:"):
        return f"weights of run {weights[4:]}"
    return "weights from a file"


class ImageAutoKit(AutoKit):
    """Lepton Auto for pictures (see the module docstring)."""

    #: The first model every recipe trains, and the backbone whose features the data doctor reads when the
    #: config's own backbone is random.
    default_backbone, default_weights = "mobilenet_v2", "offline"
    #: Image size by goal: a fast model reads smaller pictures (about half the computation of 96 px).
    image_sizes = {"accuracy": 96, "small": 96, "fast": 64}
    #: Head epochs on cached features: each is a fraction of a second, and early stopping ends them.
    head_epochs, head_patience = 50, 5
    #: A from-scratch model trains every block this many epochs at most (early stopping ends it sooner).
    scratch_epochs, scratch_learning_rate = 30, 3e-3
    #: Fine-tuning: blocks unfrozen from the output side, and epochs (at train.fine_tune_lr_factor).
    fine_tune_blocks, fine_tune_epochs = 2, 5
    #: Epochs of each search trial (on cached features: seconds).
    search_epochs = 12

    def scratch_augment(self) -> dict:
        """Augmentation for a network trained from scratch (it needs variety; a frozen head needs none)."""
        return {"zoom": 0.1, "translation": 0.1, "rotation": 0.03}

    # --- AutoKit ---
    def base_config(self, data_cfg: DataConfig, seed: int, goal: str) -> RunConfig:
        if goal not in GOALS:
            raise ValueError(f"goal must be one of {', '.join(GOALS)}, not {goal!r}")
        return RunConfig.from_dict({
            "name": f"auto-{data_cfg.dataset}", "seed": int(seed), "data": dataclasses.asdict(data_cfg),
            "backbone": {"name": self.default_backbone, "weights": self.default_weights,
                         "image_size": self.image_sizes[goal], "frozen_depth": None},
            "train": {"epochs": self.head_epochs, "fine_tune_epochs": 0,
                      "early_stopping_patience": self.head_patience},
        })

    def candidates(self, cfg: RunConfig, goal: str) -> list[Candidate]:
        from lepton_widgets.core.backbones import get_backbone
        from lepton_widgets.core.tasks.image.ranking import default_candidates

        if goal not in GOALS:
            raise ValueError(f"goal must be one of {', '.join(GOALS)}, not {goal!r}")
        pairs = default_candidates(cfg.backbone.image_size)
        default = (self.default_backbone, self.default_weights)
        pairs = ([default] if default in pairs else []) + [p for p in pairs if p != default]
        if goal in ("small", "fast"):  # big backbones are slow to run and large to ship
            pairs = [p for p in pairs if _millions(get_backbone(p[0])) <= SMALL_MILLIONS]
        return [self.candidate(cfg, name, weights) for name, weights in pairs]

    def scratch_candidates(self, cfg: RunConfig, goal: str) -> list[Candidate]:
        """The from-scratch candidates (``small_cnn``): on sounds they beat every pretrained network (spoken
        keywords, 60 per word: 1.000 test accuracy at 64 px against 0.889 for a MobileNetV2 head), and their
        ranking scores, read off random features, cannot show it."""
        return [c for c in self.candidates(cfg, goal) if c.config.backbone.random_init]

    def candidate(self, cfg: RunConfig, name: str, weights: str) -> Candidate:
        """``cfg`` on backbone ``name`` with ``weights``, as a :class:`Candidate` with its plain words."""
        from lepton_widgets.core.backbones import get_backbone

        changes = {"backbone__name": name, "backbone__weights": weights, "augment": dataclasses.asdict(
            AugmentConfig(**(self.scratch_augment() if weights == "none" else {})))}
        changes["backbone__frozen_depth"] = 0 if weights == "none" else None
        label = f"{NAMES.get(name, name)} · {weights_words(name, weights)}"
        about = ABOUT.get(name) or get_backbone(name).description
        if weights not in ("none", "offline"):  # ABOUT speaks of the default weights
            about = f"{about}; here with {weights_words(name, weights)}"
        return Candidate(config=cfg.replace(**changes), label=label, about=about)

    def rank_units(self, cfg: RunConfig, candidates: list[Candidate], prepared: "PreparedData") -> float:
        # Measured (digits, 96 px, 2 cores; a first model took 4.1-4.2 s): a candidate whose subset features are
        # on disk scores in 0.1-0.3 s; a cold one builds its backbone and extracts, 5.4 s (EfficientNet-Lite0)
        # to 10.3 s (VGG16), about 2 first models on average; small_cnn's random features take about 1 s.
        from lepton_widgets.core.tasks.image.ranking import features_cached

        pairs = [(c.config.backbone.name, c.config.backbone.weights) for c in candidates]
        cached = features_cached(cfg, pairs, prepared)
        return sum(RANK_UNITS["none" if weights == "none" else "cached" if hit else "cold"]
                   for (_name, weights), hit in zip(pairs, cached))

    def rank(self, cfg: RunConfig, candidates: list[Candidate], prepared: "PreparedData",
             job: "Optional[Job]" = None) -> "pd.DataFrame":
        import pandas as pd

        from lepton_widgets.core.tasks.image.ranking import rank_backbones

        pairs = [(c.config.backbone.name, c.config.backbone.weights) for c in candidates]
        frame = rank_backbones(cfg, pairs, data=prepared, job=job)
        scored = frame["status"] == "ok"
        # The order rank_backbones recommends (mean rank of LogME and probe accuracy), as a score: higher is better.
        mean_rank = (frame.loc[scored, "logme"].rank(ascending=False)
                     + frame.loc[scored, "probe_accuracy"].rank(ascending=False)) / 2
        unused = list(range(len(candidates)))
        rows = []
        for position, row in frame.iterrows():
            index = next(i for i in unused if pairs[i] == (row["backbone"], row["weights"]))
            unused.remove(index)
            reason = str(row["reason"] or "")
            if row["weights"] == "none":
                reason = f"{reason}; {RANDOM_REASON}" if reason else RANDOM_REASON
            rows.append({"label": candidates[index].label,
                         "score": -float(mean_rank[position]) if scored[position] else np.nan,
                         "probe_accuracy": row["probe_accuracy"], "logme": row["logme"],
                         "seconds": row["seconds"], "status": row["status"], "reason": reason, "index": index})
        return pd.DataFrame(rows, columns=RANK_COLUMNS)

    def features(self, cfg: RunConfig, prepared: "PreparedData", job: "Optional[Job]" = None) -> AutoFeatures:
        from lepton_widgets.core.tasks.image.ranking import candidate_features

        source = cfg
        if cfg.backbone.random_init:
            # Random features would hide every label problem: the doctor reads the default pretrained network.
            source = cfg.replace(backbone__name=self.default_backbone, backbone__weights=self.default_weights)
        tables = {name: prepared.split(name) for name in ("train", "val")}
        features = candidate_features(source, tables, prepared.num_classes, job)
        frames = [tables[name].frame for name in tables]
        return AutoFeatures(
            x=np.concatenate([np.asarray(features[name], dtype=np.float32) for name in tables]),
            y=np.concatenate([tables[name].label_indices() for name in tables]),
            ids=[str(s) for frame in frames for s in frame["sha256"]],
            refs=[str(r) for frame in frames for r in frame["ref"]],
            split=np.array([name for name in tables for _ in range(len(tables[name]))]),
            class_names=list(prepared.class_names),
            source=f"{NAMES.get(source.backbone.name, source.backbone.name)} · "
                   f"{weights_words(source.backbone.name, source.backbone.weights)}")

    def head_config(self, cfg: RunConfig, recipe: Recipe) -> RunConfig:
        if cfg.backbone.random_init:
            # Never a frozen random backbone: its features are noise. Every block trains from the start.
            return cfg.replace(backbone__frozen_depth=0, train__epochs=self.scratch_epochs,
                               train__fine_tune_epochs=0, train__learning_rate=self.scratch_learning_rate,
                               train__early_stopping_patience=self.head_patience, train__adversarial="none")
        changes = {"backbone__frozen_depth": None, "train__fine_tune_epochs": 0, "train__feature_cache": "auto",
                   "train__epochs": self.head_epochs, "train__early_stopping_patience": self.head_patience,
                   "train__adversarial": "none", "augment": dataclasses.asdict(AugmentConfig())}
        if recipe.name == "few":
            # A handful per class: scikit-learn's cross-validated logistic regression on the cached features
            # beats a gradient-trained head (issue 15); it needs the classifier alone.
            changes.update(train__head_fit="logistic", train__head_units=0)
        return cfg.replace(**changes)

    def search_config(self, cfg: RunConfig, trials: int) -> Optional[RunConfig]:
        if cfg.backbone.random_init:
            return None  # a from-scratch model trains on pixels: no trial would be cheap
        changes = {"backbone__frozen_depth": None, "train__fine_tune_epochs": 0, "train__feature_cache": "auto",
                   "train__adversarial": "none", "augment": dataclasses.asdict(AugmentConfig())}
        if "head_fit" in {f.name for f in dataclasses.fields(cfg.train)}:
            changes["train__head_fit"] = "gradient"  # a search tunes the gradient-trained head's settings
        if cfg.train.lr_schedule == "cosine":
            changes["train__lr_schedule"] = "plateau"  # trials then share one traced head (search_head.can_share)
        changes["tuner"] = dataclasses.asdict(TunerConfig(
            algorithm="random", max_trials=int(trials), objective="val_accuracy",
            epochs=min(self.search_epochs, cfg.train.epochs), learning_rate=[1e-4, 1e-2], dropout=[0.0, 0.5],
            l2=[1e-6, 1e-2], head_units=[0, 128, 256]))
        return cfg.replace(**changes)

    def fine_tune_config(self, cfg: RunConfig) -> Optional[RunConfig]:
        from lepton_widgets.core.tasks.image.blocks import block_summary

        if cfg.backbone.random_init:
            return None  # trained whole already (head_config)
        n_blocks = block_summary(cfg.backbone.name, cfg.backbone.weights, cfg.backbone.image_size).n_blocks
        if n_blocks < 1:
            return None
        depth = max(0, n_blocks - self.fine_tune_blocks)
        changes = {"backbone__frozen_depth": depth, "train__fine_tune_epochs": self.fine_tune_epochs,
                   "train__adversarial": "none", "augment": dataclasses.asdict(AugmentConfig())}
        if "head_fit" in {f.name for f in dataclasses.fields(cfg.train)}:
            changes["train__head_fit"] = "gradient"  # the fine-tune phase continues a Keras head
        return cfg.replace(**changes)


__all__ = ["ImageAutoKit", "NAMES", "weights_words"]
