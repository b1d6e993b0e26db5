"""Run configuration: one object drives the Python API, the CLI and (later) the widgets.

A run made by clicking can be replayed from code because every control maps to a field here, and the
whole config round-trips through plain dicts, JSON and YAML.

Example:
    >>> from lepton_widgets.config import RunConfig
    >>> cfg = RunConfig.from_dict({"data": {"dataset": "digits"}, "backbone": {"name": "small_cnn",
    ...                            "weights": "none", "image_size": 32}, "train": {"epochs": 2}})
    >>> cfg.backbone.frozen_depth   # left out with random weights: 0, every block trains
    0
    >>> RunConfig.from_yaml(cfg.to_yaml()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value or key is wrong; the message says which and what is allowed, on one line."""


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no tags that run code) that also refuses anchors and aliases: a 1 KB file of
    nested aliases ("billion laughs") expands to gigabytes, and a config never needs them."""

    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors and aliases (&name, *name) are not allowed in a config: write each "
                            "value out", event.start_mark)
        return super().compose_node(parent, index)


def _show(value: Any, limit: int = 60) -> str:
    """``repr`` of a config value, cut to one short line (values can be anything a file holds)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def load_yaml(text: str, source: str = "config") -> Any:
    """Parse config YAML (JSON is YAML too) safely: at most ``limits.MAX_CONFIG_BYTES``, no anchors or
    aliases, no ``!!python`` tags; every problem is a one-line :class:`ConfigError` naming ``source`` and,
    for syntax errors, the line and column.

    >>> load_yaml("train: {epochs: 3}")
    {'train': {'epochs': 3}}
    >>> try:
    ...     load_yaml("a: &x [1]", "my.yaml")
    ... except ConfigError as error:
    ...     print(str(error)[:48])
    my.yaml: YAML anchors and aliases (&name, *name)
    """
    from lepton_widgets.core.base import limits

    size = len(text.encode("utf-8", "replace"))
    if size > limits.MAX_CONFIG_BYTES:
        raise ConfigError(f"{source} is {size:,} bytes; a config may be at most {limits.MAX_CONFIG_BYTES:,} bytes "
                          f"(LEPTON_MAX_CONFIG_BYTES)")
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = " ".join(str(error.problem or error.context or "").split())
        tag = problem.split("for the tag ", 1)[1].strip("'") if "for the tag " in problem else None
        if tag is not None:
            shown = "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag
            raise ConfigError(f"{source}: the tag {shown} is not allowed{where}: a config holds plain values only "
                              f"(text, numbers, true/false, null, lists and mappings)") from None
        if isinstance(error, yaml.composer.ComposerError) and "anchors and aliases" in problem:
            raise ConfigError(f"{source}: {problem}{where}") from None
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a config") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML/JSON config file, read with :func:`load_yaml`; never more than the size limit
    is read. Missing files, folders, non-UTF-8 text and non-mappings are one-line :class:`ConfigError`\ s."""
    from lepton_widgets.core.base import limits

    path = Path(path).expanduser()
    name = path.name or str(path)
    if path.is_dir():
        raise ConfigError(f"config {str(path)!r} is a folder; expected a YAML or JSON file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limits.MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except OSError as error:
        raise ConfigError(f"cannot read config {str(path)!r}: {error.strerror or error}") from None
    if len(raw) > limits.MAX_CONFIG_BYTES:
        raise ConfigError(f"{name} is over {limits.MAX_CONFIG_BYTES:,} bytes, the most a config may be "
                          f"(LEPTON_MAX_CONFIG_BYTES); is it really a config?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{name} is not UTF-8 text (first bad byte at offset {error.start}); save it as "
                          f"UTF-8") from None
    return config_mapping(load_yaml(text, name), name)


def config_mapping(value: Any, source: str = "config") -> dict[str, Any]:
    """``value`` as a config dict: an empty document is ``{}``; anything but a mapping is a ConfigError."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: a config must be a mapping of sections (data:, backbone:, train:, ...), "
                          f"got a {_kind(value)} {_show(value)}")
    return value


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__)


def _unknown(prefix: str, key: Any, value: Any, allowed: set[str]) -> ConfigError:
    """Unknown field ``prefix + key``: its value, what is allowed and the closest allowed name."""
    close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown field {prefix}{key} (value {_show(value)}); expected one of "
                       f"{', '.join(sorted(allowed))}{hint}")


