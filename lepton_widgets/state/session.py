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

import dataclasses
import types
import typing
from typing import Any, NamedTuple

from traitlets import Bool, Dict, Enum, Float, HasTraits, Instance, Int, List, TraitType, Unicode, observe
from traitlets.traitlets import MetaHasTraits

from lepton_widgets.config import BackboneConfig, RunConfig

#: "waiting": in line for a training slot on a shared server (``core.base.training_queue``); the message says
#: the place in line. It counts as busy: the Stop button leaves the line.
STATUSES = ("idle", "preparing", "waiting", "running", "evaluating", "stopping", "finished", "failed", "cancelled")
BUSY_STATUSES = ("preparing", "waiting", "running", "evaluating", "stopping")  # "finished" once the run is stored

#: The naming rule: a setting's trait is its config field's name, except for these (section, field) pairs.
RENAMES = {
    ("backbone", "name"): "backbone",        # the run's own top-level ``name`` has that name already
    # Existing names (the Data step binds data_path, data_target and data_test_path; tests/test_update.py uses
    # data_classes): bare "path", "classes", "target" would not say whose they are among the other settings.
    ("data", "path"): "data_path",
    ("data", "classes"): "data_classes",
    ("data", "target"): "data_target",
    ("data", "test_path"): "data_test_path",
}
#: Config sections that are not run settings of the Session, and why.
NOT_SETTINGS = {
    "tuner": "a training run ignores it; the Search step keeps it in the Session's ``tuner`` dict",
}


class Setting(NamedTuple):
    """One run setting: its trait name and where it lives in the config (``section`` None: top level)."""

    trait: str
    section: str | None
    field: str


def config_settings(config_class: type = RunConfig) -> tuple[Setting, ...]:
    """Every run setting of ``config_class``, in the dataclasses' order, named by :data:`RENAMES`.

    >>> [s for s in config_settings() if s.section == "backbone"][0]
    Setting(trait='backbone', section='backbone', field='name')
    """
    found = []
    for top in dataclasses.fields(config_class):
        if top.name in NOT_SETTINGS:
            continue
        section_class = config_class._SECTIONS.get(top.name)
        if section_class is None:
            found.append(Setting(RENAMES.get((None, top.name), top.name), None, top.name))
        else:
            found += [Setting(RENAMES.get((top.name, f.name), f.name), top.name, f.name)
                      for f in dataclasses.fields(section_class)]
    return tuple(found)


def _trait_for(hint: Any, default: Any, where: str) -> TraitType:
    """The trait for a field of type ``hint`` (already resolved from its annotation) holding ``default``."""
    parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    optional = type(None) in parts
    kinds = [p for p in parts if p is not type(None)]
    if len(kinds) > 1 and str in kinds:
        # A word beside another type is a sentinel the dataclass resolves when built (frozen_depth: "auto"
        # becomes a number or None), so the Session only ever holds the resolved type.
        kinds.remove(str)
    if len(kinds) != 1:
        raise TypeError(f"{where}: the Session has no trait for the type {hint}; give the field one plain type "
                        f"(int, float, str, bool, a list or a Literal of choices), optionally | None")
    kind = kinds[0]
    simple = {bool: Bool, int: Int, float: Float, str: Unicode}
    if kind in simple:
        return simple[kind](default, allow_none=optional)
    if typing.get_origin(kind) is typing.Literal:
        return Enum(typing.get_args(kind), default_value=default, allow_none=optional)
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind) or (Any,)
        item_trait = None if item is Any else _trait_for(item, None, f"{where} (its items)")
        return List(item_trait, default_value=default, allow_none=optional)
    raise TypeError(f"{where}: the Session has no trait for the type {hint}")


def settings_traits(config_class: type = RunConfig) -> dict[str, TraitType]:
    """A trait per setting of ``config_class``: its type from the field's annotation, its default from a
    default-built config (so a default resolved in ``__post_init__`` is the resolved one)."""
    defaults = config_class()
    traits = {}
    for setting in config_settings(config_class):
        owner = defaults if setting.section is None else getattr(defaults, setting.section)
        hint = typing.get_type_hints(type(owner))[setting.field]
        where = setting.field if setting.section is None else f"{setting.section}.{setting.field}"
        traits[setting.trait] = _trait_for(hint, getattr(owner, setting.field), where)
    return traits


