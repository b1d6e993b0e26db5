"""The Task protocol: everything that differs between pictures, sounds, texts and tables, behind one face.

A :class:`Task` knows its modality's data, model and training, and says which workbench steps it supports.
Steps (search, fusion, updates, export, robustness, Auto) ask the task; they never test the modality
themselves. :mod:`lepton_widgets.core.tasks.registry` is the one place that maps a dataset, a config, a
stored run or a model file to its task.

Example:
    >>> from lepton_widgets.core.tasks import task_named
    >>> task = task_named("text")
    >>> task.words, task.supports("gradcam")
    ('texts', False)
    >>> task.refusal("gradcam")
    'Grad-CAM is available for pictures and sounds; this run was trained on texts.'
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Optional

from lepton_widgets.i18n import N_, _

if TYPE_CHECKING:  # the names below are only for annotations: a task module imports its own heavy parts lazily
    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.base.job import Job
    from lepton_widgets.core.runs.store import RunRecord, RunStore

#: Every step a task may support, with the words a refusal uses for it.
STEPS = {
    "train": N_("Training"), "evaluate": N_("Evaluation"), "predict": N_("Prediction"), "export": N_("Export"),
    "search": N_("Search"), "fusion": N_("Fusion"), "update": N_("Updating with new data"),
    "robustness": N_("The robustness check"),
    "adversarial_training": N_("Adversarial training"), "gradcam": N_("Grad-CAM"), "rank": N_("Backbone ranking"),
    "cross_validation": N_("Cross-validation of tiny data"), "auto": N_("Auto"),
}


class Task:
    """One modality. Subclasses set the class attributes and implement :meth:`run`.

    - ``name``: ``image``, ``audio``, ``text`` or ``tabular`` (what run records and dataset specs say);
    - ``words`` / ``item_words``: plain words for the data and one item (``texts`` / ``text``);
    - ``family``: the model family; ``audio`` shares the ``image`` model behind a spectrogram front end;
    - ``steps``: the steps of :data:`STEPS` this task supports.
    """

    name: str = ""
    words: str = ""
    item_words: str = ""
    family: str = ""
    steps: frozenset = frozenset()

    def supports(self, step: str) -> bool:
        if step not in STEPS:
            raise KeyError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
        return step in self.steps

    def refusal(self, step: str) -> Optional[str]:
        """``None`` when ``step`` applies, else one plain sentence saying which data it works on."""
        if self.supports(step):
            return None
        from lepton_widgets.core.tasks.registry import all_tasks

        takers = [_(t.words) for t in all_tasks() if t.supports(step)]
        where = _(" and ").join(takers) if takers else _("no kind of data yet")
        return _("{step} is available for {where}; this run was trained on {data}.").format(
            step=_(STEPS[step]), where=where, data=_(self.words))

    def require(self, step: str, what: str = "") -> None:
        """Raise ``ValueError`` with :meth:`refusal`'s sentence (prefixed by ``what``) if ``step`` does not apply."""
        message = self.refusal(step)
        if message:
            raise ValueError(f"{what}: {message}" if what else message)

    def run(self, cfg: "RunConfig", job: "Optional[Job]" = None, *, store: "Optional[RunStore]" = None) -> "RunRecord":
        """Train and evaluate ``cfg`` and store it as a new run; ``job`` carries the sink and the stop request."""
        raise NotImplementedError

    # --- predict, export, model cards, run lists (issue 14, core side: what predict/, export/, runs/ ask) ---
    #: What its model is given, as the Predict list says it (``texts``, ``tables (.csv)``; "" for pictures).
    input_words: str = ""
    #: What one checked or trained sample is called in a model card (``images``, ``texts``, ``rows``).
    sample_words: str = ""
    #: The backbone a run list shows for a run that names no encoder ("" = its config's ``backbone.name``).
    listed_backbone: str = ""
    #: Whether the Predict app lists its exported files (texts and tables predict from their run folder).
    predicts_exports: bool = True

    #: The files its exported model predicts, read by :mod:`lepton_widgets.core.predict` when the task opens
    #: no model of its own (``images``; sounds: ``sounds``, WAV files through the run's spectrogram transform).
    file_inputs: str = "images"

    def open_for_prediction(self, path):
        """The model at ``path`` opened once to predict many times, by a task that opens its own (texts,
        tables: from the run folder); ``None``: an exported picture model that ``core/predict`` opens."""
        return None

    def predict_rows(self, model, inputs, top_k: int):
        """``(name, [(class, confidence)], error or None)`` for every input given to a model that
        :meth:`open_for_prediction` opened (an unusable input gets its reason, never an exception);
        ``None``: ``core/predict`` reads :attr:`file_inputs` files itself."""
        return None

    def load_model(self, record):
        """A stored run's ``model.keras`` (a task whose layers live in another package registers it first)."""
        return record.load_model()

    #: The module holding this task's export and model-card parts, imported on first use. Each hook below
    #: calls the module's function of the same name when it has one (``export_inputs``, ``export_unavailable``,
    #: ``inference_model``, ``card_facts``, ``card_trained_at``, ``card_model_line``, ``card_size_note``), and
    #: reads its ``FACTS_FILE`` (the run file that decides the export) and ``NOT_VALIDATED`` (the card's words).
    export_module: str = ""

    def _export_part(self, name: str, default=None):
        if not self.export_module:
            return default
        return getattr(import_module(self.export_module), name, default)

    def export_inputs(self, record, n: int, rng):
        """The export check batch: ``n`` seeded test rows, a
        :class:`~lepton_widgets.core.tasks.exporting.ReferenceInputs`."""
        part = self._export_part("export_inputs")
        if part is None:
            raise NotImplementedError(f"{self!r} names no export module")
        return part(record, n, rng)

    def export_facts(self, record) -> dict:
        """The run's own facts that decide its export (``text.json``/``tabular.json``); JSON only."""
        facts_file = self._export_part("FACTS_FILE")
        if not facts_file:
            return {}
        from lepton_widgets.core.tasks.exporting import run_json

        return run_json(record, facts_file)

    def export_unavailable(self, facts: dict) -> dict:
        """``{format: why it cannot hold this model}`` from :meth:`export_facts` (JSON only)."""
        part = self._export_part("export_unavailable")
        return part(facts) if part else {}

    #: Whether export reloads its ``.keras`` file with Keras' safe mode (the user-file gate refuses keras_hub's
    #: classes and the preprocessing layers of texts and tables).
    reloads_in_safe_mode: bool = False

    def inference_model(self, model):
        """``model`` as exported: what only training needs taken out (the default: the model itself)."""
        part = self._export_part("inference_model")
        return part(model) if part else model

    def card_facts(self, card: dict, inputs: dict) -> None:
        """Change a model card's picture defaults (use, input, backbone) to this task's; ``inputs``: the
        export's meta. The default changes nothing."""
        part = self._export_part("card_facts")
        if part:
            part(card, inputs)

    def card_trained_at(self, card: dict) -> str:
        """How the card's "Trained on N samples" sentence ends (what the model sees of each sample)."""
        part = self._export_part("card_trained_at")
        return part(card) if part else "."

    def card_model_line(self, card: dict) -> str:
        """The card's one Markdown line on the model."""
        part = self._export_part("card_model_line")
        if part:
            return part(card)
        backbone = card["backbone"]
        return f"- Model: `{backbone['name']}`, head units {backbone['head_units']}"

    def block_parts(self, backbone: str, num_classes: int):
        """``(block names, block params, head params, trainable by depth)`` of a model on ``backbone``
        without building it, for a task that counts its own (texts); ``None``: build the picture model."""
        return None

    def card_size_note(self, card: dict) -> str:
        """What the card says of the input size when it has no training counts ("" = nothing)."""
        part = self._export_part("card_size_note")
        return part(card) if part else ""

    @property
    def not_validated(self) -> str:
        """What a card says the model was not validated for (the export module's ``NOT_VALIDATED``)."""
        return self._export_part("NOT_VALIDATED", "")
    #: Whether its model starts from a backbone that may have been trained from scratch (tables train an MLP).
    has_backbone: bool = True

    # --- incremental update (issue 14 item 7: what core/update/ asks) ---
    def updater(self, record):
        """What updating the stored run ``record`` with new data needs from this modality: an object with
        ``prepare`` (new data read the run's way), ``check_model``, ``defaults``, ``trainable``, ``fit_args``,
        ``predict`` and ``write_files`` (see ``core/tasks/image/update.py``). Refuses a task without the step."""
        self.require("update", "updating a run with new data")
        raise NotImplementedError

    # --- what the setup panels ask (issue 14 item 6: panels/backbone, dataset, augment, freeze) ---
    #: The augmentation settings (``AugmentConfig`` / Session names) its training applies; () = none.
    augmentations: tuple = ()

    def prepare(self, data_cfg, seed: int, job=None):
        """Load and validate the data as a run would (the Data step's "Check data"): a ``PreparedData`` for
        pictures and sounds, the task's own checked data (with ``.prepared``) for texts and tables. ``job``
        (a :class:`~lepton_widgets.core.base.job.Job`, or ``None``) takes the progress events and the Stop."""
        raise NotImplementedError

    def source_backbone(self, record) -> str:
        """The backbone (or encoder) name a run of this task gives a new run that starts from its weights."""
        from lepton_widgets.core.backbones.run_backbone import source_backbone_name

        return source_backbone_name(record)

    def build_problem(self, backbone: str, weights: str, image_size: int) -> str:
        """Why a model on ``backbone`` (one of :meth:`backbone_names`) cannot be built here, without trying; ''."""
        return ""

    # --- fusion (issue 14 item 7, fusion for texts and tables) ---
    def fusion_kit(self):
        """This task's part of model fusion (a ``core/tasks/fusing.py`` ``FusionKit``): what members must share,
        and how they read the shared split. ``ValueError`` with :meth:`refusal`'s sentence where fusion does
        not apply."""
        self.require("fusion")
        raise NotImplementedError

    # --- robustness (issue 14 item 7, robustness for texts) ---
    def robustness_curve(self, record, *, method: "Optional[str]" = None, levels=None,
                         max_samples: "Optional[int]" = None, job: "Optional[Job]" = None):
        """Test accuracy of the stored run ``record`` under this task's attack at each of ``levels``, as a
        ``RobustnessCurve``: FGSM/PGD at pixel epsilons for pictures and sounds, GloVe-neighbour word
        substitution at substitution rates for texts. ``None`` picks the task's default method and levels.
        ``ValueError`` with :meth:`refusal`'s sentence where the step does not apply (tables)."""
        self.require("robustness", f"Robustness of run {record.run_id}")
        raise NotImplementedError

    # --- what the Evaluate and Export panels ask (issue 14 items 1 and 6: panels/evaluate, export) ---
    #: How a panel names one run of this task in a sentence ("text run", "table run").
    run_words: str = "run"

    def cell_examples(self, record, true_index: int, predicted_index: int, *, limit: int = 12,
                      display_size: Optional[int] = None):
        """The test examples behind one confusion-matrix cell, most confident first (at most ``limit``): picture
        tasks give ``GalleryItem``s (the image at ``display_size`` and its Grad-CAM), texts and tables a
        DataFrame of the rows with the text or the values the model read."""
        raise NotImplementedError

    # --- search (issue 14 item 7, search for texts and tables: what core/search/ asks) ---
    #: The ``TunerConfig`` fields a search of this task can vary (the Search panel offers these rows).
    search_fields: tuple = ()
    #: The ``tuner.augment`` policies that mean something for this task's data.
    search_policies: tuple = ()

    def search_trials(self, cfg: "RunConfig", job: "Optional[Job]" = None):
        """How a hyper-parameter search around ``cfg`` trains its trials: an object with ``check()``,
        ``prepare()``, ``n_blocks(cfg)``, ``plan(cfg) -> TrialPlan``, ``build(plan)`` and
        ``fit_phase(plan, model, phase, first, end, callbacks)`` (``core/search/hypermodel.py`` drives it;
        ``core/tasks/image/search.py`` is one). Refuses a task without the step."""
        self.require("search", f"searching {cfg.data.dataset!r}")
        raise NotImplementedError

    # --- Lepton Auto (issue 15: what core/auto/ asks) ---
    def auto_kit(self):
        """This task's answers to Lepton Auto: a ``core/tasks/autokit.py`` :class:`AutoKit` (recipe defaults,
        candidates to rank, frozen features, the configs of each stage). Refuses a task without the step."""
        self.require("auto", "Lepton Auto")
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


@dataclass
class TrialPlan:
    """What one search trial trains (``Task.search_trials(...).plan(cfg)``): its config, its phases as
    ``(phase, epochs)``, the path it takes in words (``cached features``, ``images``, ``texts``, ...),
    and whether it trains a head shared by the search's trials (no rebuild, no retrace)."""

    config: "RunConfig"
    phases: list
    path: str
    shared: bool = False

    @property
    def epochs(self) -> int:
        return sum(n for _, n in self.phases)