#: field type (as written in the dataclasses) -> (accepted Python types, words for the message); the numbers
#: ABCs let numpy's integers and floats (widgets, tuners) through as they always went.
_SIMPLE_TYPES = {"int": ((numbers.Integral,), "a whole number"), "float": ((numbers.Real,), "a number"),
                 "str": ((str,), "text")}


def _check_types(prefix: str, obj: Any) -> None:
    """Plain-typed fields (int, float, str, optionally None) hold that type: ``epochs: "three"`` or a number
    as a name is a ConfigError here, before any comparison can fail with a TypeError."""
    for f in dataclasses.fields(obj):
        parts = [p.strip() for p in str(f.type).split("|")]
        optional = "None" in parts
        kinds = [p for p in parts if p != "None"]
        if len(kinds) != 1 or kinds[0] not in _SIMPLE_TYPES:
            continue  # lists and mixed fields are checked by validate()
        value = getattr(obj, f.name)
        if kinds[0] == "int" and isinstance(value, float) and value.is_integer():
            value = int(value)  # 2.0 from a float widget or a YAML writer is the whole number 2
            setattr(obj, f.name, value)
        types, words = _SIMPLE_TYPES[kinds[0]]
        if (value is None and optional) or (isinstance(value, types) and not isinstance(value, bool)):
            continue
        hint = " (put it in quotes)" if kinds[0] == "str" and isinstance(value, (int, float)) else ""
        raise ConfigError(f"{prefix}{f.name} must be {words}{' or null' if optional else ''}, got "
                          f"{_show(value)}{hint}")


