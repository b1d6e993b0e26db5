"""The Session: the one piece of state the panels share, as traitlets.

Every control of the workbench is bound to a trait here, and :meth:`Session.to_config` turns the traits
into the same :class:`~lepton_widgets.config.RunConfig` the API and the CLI use, so a run made by
clicking can be replayed from code. Work in progress (status, live history, progress, errors) is also
here, written by the :class:`~lepton_widgets.state.runner.Runner` from its worker thread; panels observe
these traits and redraw.

Example:
    >>> session = Session()
    >>> session.frozen_depth = 15
    >>> session.to_config().backbone.frozen_depth
    15
    >>> session.load_config(session.to_config().replace(train__epochs=2)); session.epochs
    2
"""

from __future__ import annotations

from traitlets import Bool, Dict, Enum, Float, HasTraits, Instance, Int, List, Unicode, observe

from lepton_widgets.config import AugmentConfig, BackboneConfig, DataConfig, RunConfig, TrainConfig

STATUSES = ("idle", "preparing", "running", "evaluating", "stopping", "finished", "failed", "cancelled")
BUSY_STATUSES = ("preparing", "running", "evaluating", "stopping")  # "finished" only once the run is stored

# Which config field each trait mirrors: (section, field). The trait names are the field names,
# except where two sections would clash.
_FIELDS = {
    "name": (None, "name"), "seed": (None, "seed"),
    "dataset": ("data", "dataset"), "data_path": ("data", "path"), "max_per_class": ("data", "max_per_class"),
    "val_fraction": ("data", "val_fraction"), "test_fraction": ("data", "test_fraction"),
    "min_class_size": ("data", "min_class_size"), "data_classes": ("data", "classes"),
    "data_target": ("data", "target"), "data_test_path": ("data", "test_path"),
    "cv_below": ("data", "cv_below"), "cv_folds": ("data", "cv_folds"),
    "backbone": ("backbone", "name"), "weights": ("backbone", "weights"),
    "frozen_depth": ("backbone", "frozen_depth"), "image_size": ("backbone", "image_size"),
    "sequence_length": ("backbone", "sequence_length"),
    "flip": ("augment", "flip"), "rotation": ("augment", "rotation"), "zoom": ("augment", "zoom"),
    "translation": ("augment", "translation"), "contrast": ("augment", "contrast"),
    "brightness": ("augment", "brightness"), "time_mask": ("augment", "time_mask"),
    "freq_mask": ("augment", "freq_mask"), "time_shift": ("augment", "time_shift"), "gain_db": ("augment", "gain_db"),
    "noise": ("augment", "noise"), "word_dropout": ("augment", "word_dropout"), "word_swap": ("augment", "word_swap"),
    "word_substitute": ("augment", "word_substitute"),
    "epochs": ("train", "epochs"), "fine_tune_epochs": ("train", "fine_tune_epochs"),
    "learning_rate": ("train", "learning_rate"), "fine_tune_lr_factor": ("train", "fine_tune_lr_factor"),
    "batch_size": ("train", "batch_size"), "l2": ("train", "l2"), "dropout": ("train", "dropout"),
    "early_stopping_patience": ("train", "early_stopping_patience"), "lr_schedule": ("train", "lr_schedule"),
    "feature_cache": ("train", "feature_cache"), "head_units": ("train", "head_units"),
    "adversarial": ("train", "adversarial"), "adversarial_epsilon": ("train", "adversarial_epsilon"),
    "adversarial_ratio": ("train", "adversarial_ratio"),
}