class _SettingsFromConfig(MetaHasTraits):
    """Metaclass that adds a trait per config field to a class made with ``config_class=...``.

    ``class S(Session, config_class=MyRunConfig)`` is a Session whose settings are ``MyRunConfig``'s. A setting
    may not share a name with anything else of the class (it would hide the job state): that is a TypeError
    naming the field, when the class is made.
    """

    def __new__(mcls, name, bases, namespace, config_class: type | None = None, **kwargs):
        if config_class is not None:
            settings = config_settings(config_class)
            names = [s.trait for s in settings]
            inherited = {n for base in bases for n in dir(base)} - {s.trait for b in bases
                                                                    for s in getattr(b, "_settings", ())}
            for setting in settings:
                if names.count(setting.trait) > 1 or setting.trait in namespace or setting.trait in inherited:
                    where = setting.field if setting.section is None else f"{setting.section}.{setting.field}"
                    raise TypeError(f"config field {where} would be the Session trait {setting.trait!r}, which "
                                    f"is taken; add a name for it to RENAMES in lepton_widgets/state/session.py")
            namespace = {**namespace, **settings_traits(config_class),
                         "config_class": config_class, "_settings": settings}
        return super().__new__(mcls, name, bases, namespace, **kwargs)

    def __init__(cls, name, bases, namespace, config_class: type | None = None, **kwargs):
        # traitlets sets the traits up from the namespace it is given: give it the one with the settings.
        super().__init__(name, bases, dict(vars(cls)), **kwargs)


class Session(HasTraits, metaclass=_SettingsFromConfig, config_class=RunConfig):
    """Run settings plus live job state, observable by widgets (``session.observe(fn, "history")``).

    The run settings are not written here: there is one trait per :class:`RunConfig` field (see
    :func:`config_settings` for the names), made from the config dataclasses, so a field added there is a
    setting here, bound by name and round-tripped by :meth:`to_config` and :meth:`load_config`.
    """

    config_class: type = RunConfig       # set by the metaclass: the config the settings come from
    _settings: tuple[Setting, ...] = ()  # set by the metaclass

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

    # --- hyper-parameter search (the Search step; see core.search.tuner) ---
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
        # A checked dataset describes the data settings (and the seed that split it) it was checked with.
        self.observe(self._data_settings_changed,
                     names=["seed"] + [s.trait for s in self._settings if s.section == "data"])
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

    def _data_settings_changed(self, change) -> None:
        # A checked dataset describes the old settings; previews must not keep showing it as current.
        self.prepared = None
        self.data_report = None

    def to_config(self) -> RunConfig:
        """The validated RunConfig these settings describe (``ConfigError`` says what is wrong)."""
        raw: dict = {s.section: {} for s in self._settings if s.section is not None}
        for setting in self._settings:
            target = raw if setting.section is None else raw[setting.section]
            target[setting.field] = getattr(self, setting.trait)
        return self.config_class.from_dict(raw)

    def load_config(self, cfg: RunConfig) -> None:
        """Set every setting trait from ``cfg`` (reopening a run, 'use best' from the tuner)."""
        data = dataclasses.asdict(cfg)  # a copy: lists in the Session are not the config's lists
        self._loading = True  # a loaded config's depth is what it says, whatever its weights
        try:
            with self.hold_trait_notifications():
                for setting in self._settings:
                    section = data if setting.section is None else data[setting.section]
                    setattr(self, setting.trait, section[setting.field])
        finally:
            self._loading = False
        self._update_warnings()

    def open_run(self, record) -> RunConfig:
        """Show the stored run ``record`` in every step: its settings, curves and evaluation (the Runs step's
        "Reopen", Auto's "Open in the expert steps"); returns its config."""
        config = record.config
        self.load_config(config)
        with self.hold_trait_notifications():
            self.selected_cell = None
            self.history = record.history
            self.evaluation = record.evaluation
            self.current_run = record.run_id
        return config

    @property
    def settings(self) -> list[str]:
        """Names of the traits that are run settings (the rest is job state)."""
        return [s.trait for s in self._settings]