def _whole_floats(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``2.0`` in a whole-number field is 2 (YAML writers and --set may add the dot); ``1.5`` stays wrong."""
    ints = {f.name for f in dataclasses.fields(cls) if str(f.type) in ("int", "int | None")}
    return {k: int(v) if k in ints and isinstance(v, float) and v.is_integer() else v for k, v in values.items()}


@dataclass
class DataConfig:
    """Which data to use and how to split it.

    ``dataset`` is a registry name (``fashion_mnist``, ``digits``, ...) or one of the bring-your-own kinds
    ``folder`` (one subfolder per class), ``zip`` (a zip of such a folder) or ``csv`` (``path,label`` rows);
    the bring-your-own kinds read ``path``.

    ``classes`` keeps only these classes, in this order (``None``: every class, in the dataset's order).
    Whole numbers are read as names, so YAML's ``[0, 1]`` selects the digits ``"0"`` and ``"1"``.

    ``test_path``: your own test set, in the same format as ``path`` (a folder of class folders, a zip, a CSV;
    for the bring-your-own kinds only). It becomes the test split, and nothing of ``path`` is held out for
    testing: ``path`` is split into train and validation only.

    Tiny data (the smallest class has fewer than ``cv_below`` samples; ``0`` turns this off) is judged by
    stratified ``cv_folds``-fold cross-validation (at most as many folds as the smallest class has samples):
    each fold trains on the others and predicts its own samples, the run's metrics are those held-out
    predictions with the mean and spread of the fold accuracies (``cv_accuracy_mean``/``_std``), and the
    stored model is then trained on all of it (plus evaluated on ``test_path`` when given). Folds train for
    the full epoch budget, without early stopping or the plateau schedule, so no held-out sample picks an
    epoch. Pictures and sounds only; tables and texts keep their fixed split.

    ``exclude``: samples you chose to leave out (Auto's "exclude these likely mislabelled examples"), named by
    their content hash (the ``sha256`` column of ``data_report.csv``; a prefix of at least
    ``EXCLUDE_MIN_PREFIX`` characters will do, a shorter id must match whole). They stay in the data report
    with the reason, and out of training, validation and test. An id that matches nothing is a note, not an
    error.

    >>> DataConfig(dataset="digits", classes=[0, 1]).classes
    ['0', '1']
    """

    dataset: str = "fashion_mnist"
    path: str | None = None
    max_per_class: int | None = 100
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    min_class_size: int = 5
    classes: list[str] | None = None
    #: Tables only: the column holding the class (``table_csv`` needs it; built-in tables have a default).
    target: str | None = None
    test_path: str | None = None
    cv_below: int = 10
    cv_folds: int = 5
    exclude: list[str] | None = None

    #: The shortest sample-id prefix ``exclude`` matches by (12 hex characters: 48 bits, no accidental matches).
    EXCLUDE_MIN_PREFIX = 12

    def __post_init__(self) -> None:
        # Class names are strings, but YAML and the CLI's --set read digits' class names as numbers.
        if isinstance(self.classes, (list, tuple)):
            self.classes = [str(c) if isinstance(c, int) and not isinstance(c, bool) else c for c in self.classes]
        if isinstance(self.exclude, tuple):
            self.exclude = list(self.exclude)
        if isinstance(self.exclude, list):  # ids are compared in lower case, as hexdigest() writes them
            self.exclude = [c.strip().lower() if isinstance(c, str) else c for c in self.exclude]

    def validate(self) -> None:
        if self.target is not None and (not isinstance(self.target, str) or not self.target.strip()):
            raise ConfigError(f"data.target must be a column name or null, got {self.target!r}")
        if self.dataset == "table_csv" and not (self.path and self.target):
            raise ConfigError("data.path (the CSV file) and data.target (its class column) are required when "
                              "data.dataset is 'table_csv'")
        if self.classes is not None:
            if (not isinstance(self.classes, list) or not self.classes
                    or not all(isinstance(c, str) and c for c in self.classes)):
                raise ConfigError(f"data.classes must be a non-empty list of class names or null (every class), "
                                  f"got {self.classes!r}")
            if len(set(self.classes)) != len(self.classes):
                twice = sorted({c for c in self.classes if self.classes.count(c) > 1})
                raise ConfigError(f"data.classes lists a class twice: {twice}")
        if self.dataset in ("folder", "zip", "csv") and not self.path:
            raise ConfigError(f"data.path is required when data.dataset is {self.dataset!r}")
        if self.test_path is not None and (not isinstance(self.test_path, str) or not self.test_path.strip()):
            raise ConfigError(f"data.test_path must be a path or null, got {self.test_path!r}")
        if not isinstance(self.cv_below, int) or self.cv_below < 0:
            raise ConfigError(f"data.cv_below must be a whole number >= 0 (0: never cross-validate), "
                              f"got {self.cv_below!r}")
        if not isinstance(self.cv_folds, int) or self.cv_folds < 2:
            raise ConfigError(f"data.cv_folds must be a whole number >= 2, got {self.cv_folds!r}")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 0.5:
                raise ConfigError(f"data.{name} must be between 0 and 0.5, got {value}")
        if self.max_per_class is not None and self.max_per_class < 3:
            raise ConfigError(f"data.max_per_class must be at least 3 (one sample per split), or null, "
                              f"got {self.max_per_class!r}")
        if self.exclude is not None:
            if not isinstance(self.exclude, list):
                raise ConfigError(f"data.exclude must be a list of sample ids (the sha256 column of the data "
                                  f"report) or null, got {self.exclude!r}")
            bad = [c for c in self.exclude if not (isinstance(c, str) and c)]
            if bad:
                raise ConfigError(f"data.exclude: {bad[0]!r} is not a sample id; use the sha256 column of the data "
                                  f"report (or at least its first {self.EXCLUDE_MIN_PREFIX} characters)")


@dataclass
class BackboneConfig:
    """Pretrained network below the new head.

    ``weights``: ``offline`` (the bundled offline weights pack), ``imagenet`` (keras.applications, needs
    internet), ``none`` (random init, train from scratch) or a path to a ``.weights.h5`` file.
    ``frozen_depth`` counts blocks from the input side; ``None`` freezes every block. Left out (or ``"auto"``),
    it is resolved when the config is built: ``0`` (train every block) for random weights, whose blocks have
    learnt nothing worth keeping, and ``None`` (every block frozen) for pretrained ones. The resolved number is
    what the config stores, so a saved config replays the same way. Asking for frozen random blocks explicitly
    is allowed (a baseline) but :meth:`RunConfig.warnings` says it will not learn.

    ``image_size`` applies to pictures (images, spectrograms); ``sequence_length`` to texts: word pieces
    (MiniLM) or words (GloVe) per text, longer texts are cut and counted in the run's notes.

    >>> BackboneConfig(weights="none").frozen_depth, BackboneConfig(weights="offline").frozen_depth
    (0, None)
    """

    name: str = "mobilenet_v2"
    weights: str = "offline"
    frozen_depth: int | None | str = "auto"
    image_size: int = 96
    sequence_length: int = 128

    #: A text encoder's own limit (MiniLM's position embeddings).
    MAX_SEQUENCE_LENGTH = 512
    #: ``weights`` values that mean random initialisation (nothing learnt yet).
    RANDOM_WEIGHTS = ("none",)

    def __post_init__(self) -> None:
        # Resolve "not given" here, once, so to_dict/YAML always hold a plain number or null.
        if self.frozen_depth == "auto":
            self.frozen_depth = 0 if self.random_init else None

    @property
    def random_init(self) -> bool:
        """True when the backbone starts from random weights (``weights: none``)."""
        return self.weights in self.RANDOM_WEIGHTS

    def validate(self) -> None:
        if self.frozen_depth is not None and (not isinstance(self.frozen_depth, int)
                                              or isinstance(self.frozen_depth, bool)):
            raise ConfigError(f"backbone.frozen_depth must be a whole number, null (all blocks frozen) or 'auto', "
                              f"got {self.frozen_depth!r}")
        if self.frozen_depth is not None and self.frozen_depth < 0:
            raise ConfigError(f"backbone.frozen_depth must be >= 0 or null (all blocks frozen), "
                              f"got {self.frozen_depth!r}")
        if not 16 <= self.image_size <= 1024:
            raise ConfigError(f"backbone.image_size must be between 16 and 1024, got {self.image_size}")
        if not 8 <= self.sequence_length <= self.MAX_SEQUENCE_LENGTH:
            raise ConfigError(f"backbone.sequence_length must be between 8 and {self.MAX_SEQUENCE_LENGTH}, "
                              f"got {self.sequence_length}")


@dataclass
class AugmentConfig:
    """Keras preprocessing-layer augmentations; they are active only while training.

    Factors follow the Keras layers: ``rotation`` is a fraction of a full turn, ``zoom``/``translation``
    fractions of the image size, ``contrast``/``brightness`` fractions of the value range.

    Spectrogram (audio) augmentations, see ``core/tasks/audio/augment.py``: ``time_mask``/``freq_mask`` (SpecAugment)
    zero a band of up to that fraction of the time/frequency axis, ``time_shift`` moves the sound by up to
    that fraction of the clip, ``gain_db`` changes the level by up to that many dB (0..40), and ``noise``
    mixes in noise (in the power domain) up to that fraction of the level range (0.5: -40 dBFS per band).
    """

    flip: str = "none"
    rotation: float = 0.0
    zoom: float = 0.0
    translation: float = 0.0
    contrast: float = 0.0
    brightness: float = 0.0
    time_mask: float = 0.0
    freq_mask: float = 0.0
    time_shift: float = 0.0
    gain_db: float = 0.0
    noise: float = 0.0
    #: Text (core/tasks/text/augment.py): fraction of words dropped, fraction of words swapped with their neighbour,
    #: fraction of words replaced by one of their nearest GloVe neighbours.
    word_dropout: float = 0.0
    word_swap: float = 0.0
    word_substitute: float = 0.0

    FLIP_MODES = ("none", "horizontal", "vertical", "horizontal_and_vertical")
    FRACTIONS = ("rotation", "zoom", "translation", "contrast", "brightness", "time_mask", "freq_mask", "time_shift",
                 "noise", "word_dropout", "word_swap", "word_substitute")
    MAX_GAIN_DB = 40.0

    def validate(self) -> None:
        if self.flip not in self.FLIP_MODES:
            raise ConfigError(f"augment.flip must be one of {self.FLIP_MODES}, got {self.flip!r}")
        for name in self.FRACTIONS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"augment.{name} must be between 0 and 1, got {value}")
        if not 0.0 <= self.gain_db <= self.MAX_GAIN_DB:
            raise ConfigError(f"augment.gain_db must be between 0 and {self.MAX_GAIN_DB:g} dB, got {self.gain_db}")

    @property
    def active(self) -> bool:
        return self.flip != "none" or self.gain_db > 0 or any(getattr(self, n) > 0 for n in self.FRACTIONS)


@dataclass
class TrainConfig:
    """Two-phase transfer learning: ``epochs`` train the new head on the frozen backbone, then
    ``fine_tune_epochs`` train with the first ``frozen_depth`` blocks frozen at
    ``learning_rate * fine_tune_lr_factor``. The second phase runs only when some block is unfrozen.

    ``head_units`` adds a hidden ``Dense(head_units, relu)`` layer to the head (0: the classifier alone).
    ``adversarial`` (``fgsm`` or ``pgd``) trains on a mix of clean and attacked images: a fraction
    ``adversarial_ratio`` of each batch is replaced by adversarial examples at ``adversarial_epsilon``
    (an L-infinity radius on pixels scaled to [0, 1], so 0.03 is about 8/255). It needs the full model in
    every step, so it turns the feature cache off.

    ``class_weight``: ``balanced`` weighs each class's examples by ``n_samples / (n_classes * count)``, counted
    on the train split, so a rare class counts as much as a common one in the loss (every modality, every
    fit); ``none`` weighs every example alike.

    ``head_fit``: how the new head learns on pictures and sounds. ``gradient`` trains it with Keras for
    ``epochs``. ``logistic`` fits it in one go as an L2 logistic regression (scikit-learn), its strength chosen
    by cross-validation on the train and validation examples: with a handful of examples per class this beats
    gradient training and needs no held-out split. It needs a head that is a plain linear classifier on fixed
    features: every backbone block frozen (``frozen_depth: null``), ``head_units: 0`` and augmentation off;
    otherwise the head trains by gradient and :meth:`RunConfig.warnings` says why.
    """

    epochs: int = 5
    fine_tune_epochs: int = 3
    learning_rate: float = 1e-3
    fine_tune_lr_factor: float = 0.1
    batch_size: int = 32
    l2: float = 1e-4
    dropout: float = 0.2
    early_stopping_patience: int = 3
    lr_schedule: str = "plateau"
    feature_cache: str = "auto"
    head_units: int = 0
    hidden_layers: int = 2  # a table's MLP: hidden layers, each half as wide as the one before (>= 1)
    adversarial: str = "none"
    adversarial_epsilon: float = 0.03
    adversarial_ratio: float = 0.5
    class_weight: str = "none"
    head_fit: str = "gradient"

    LR_SCHEDULES = ("constant", "plateau", "cosine")
    FEATURE_CACHE_MODES = ("auto", "never")
    CLASS_WEIGHT_MODES = ("none", "balanced")
    HEAD_FITS = ("gradient", "logistic")
    ADVERSARIAL_METHODS = ("none", "fgsm", "pgd")

    def validate(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"train.epochs must be >= 1, got {self.epochs!r}")
        if self.fine_tune_epochs < 0:
            raise ConfigError(f"train.fine_tune_epochs must be >= 0, got {self.fine_tune_epochs!r}")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"train.learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 < self.fine_tune_lr_factor <= 1:
            raise ConfigError(f"train.fine_tune_lr_factor must be in (0, 1], got {self.fine_tune_lr_factor!r}")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {self.batch_size!r}")
        if self.l2 < 0:
            raise ConfigError(f"train.l2 must be >= 0, got {self.l2!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"train.dropout must be in [0, 1), got {self.dropout!r}")
        if self.lr_schedule not in self.LR_SCHEDULES:
            raise ConfigError(f"train.lr_schedule must be one of {self.LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.feature_cache not in self.FEATURE_CACHE_MODES:
            raise ConfigError(f"train.feature_cache must be one of {self.FEATURE_CACHE_MODES}, "
                              f"got {self.feature_cache!r}")
        if self.head_units < 0:
            raise ConfigError(f"train.head_units must be >= 0 (0: no hidden layer), got {self.head_units!r}")
        if self.hidden_layers < 1:
            raise ConfigError(f"train.hidden_layers must be >= 1, got {self.hidden_layers!r}")
        if self.adversarial not in self.ADVERSARIAL_METHODS:
            raise ConfigError(f"train.adversarial must be one of {self.ADVERSARIAL_METHODS}, got {self.adversarial!r}")
        if not 0 < self.adversarial_epsilon <= 1:
            raise ConfigError(f"train.adversarial_epsilon must be in (0, 1] (pixels scaled to [0, 1]), "
                              f"got {self.adversarial_epsilon!r}")
        if not 0 < self.adversarial_ratio <= 1:
            raise ConfigError(f"train.adversarial_ratio must be in (0, 1], got {self.adversarial_ratio!r}")
        if self.class_weight not in self.CLASS_WEIGHT_MODES:
            raise ConfigError(f"train.class_weight must be one of {self.CLASS_WEIGHT_MODES}, got {self.class_weight!r}")
        if self.head_fit not in self.HEAD_FITS:
            raise ConfigError(f"train.head_fit must be one of {self.HEAD_FITS}, got {self.head_fit!r}")


@dataclass
class TunerConfig:
    """A hyper-parameter search over the run's settings (``lepton tune``, the workbench's Search step).

    Each search-space field is ``None`` (not searched: every trial uses the run's own value) or what to
    try: a list of choices (``backbone``, ``frozen_depth``, ``augment``, ``batch_size``, ``head_units``) or
    a ``[low, high]`` range (``augment_strength``, ``dropout``, ``l2`` and ``learning_rate``; the last two
    are sampled on a log scale when ``low > 0``). ``head_units`` 0 means no hidden head layer. In ``frozen_depth`` a ``null`` choice means every block frozen; a depth
    beyond a backbone's block count freezes all of its blocks. ``augment`` choices are the policies in
    ``AUGMENT_POLICIES`` (``base`` keeps the run's own augment settings); ``augment_strength`` scales them.

    ``algorithm``: ``random`` (KerasTuner RandomSearch), ``bayesian`` (BayesianOptimization) or
    ``hyperband`` (Hyperband: it ignores ``max_trials`` and spends ``hyperband_iterations`` brackets of up
    to the trial's full epoch budget, shrinking by ``hyperband_factor``). ``epochs`` is the head epochs of
    each trial (``None``: ``train.epochs``); trials that unfreeze blocks add ``train.fine_tune_epochs``.
    Raising ``max_trials`` continues an earlier search instead of starting a new one.

    Example:
        >>> cfg = RunConfig.from_dict({"tuner": {"max_trials": 5, "learning_rate": [1e-4, 1e-2],
        ...                                      "frozen_depth": [None, 10]}})
        >>> cfg.tuner.searched()
        ['frozen_depth', 'learning_rate']
    """

    algorithm: str = "random"
    max_trials: int = 10
    objective: str = "val_accuracy"
    epochs: int | None = None
    hyperband_factor: int = 3
    hyperband_iterations: int = 1
    backbone: list[str] | None = None
    frozen_depth: list[int | None] | None = None
    augment: list[str] | None = None
    augment_strength: list[float] | None = None
    dropout: list[float] | None = None
    l2: list[float] | None = None
    learning_rate: list[float] | None = None
    batch_size: list[int] | None = None
    head_units: list[int] | None = None
    hidden_layers: list[int] | None = None  # a table's MLP depth (train.hidden_layers)

    ALGORITHMS = ("random", "bayesian", "hyperband")
    OBJECTIVES = ("val_accuracy", "val_loss")
    #: ``word_*`` and ``words`` (all three at half strength) are the text policies (issue 14 item 7).
    AUGMENT_POLICIES = ("none", "base", "flip", "geometric", "color", "all", "word_dropout", "word_swap",
                        "word_substitute", "words")
    CHOICE_FIELDS = ("backbone", "frozen_depth", "augment", "batch_size", "head_units", "hidden_layers")
    #: range field -> (lowest allowed, highest allowed, highest inclusive)
    RANGE_FIELDS = {"augment_strength": (0.0, 1.0, True), "dropout": (0.0, 1.0, False),
                    "l2": (0.0, 1.0, True), "learning_rate": (0.0, 1.0, False)}

    def __post_init__(self) -> None:
        # YAML 1.1 reads ``1e-4`` (no dot) as a string; accept it in ranges rather than fail on notation.
        for name in self.RANGE_FIELDS:
            bounds = getattr(self, name)
            if isinstance(bounds, (list, tuple)):
                setattr(self, name, [_number(b) for b in bounds])

    def searched(self) -> list[str]:
        """Names of the hyper-parameters this search varies, in a fixed order."""
        return [name for name in (*self.CHOICE_FIELDS, *self.RANGE_FIELDS) if getattr(self, name) is not None]

    def validate(self) -> None:
        if self.algorithm not in self.ALGORITHMS:
            raise ConfigError(f"tuner.algorithm must be one of {self.ALGORITHMS}, got {self.algorithm!r}")
        if self.objective not in self.OBJECTIVES:
            raise ConfigError(f"tuner.objective must be one of {self.OBJECTIVES}, got {self.objective!r}")
        if self.max_trials < 1:
            raise ConfigError(f"tuner.max_trials must be >= 1, got {self.max_trials!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"tuner.epochs must be >= 1 or null (train.epochs), got {self.epochs!r}")
        if self.hyperband_factor < 2 or self.hyperband_iterations < 1:
            raise ConfigError("tuner.hyperband_factor must be >= 2 and tuner.hyperband_iterations >= 1")
        for name in self.CHOICE_FIELDS:
            choices = getattr(self, name)
            if choices is None:
                continue
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"tuner.{name} must be a non-empty list of choices or null, got {choices!r}")
            if len(set(map(repr, choices))) != len(choices):
                raise ConfigError(f"tuner.{name} lists a choice twice: {choices}")
        if self.backbone is not None and not all(isinstance(c, str) and c for c in self.backbone):
            raise ConfigError(f"tuner.backbone choices must be backbone names, got {self.backbone}")
        if self.frozen_depth is not None and not all(
                c is None or (isinstance(c, int) and not isinstance(c, bool) and c >= 0) for c in self.frozen_depth):
            raise ConfigError(f"tuner.frozen_depth choices must be block counts >= 0 or null, got {self.frozen_depth}")
        if self.augment is not None and not set(self.augment) <= set(self.AUGMENT_POLICIES):
            raise ConfigError(f"tuner.augment choices must be among {self.AUGMENT_POLICIES}, got {self.augment}")
        if self.batch_size is not None and not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in self.batch_size):
            raise ConfigError(f"tuner.batch_size choices must be integers >= 1, got {self.batch_size}")
        if self.hidden_layers is not None and not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in self.hidden_layers):
            raise ConfigError(f"tuner.hidden_layers choices must be integers >= 1, got {self.hidden_layers}")
        if self.head_units is not None and not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in self.head_units):
            raise ConfigError(f"tuner.head_units choices must be integers >= 0 (0: no hidden layer), "
                              f"got {self.head_units}")
        for name, (lowest, highest, inclusive) in self.RANGE_FIELDS.items():
            bounds = getattr(self, name)
            if bounds is None:
                continue
            if (not isinstance(bounds, list) or len(bounds) != 2
                    or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)):
                raise ConfigError(f"tuner.{name} must be [low, high] or null, got {bounds!r}")
            low, high = bounds
            top_ok = high <= highest if inclusive else high < highest
            if not (lowest <= low < high and top_ok):
                raise ConfigError(f"tuner.{name} must satisfy {lowest} <= low < high "
                                  f"{'<=' if inclusive else '<'} {highest}, got {bounds}")
        if self.learning_rate is not None and self.learning_rate[0] <= 0:
            raise ConfigError("tuner.learning_rate low must be > 0 (it is sampled on a log scale)")


@dataclass
class RunConfig:
    """Everything that defines a run. One ``seed`` drives the split, initialisation and shuffling.

    ``tuner`` is used only by a search (``lepton tune``); a training run ignores it.
    """

    name: str = "run"
    seed: int = 42
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tuner: TunerConfig = field(default_factory=TunerConfig)

    _SECTIONS = {"data": DataConfig, "backbone": BackboneConfig, "augment": AugmentConfig, "train": TrainConfig,
                 "tuner": TunerConfig}

    def validate(self) -> "RunConfig":
        _check_types("", self)
        for section in self._SECTIONS:
            value = getattr(self, section)
            if not isinstance(value, self._SECTIONS[section]):
                raise ConfigError(f"{section} must be a mapping of its fields, got {_show(value)}")
            _check_types(f"{section}.", value)
            value.validate()
        return self

    def warnings(self) -> list[str]:
        """Settings that are valid but will not learn, in plain words (shown before and during a run).

        >>> RunConfig.from_dict({"backbone": {"weights": "none", "frozen_depth": None}}).warnings()[0][:40]
        'Every block of a backbone with random we'
        """
        found = []
        if self.backbone.random_init and self.backbone.frozen_depth is None:
            found.append("Every block of a backbone with random weights (weights: none) is frozen: only the new "
                         "head trains, on random features, so expect accuracy near chance. Unfreeze the blocks "
                         "(the Freeze step, or frozen_depth: 0) to train them from scratch.")
        if self.train.head_fit == "logistic" and self.logistic_head_blockers():
            found.append("head_fit: logistic fits a plain linear head on fixed backbone features, so it is not used "
                         f"here ({'; '.join(self.logistic_head_blockers())}): the head trains by gradient "
                         "instead (head_fit: gradient).")
        return found

    def logistic_head_blockers(self) -> list[str]:
        """Why ``train.head_fit: logistic`` cannot fit this config's head, in plain words (empty: it can).

        >>> RunConfig.from_dict({"train": {"head_fit": "logistic", "head_units": 64}}).logistic_head_blockers()
        ['the head has a hidden layer (head_units: 64; use 0)']
        """
        found = []
        if self.backbone.frozen_depth is not None:
            found.append(f"some backbone blocks train (frozen_depth: {self.backbone.frozen_depth}; use null to "
                         "freeze them all)")
        if self.train.head_units > 0:
            found.append(f"the head has a hidden layer (head_units: {self.train.head_units}; use 0)")
        if self.augment.active:
            found.append("augmentation is on, so the features change every epoch (turn augment off)")
        if self.train.adversarial != "none":
            found.append(f"adversarial training ({self.train.adversarial}) needs the whole model in every step")
        return found

    def to_dict(self) -> dict[str, Any]:
        """Plain dict; the ``tuner`` section appears only when it differs from the defaults, so the config
        of a plain training run reads (and hashes) as it did before searches existed."""
        data = dataclasses.asdict(self)
        if self.tuner == TunerConfig():
            del data["tuner"]
        return data

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "RunConfig":
        """Build and validate a config; unknown keys are an error (a typo must not be ignored silently)."""
        raw = _whole_floats(cls, dict(config_mapping(raw)))
        top_fields = {f.name for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in top_fields:
                raise _unknown("", key, raw[key], top_fields)
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            section_cls = cls._SECTIONS.get(key)
            kwargs[key] = _section_from_dict(key, section_cls, value) if section_cls else value
        return cls(**kwargs).validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> "RunConfig":
        """Parse with :func:`load_yaml` (no aliases, no tags, size-limited) and build with :meth:`from_dict`."""
        return cls.from_dict(load_yaml(text))

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """Read a ``.yaml``/``.yml`` or ``.json`` config file (JSON is valid YAML, so one parser serves);
        a problem is a ConfigError that starts with the file's name."""
        raw = read_config_file(path)
        try:
            return cls.from_dict(raw)
        except ConfigError as error:
            raise ConfigError(f"{Path(path).name}: {error}") from None

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with some top-level fields or ``section__field`` values changed.

        >>> RunConfig().replace(seed=1, train__epochs=2).train.epochs
        2
        """
        data = dataclasses.asdict(self)  # every section, the default tuner one included
        weights_changed = "backbone__weights" in changes and "backbone__frozen_depth" not in changes
        if weights_changed and self.backbone.frozen_depth == BackboneConfig(weights=self.backbone.weights).frozen_depth:
            # The depth was the old weights' default: let the new weights pick theirs (random: train every block).
            data["backbone"]["frozen_depth"] = "auto"
        for key, value in changes.items():
            if "__" in key:
                section, name = key.split("__", 1)
                if section not in self._SECTIONS:
                    raise _unknown("", section, value, set(self._SECTIONS))
                data[section][name] = value
            else:
                data[key] = value
        return RunConfig.from_dict(data)


def _section_from_dict(section: str, section_cls: type, value: Any) -> Any:
    if isinstance(value, section_cls):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{section} must be a mapping of its fields (e.g. {section}: {{...}}), got a "
                          f"{_kind(value)} {_show(value)}")
    allowed = {f.name for f in dataclasses.fields(section_cls)}
    for key in value:
        if key not in allowed:
            raise _unknown(f"{section}.", key, value[key], allowed)
    value = _whole_floats(section_cls, value)
    # YAML 1.1 (PyYAML) reads 1e-3 without a dot as a string; float fields take it as the number it means.
    floats = {f.name for f in dataclasses.fields(section_cls) if f.type in ("float", float)}
    value = {k: _number(v) if k in floats else v for k, v in value.items()}
    for key in floats & set(value):
        if not isinstance(value[key], (int, float)) or isinstance(value[key], bool):
            raise ConfigError(f"{section}.{key} must be a number, got {value[key]!r}")
    return section_cls(**value)


def _number(value: Any) -> Any:
    """``"1e-4"`` -> ``0.0001``; anything else unchanged (validation reports what is wrong)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value