class Session(HasTraits):
    """Run settings plus live job state, observable by widgets (``session.observe(fn, "history")``)."""

    # --- run settings (mirrors RunConfig; defaults come from the config dataclasses) ---
    name = Unicode(RunConfig.name)
    seed = Int(RunConfig.seed)
    dataset = Unicode(DataConfig.dataset)
    data_path = Unicode(None, allow_none=True)
    max_per_class = Int(DataConfig.max_per_class, allow_none=True)
    val_fraction = Float(DataConfig.val_fraction)
    test_fraction = Float(DataConfig.test_fraction)
    min_class_size = Int(DataConfig.min_class_size)
    data_classes = List(Unicode(), default_value=None, allow_none=True)  # None: every class of the dataset
    data_target = Unicode(None, allow_none=True)  # tables: the class column (None: the built-in table's own)
    data_test_path = Unicode(None, allow_none=True)  # your own test set (None: hold test samples out of path)
    cv_below = Int(DataConfig.cv_below)
    cv_folds = Int(DataConfig.cv_folds)
    backbone = Unicode(BackboneConfig.name)
    weights = Unicode(BackboneConfig.weights)
    frozen_depth = Int(None, allow_none=True)
    image_size = Int(BackboneConfig.image_size)
    sequence_length = Int(BackboneConfig.sequence_length)
    flip = Unicode(AugmentConfig.flip)
    rotation = Float(AugmentConfig.rotation)
    zoom = Float(AugmentConfig.zoom)
    translation = Float(AugmentConfig.translation)
    contrast = Float(AugmentConfig.contrast)
    brightness = Float(AugmentConfig.brightness)
    time_mask = Float(AugmentConfig.time_mask)
    freq_mask = Float(AugmentConfig.freq_mask)
    time_shift = Float(AugmentConfig.time_shift)
    gain_db = Float(AugmentConfig.gain_db)
    noise = Float(AugmentConfig.noise)
    word_dropout = Float(AugmentConfig.word_dropout)
    word_swap = Float(AugmentConfig.word_swap)
    word_substitute = Float(AugmentConfig.word_substitute)
    epochs = Int(TrainConfig.epochs)
    fine_tune_epochs = Int(TrainConfig.fine_tune_epochs)
    learning_rate = Float(TrainConfig.learning_rate)
    fine_tune_lr_factor = Float(TrainConfig.fine_tune_lr_factor)
    batch_size = Int(TrainConfig.batch_size)
    l2 = Float(TrainConfig.l2)
    dropout = Float(TrainConfig.dropout)
    early_stopping_patience = Int(TrainConfig.early_stopping_patience)
    lr_schedule = Unicode(TrainConfig.lr_schedule)
    feature_cache = Unicode(TrainConfig.feature_cache)
    head_units = Int(TrainConfig.head_units)
    adversarial = Unicode(TrainConfig.adversarial)
    adversarial_epsilon = Float(TrainConfig.adversarial_epsilon)
    adversarial_ratio = Float(TrainConfig.adversarial_ratio)

    # --- live job state (written by the Runner) ---
    status = Enum(STATUSES, default_value="idle")
    job = Unicode("")                      # what the worker is doing: "train", "prepare data", ...
    message = Unicode("")                  # one line for people: "epoch 3/8", "extracting features"
    progress = Dict()                      # {"task": str, "done": int, "total": int}
    history = List()                       # epoch rows of the current run: {"epoch", "phase", "loss", ...}
    current_run = Unicode(None, allow_none=True)   # run id of the running or last run
    last_error = Unicode("")
    last_traceback = Unicode("")
    runs_version = Int(0)                  # bumped when the run store changes, so run lists refresh

    # --- hyper-parameter search (the Search step; see core.tuning) ---
    tuner = Dict()                         # search settings: TunerConfig fields ({} = the defaults)
    search = Dict()                        # the current search: search_id, directory, message, total, config
    trials = List()                        # its trials: {"number", "trial_id", "status", "score", "hyperparameters", ...}
    best_trial = Dict()                    # the best completed trial's row, {} before one completes

    # --- results shared between panels ---
    data_report = Instance(object, allow_none=True)     # core.data.DataReport of the chosen dataset
    prepared = Instance(object, allow_none=True)        # core.data.PreparedData of images or sounds, for previews
    evaluation = Dict()                                 # EvaluationResult.to_dict() of the current run
    selected_cell = Instance(tuple, allow_none=True)    # (true index, predicted index) in the confusion matrix
    busy = Bool(False)
    #: Settings that are allowed but will not learn (``RunConfig.warnings``), for the Train step to show.
    run_warnings = List(Unicode())

    def __init__(self, **kwargs) -> None:
        self._loading = True  # settings given here are taken as given; the weights rule runs once below
        super().__init__(**kwargs)
        self._loading = False
        if "weights" in kwargs and "frozen_depth" not in kwargs:
            self._weights_changed({"old": BackboneConfig.weights, "new": self.weights})
        self._update_warnings()

    @observe("weights")
    def _weights_changed(self, change) -> None:
        # The config's own rule (BackboneConfig): random weights train every block unless told otherwise. A depth
        # that was the old weights' default follows the new weights; one the user chose stays.
        if getattr(self, "_loading", False):
            return
        if self.frozen_depth == BackboneConfig(weights=change["old"]).frozen_depth:
            self.frozen_depth = BackboneConfig(weights=change["new"]).frozen_depth

    @observe("weights", "frozen_depth")
    def _settings_for_warnings_changed(self, _change) -> None:
        self._update_warnings()

    def _update_warnings(self) -> None:
        # From the backbone settings alone: an unfinished data section must not hide this warning.
        backbone = BackboneConfig(weights=self.weights, frozen_depth=self.frozen_depth)
        self.run_warnings = RunConfig(backbone=backbone).warnings()

    @observe("status")
    def _status_changed(self, change) -> None:
        self.busy = change["new"] in BUSY_STATUSES

    @observe("dataset", "data_path", "max_per_class", "val_fraction", "test_fraction", "min_class_size",
             "data_classes", "data_target", "data_test_path", "seed")
    def _data_settings_changed(self, change) -> None:
        # A checked dataset describes the old settings; previews must not keep showing it as current.
        self.prepared = None
        self.data_report = None

    def to_config(self) -> RunConfig:
        """The validated RunConfig these settings describe (``ConfigError`` says what is wrong)."""
        raw: dict = {"data": {}, "backbone": {}, "augment": {}, "train": {}}
        for trait, (section, field) in _FIELDS.items():
            target = raw if section is None else raw[section]
            target[field] = getattr(self, trait)
        return RunConfig.from_dict(raw)

    def load_config(self, cfg: RunConfig) -> None:
        """Set every setting trait from ``cfg`` (reopening a run, 'use best' from the tuner)."""
        data = cfg.to_dict()
        self._loading = True  # a loaded config's depth is what it says, whatever its weights
        try:
            with self.hold_trait_notifications():
                for trait, (section, field) in _FIELDS.items():
                    setattr(self, trait, data[field] if section is None else data[section][field])
        finally:
            self._loading = False
        self._update_warnings()

    @property
    def settings(self) -> list[str]:
        """Names of the traits that are run settings (the rest is job state)."""
        return list(_FIELDS)
