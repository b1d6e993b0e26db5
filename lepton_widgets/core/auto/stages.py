"""Auto's stages, in order, each a function ``(ctx, job) -> Outcome``.

Every stage asks the task's ``AutoKit`` what differs between kinds of data and trains with the task's own
``run``, so every model it makes is an ordinary run in the run store. A stage records what it found and chose
as plain sentences (``Outcome.choices``): the model card lists them, in stage order, as the reasons for the
model it describes.

What each stage does:

========== ==========================================================================================
doctor     checks the data (the validation report, duplicates), weighs classes when they are imbalanced,
           finds likely mislabelled examples (cleanlab on out-of-fold probabilities of frozen features),
           warns about small data and estimates how many more examples each class needs
recipe     few examples per class: a linear classifier on frozen features judged by cross-validation;
           more: a classifier on frozen features, then fine-tuning
first      a first model at once: a classifier on the default backbone's frozen features (cached by the doctor)
rank       scores the candidate backbones before training (LogME and a linear probe), unless that would
           take most of the time left
search     a classifier on the best-ranked backbone, a KerasTuner search of its settings on cached
           features, then the best settings as a run
fine_tune  the best backbone with its last blocks trained too, then the models that learn from scratch
           (ranking cannot judge them), then the second-best backbone fine-tuned
fusion     an ensemble of the best models, kept only if it beats the best one on validation
export     the chosen model exported, each file checked against it, with a model card of every choice
========== ==========================================================================================
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Optional

from lepton_widgets.config import RunConfig
from lepton_widgets.core.auto.events import LeaderboardRow
from lepton_widgets.core.auto.leaderboard import best_entry, entry, number
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.autokit import Recipe
from lepton_widgets.i18n import N_, _

#: Formats the export stage writes, by goal: each is reloaded and checked against the model.
EXPORT_FORMATS = {"accuracy": "keras,tflite,onnx", "small": "keras,tflite-int8", "fast": "keras,tflite"}
#: The file in the chosen run's folder that its model card reads "How Auto chose this model" from.
CHOICES_FILE = "auto_choices.json"


@dataclass
class Outcome:
    """How a stage ended: ``status`` (``done``/``skipped``/``stopped``/``failed``), one ``summary`` in plain
    words, the ``choices`` the model card lists, and ``detail`` (JSON) that a resume reads back."""

    status: str
    summary: str
    choices: list = field(default_factory=list)
    detail: dict = field(default_factory=dict)


class TimeUp(Exception):
    """A run or search ended because the stage's time ran out (not a failure: what finished is kept)."""


@dataclass
class AutoContext:
    """Everything the stages share: the task's kit, the run store, the session's state, the request."""

    kit: Any
    store: Any
    state: Any
    data_cfg: Any
    goal: str
    seed: int
    outer: Job
    label_choice: str = "keep"
    #: When the running stage's time runs out (``time.monotonic()``), set by the pipeline before each stage.
    deadline: float = float("inf")

    #: The whole session's budget (:class:`~lepton_widgets.core.auto.budget.Budget`), set by the pipeline.
    budget: Any = None

    def left(self) -> float:
        """Seconds left for the running stage."""
        return self.deadline - time.monotonic()

    def budget_left(self) -> float:
        """Seconds left of the whole budget."""
        return self.budget.left if self.budget is not None else self.left()

    def unit(self) -> float:
        """The first model's time: what one run of a classifier on cached features costs here (10 s before
        there is one)."""
        first = self.entries("first")
        return max(1.0, first[0]["seconds"]) if first else 10.0

    @cached_property
    def base_config(self) -> RunConfig:
        return self.kit.base_config(self.data_cfg, self.seed, self.goal)

    @cached_property
    def prepared(self):
        return self.kit.prepare(self.base_config, self.outer)

    @property
    def metric(self) -> str:
        stored = self.state.detail("doctor").get("class_names")
        names = stored if stored is not None else list(self.prepared.table.class_names)
        return self.kit.selection_metric_for(names)

    @property
    def recipe(self) -> Recipe:
        return Recipe(**self.state.detail("recipe")["recipe"])

    def adapt(self, cfg: RunConfig, stage: str, label: str) -> RunConfig:
        """``cfg`` with the doctor's decisions (class weights, the excluded examples) and a readable name."""
        doctor = self.state.detail("doctor")
        exclude = [item["id"] for item in doctor.get("label_issues", [])] if self.label_choice == "exclude" else None
        name = re.sub(r"[^A-Za-z0-9 ._-]+", " ", f"auto {stage} {label}").strip()[:60]
        return cfg.replace(name=name, seed=self.seed, data__exclude=exclude or None,
                           train__class_weight=doctor.get("class_weight", "none"))

    def train(self, cfg: RunConfig, job: Job, *, stage: str, label: str, note: str = "") -> dict:
        """Train ``cfg`` as a run with its task; its leaderboard row (added and announced). :class:`TimeUp`
        when the run stopped before it finished."""
        started = time.monotonic()
        record = self.kit.task.run(cfg, job, store=self.store)
        if record.status != "finished":
            raise TimeUp(_("{label} stopped before it finished").format(label=label))
        row = entry(record, label=label, stage=stage, metric=self.metric, seconds=time.monotonic() - started,
                    note=note)
        self.state.leaderboard.append(row)
        self.state.save()
        self.outer.emit(LeaderboardRow(run_id=record.run_id, entry=row))
        return row

    def entries(self, *stages: str) -> list[dict]:
        return [e for e in self.state.leaderboard if not stages or e["stage"] in stages]

    def config_of(self, row: dict) -> RunConfig:
        return self.store.open(row["run_id"]).config


def _score(value: Optional[float], metric: str) -> str:
    """``84%`` for an accuracy, ``ROC AUC 0.78`` for an AUC (a percentage would read as an accuracy)."""
    if value is None:
        return "–"
    return f"{value:.0%}" if metric == "accuracy" else f"{metric.replace('_', ' ').upper()} {value:.2f}"


def _validation(row: dict) -> str:
    """``"MobileNetV2 · classifier: 84% on validation."`` for a leaderboard row."""
    return _("{label}: {score} on validation.").format(label=row["label"], score=_score(row["val_score"], row["metric"]))


def _percent(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.0%}" if value > 1e-9 else "0%"


# --- the stages ------------------------------------------------------------------------------------------------

def doctor(ctx: AutoContext, job: Job) -> Outcome:
    from lepton_widgets.core.auto.doctor import examine

    cfg = ctx.base_config
    features = ctx.kit.features(cfg, ctx.prepared, job)
    report = examine(ctx.prepared, features, seed=ctx.seed, job=job)
    detail = report.to_dict()
    detail["class_names"] = list(ctx.prepared.table.class_names)
    sentences = report.sentences()
    issues = detail.get("label_issues", [])
    choice = (_("left out (your choice)") if ctx.label_choice == "exclude" else
              _("kept: look at them in the Auto step, and exclude them if they are wrong"))
    choices = [_("Data: {text}").format(text=sentences[0]) if sentences else _("Data: checked.")]
    if issues:
        choices.append(_("Labels: {n} examples look mislabelled (found with cleanlab on {source}); {choice}.").format(
            n=len(issues), source=features.source or _("frozen features"), choice=choice))
    if detail.get("class_weight", "none") != "none":
        choices.append(_("Class balance: the classes are imbalanced, so rarer classes weigh more in training "
                         "(balanced class weights)."))
    return Outcome("done", " ".join(sentences[:3]), choices, detail)


def recipe(ctx: AutoContext, job: Job) -> Outcome:
    frame = ctx.prepared.table.frame
    counts = frame[frame["split"] == "train"]["label"].value_counts().to_dict()
    chosen = ctx.kit.recipe({str(k): int(v) for k, v in counts.items()})
    said = _("Recipe: {why}.").format(why=chosen.why)
    return Outcome("done", said, [said],
                   {"recipe": {"name": chosen.name, "smallest": chosen.smallest, "why": chosen.why,
                               "fine_tune": chosen.fine_tune}})


def rank(ctx: AutoContext, job: Job) -> Outcome:
    candidates = ctx.kit.candidates(ctx.base_config, ctx.goal)
    # Ranking reads every candidate's features of a subset. When that would take more than the time there is,
    # the default stays and the time goes to training.
    late = too_long(ctx, _("ranking of pretrained networks"),
                    COSTS["rank"] * ctx.kit.rank_units(ctx.base_config, candidates, ctx.prepared))
    if len(candidates) > 1 and late is not None:
        late.choices = [_("Backbone: {label}, the default (no time to compare networks).").format(
            label=candidates[0].label)]
        late.detail = {"order": list(range(len(candidates))), "ranking": []}
        return late
    if len(candidates) == 1:
        only = candidates[0]
        return Outcome("done", _("{label}: the one candidate for this data.").format(label=only.label),
                       [_("Model: {label}, the one candidate for this kind of data.").format(label=only.label)],
                       {"order": [0], "ranking": []})
    table = ctx.kit.rank(ctx.base_config, candidates, ctx.prepared, job)
    usable = table[table["status"] == "ok"]
    order = [int(i) for i in usable["index"]] or [0]
    best = candidates[order[0]]
    rows = table.to_dict("records")
    if usable.empty:
        why = _("{label}: no candidate could be scored here, so the default is used.").format(label=best.label)
    else:
        top = usable.iloc[0]
        scores = [f"{_(name)} {top[key]:.2f}" for key, name in (("probe_accuracy", N_("linear probe on validation")),
                                                                 ("logme", "LogME"))
                  if number(top.get(key)) is not None]
        why = (_("{label}: ranked first of {n} before any training ({scores}).") if scores else
               _("{label}: ranked first of {n} before any training.")).format(
            label=best.label, n=len(usable), scores=_("; ").join(scores))
    return Outcome("done", why, [_("Backbone: {text}").format(text=why)], {"order": order, "ranking": rows})


def first(ctx: AutoContext, job: Job) -> Outcome:
    """A classifier on the default backbone's frozen features, right after the doctor read them (they are
    cached): whatever happens to the later stages, a usable model exists early."""
    candidate = ctx.kit.candidates(ctx.base_config, ctx.goal)[0]
    row = ctx.train(ctx.adapt(ctx.kit.head_config(candidate.config, ctx.recipe), "first", candidate.label), job,
                    stage="first", label=f"{candidate.label} · classifier")
    summary = _validation(row)
    return Outcome("done", summary, [_("First model: {text}").format(text=summary)], {"runs": [row["run_id"]]})


def _ranked_head(ctx: AutoContext, job: Job) -> Optional[dict]:
    """A classifier on the best-ranked backbone when it is not the default one (the first model's)."""
    order = ctx.state.detail("rank").get("order", [0])
    if not order or order[0] == 0:
        return None
    candidate = ctx.kit.candidates(ctx.base_config, ctx.goal)[order[0]]
    cfg = ctx.adapt(ctx.kit.head_config(candidate.config, ctx.recipe), "search", candidate.label)
    return ctx.train(cfg, job, stage="search", label=f"{candidate.label} · classifier")


def search(ctx: AutoContext, job: Job) -> Outcome:
    """The classifier's settings searched with KerasTuner on the best-ranked backbone's cached features."""
    from lepton_widgets.core.search.tuner import run_search

    ranked = _ranked_head(ctx, job) if ctx.left() > ctx.unit() else None
    if ctx.recipe.name == "few":
        why = _("No search: with so few examples the classifier's strength is chosen by cross-validation instead.")
        if ranked is None:
            return Outcome("skipped", why)
        made = _("A classifier on {network}, the best-ranked network, scored {score}.").format(
            network=ranked["label"].split(" · ")[0], score=_score(ranked["val_score"], ranked["metric"]))
        return Outcome("done", f"{why} {made}", [made], {"runs": [ranked["run_id"]]})
    start = ranked or best_entry(ctx.entries("first"))
    late = too_long(ctx, _("search"), COSTS["search"] - (1 if ranked else 0))
    if late is not None and ranked is not None:  # the classifier on the best-ranked network is kept and said
        made = _validation(ranked)
        return Outcome("done", f"{made} {late.summary}", [_("Best-ranked network: {text}").format(text=made)],
                       {"runs": [ranked["run_id"]]})
    if late is not None:
        return late
    if start is None:
        return Outcome("skipped", _("No search: there is no first model to start from."))
    per_trial = max(1.0, start["seconds"])
    trials = int(max(2, min(12, ctx.left() / per_trial - 1)))
    cfg = ctx.kit.search_config(ctx.config_of(start), trials)
    if cfg is None:
        return Outcome("skipped", _("No search: nothing cheap to search for this model."))
    result = run_search(cfg, job, runs_dir=ctx.store.root)
    top = result.best
    if top is None:
        raise TimeUp(_("no search trial finished in time"))
    label = f"{start['label'].split(' · ')[0]} · searched"
    tried = len(result.completed)
    values = ", ".join(f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
                       for k, v in sorted(top["hyperparameters"].items()) if not k.startswith("tuner/"))
    row = ctx.train(ctx.adapt(result.best_config(), "search", label), job, stage="search", label=label)
    summary = _("{n} settings tried with KerasTuner; best: {values} ({score} on validation).").format(
        n=tried, values=values, score=_score(row["val_score"], row["metric"]))
    return Outcome("done" if result.status == "finished" else "stopped", summary,
                   [_("Search: {text}").format(text=summary)],
                   {"search": str(result.directory), "trials": tried, "run": row["run_id"]})


def fine_tune(ctx: AutoContext, job: Job) -> Outcome:
    """The best model's last blocks trained too; then the models that learn from scratch (ranking cannot
    judge them); then the second-best backbone fine-tuned. Each only if its estimated time fits."""
    if not ctx.recipe.fine_tune:
        return Outcome("skipped", _("No fine-tuning: too few examples to change the pretrained layers safely."))
    if ctx.goal == "fast":
        return Outcome("skipped", _("No fine-tuning: the goal is a model that is fast to make."))
    tuned, seen = [], set()
    for row in sorted((e for e in ctx.entries("first", "search") if e["val_score"] is not None),
                      key=lambda e: e["val_score"], reverse=True):
        family = row["label"].split(" · ")[0]
        cfg = None if family in seen else ctx.kit.fine_tune_config(ctx.config_of(row))
        seen.add(family)
        if cfg is not None:
            tuned.append((cfg, family, f"{family} · fine-tuned", COSTS["fine_tune"]))
    made_labels = {e["label"] for e in ctx.entries()}
    scratch = [(ctx.kit.head_config(c.config, ctx.recipe), c.label, c.label, COSTS["scratch"])
               for c in ctx.kit.scratch_candidates(ctx.base_config, ctx.goal) if c.label not in made_labels]
    plan = tuned[:1] + scratch + tuned[1:2]
    if not plan:
        return Outcome("skipped", _("No fine-tuning: the models found have no pretrained layers to unfreeze."))
    made, skipped = [], []
    for cfg, family, label, units in plan:
        if too_long(ctx, label, units) is not None:
            skipped.append(label)
            continue
        made.append(ctx.train(ctx.adapt(cfg, "fine_tune", family), job, stage="fine_tune", label=label))
    if not made:
        return too_long(ctx, _("fine-tuning"), min(units for *_rest, units in plan)) or Outcome(
            "skipped", _("No fine-tuning: no time left for it."))
    best = best_entry(made)
    summary = " ".join(_validation(m) for m in made)
    if skipped:
        summary += " " + _("No time for: {labels}.").format(labels=_(", ").join(skipped))
    return Outcome("done", summary, [_("Fine-tuning and from-scratch models: {text}").format(text=summary)],
                   {"runs": [m["run_id"] for m in made], "best": best["run_id"]})


def fusion(ctx: AutoContext, job: Job) -> Outcome:
    from lepton_widgets.core.fusion.fuse import fuse

    if ctx.goal in ("small", "fast"):
        return Outcome("skipped", (_("No fusion: the goal is one small model, and an ensemble is several.")
                                   if ctx.goal == "small" else
                                   _("No fusion: the goal is one fast model, and an ensemble is several.")))
    if ctx.recipe.name == "few":
        return Outcome("skipped", _("No fusion: with so few examples there is no validation set to prove a "
                                    "combination better."))
    rows = sorted((e for e in ctx.entries() if e["val_score"] is not None and e.get("kept")),
                  key=lambda e: e["val_score"], reverse=True)[:3]
    if len(rows) < 2:
        return Outcome("skipped", _("No fusion: it needs at least two models."))
    late = too_long(ctx, _("fusion"), COSTS["fusion"])
    if late is not None:
        return late
    records = [ctx.store.open(row["run_id"]) for row in rows]
    started = time.monotonic()
    try:
        fused = fuse(records, "ensemble", store=ctx.store, name="auto fusion ensemble", job=job)
    except ValueError as error:  # members that cannot be combined (other data or classes): said, not fatal
        return Outcome("skipped", _("No fusion: {error}").format(error=error))
    if fused.status != "finished":
        raise TimeUp(_("the ensemble stopped before it finished"))
    row = entry(fused, label=_("ensemble of {n}").format(n=len(rows)), stage="fusion", metric=ctx.metric,
                seconds=time.monotonic() - started)
    best = rows[0]
    row["kept"] = row["val_score"] is not None and row["val_score"] > best["val_score"]
    verdict = _("kept") if row["kept"] else _("not kept")
    row["note"] = _("{score} against {best} for the best single model: {verdict}").format(
        score=_score(row["val_score"], ctx.metric), best=_score(best["val_score"], ctx.metric), verdict=verdict)
    ctx.state.leaderboard.append(row)
    ctx.state.save()
    ctx.outer.emit(LeaderboardRow(run_id=fused.run_id, entry=row))
    summary = _("An ensemble of the best {n} models scored {note}.").format(n=len(rows), note=row["note"])
    return Outcome("done", summary, [_("Fusion: {text}").format(text=summary)],
                   {"run": fused.run_id, "kept": row["kept"]})


def export(ctx: AutoContext, job: Job) -> Outcome:
    """The best model by validation score, exported one format at a time (each reloaded and checked), its
    model card listing every choice. The first format always runs; the others only while they fit the
    budget, the time of the one before being the estimate."""
    from lepton_widgets.core.base.atomic import atomic_write_text
    from lepton_widgets.core.export.verify import export_run
    from lepton_widgets.core.runs.store import dump_json

    best = best_entry(ctx.state.leaderboard)
    if best is None:
        return Outcome("failed", _("No model finished within the budget: give Auto more time."))
    record = ctx.store.open(best["run_id"])
    chosen = (_("Chosen: {label} ({run}), {score} on validation, {test} on the test split.")
              if best["test_accuracy"] is not None else
              _("Chosen: {label} ({run}), {score} on validation.")).format(
        label=best["label"], run=best["run_id"], score=_score(best["val_score"], best["metric"]),
        test=_percent(best["test_accuracy"]))
    choices = [c for stage in STAGE_ORDER for c in ctx.state.stages.get(stage, {}).get("detail", {})
               .get("_choices", [])] + [chosen]
    atomic_write_text(record.path / CHOICES_FILE, dump_json({"auto_id": ctx.state.auto_id, "choices": choices}))
    ctx.state.best_run_id = record.run_id  # chosen, whatever the export makes of the time left
    ctx.state.save()
    passed, missing, report, last = [], [], None, 0.0
    for fmt in EXPORT_FORMATS[ctx.goal].split(","):
        if report is not None and ctx.budget_left() < EXPORT_GROWTH * last:
            missing.append(_("{format} (no time left)").format(format=fmt))
            continue
        started = time.monotonic()
        report = export_run(record, fmt, job=job)  # rewrites the card with every format published so far
        last = time.monotonic() - started
        result = report.results[0]
        (passed if result.passed else missing).append(result.format if result.passed
                                                      else f"{result.format} ({result.status})")
    ctx.state.card_md = str(report.card_md)
    summary = chosen + " " + (_("Exported and checked: {passed}; not exported: {missing}.") if missing else
                              _("Exported and checked: {passed}.")).format(
        passed=_(", ").join(passed) or _("none"), missing=_(", ").join(missing))
    return Outcome("done", summary, [chosen], {"run": record.run_id, "card_md": str(report.card_md),
                                               "out_dir": str(report.out_dir), "passed": passed})


def too_long(ctx: AutoContext, what: str, units: float) -> Optional[Outcome]:
    """A ``skipped`` Outcome when ``what`` would need more than the stage's time: ``units`` times the first
    model's time (one run of a classifier on cached features: what this data and machine cost)."""
    needed = units * ctx.unit()
    if needed <= ctx.left():
        return None
    return Outcome("skipped", _("No {what}: it would need about {needed} s, and {left} s are left for it.").format(
        what=what, needed=f"{needed:.0f}", left=f"{max(ctx.left(), 0):.0f}"))


#: What each optional stage costs, in first models (see :func:`too_long`): ranking, times the kit's ``rank_units``
#: (pictures and sounds: whether each candidate's features of a subset are cached), a search (a classifier on another
#: backbone, two trials and the best as a run), fine-tuning (the frozen part is recomputed on every step), a model
#: trained from scratch (every layer, many epochs), fusion (the members' predictions).
COSTS = {"rank": 1.0, "search": 3.0, "fine_tune": 4.0, "scratch": 6.0, "fusion": 1.0}
#: A next export format starts only if the time left exceeds this many times the last one's.
EXPORT_GROWTH = 1.5

#: name -> (plain title, share of the time left when it starts, function). ``None``: a stage that must finish
#: (it may use everything but the export's reserve); the export gets all that is left.
STAGES: dict[str, tuple[str, Optional[float], Callable[[AutoContext, Job], Outcome]]] = {
    "doctor": (N_("Checking the data"), None, doctor),
    "recipe": (N_("Choosing a recipe"), None, recipe),
    "first": (N_("A first model"), None, first),
    "rank": (N_("Ranking pretrained networks"), 0.3, rank),
    "search": (N_("Searching settings"), 0.45, search),
    "fine_tune": (N_("Fine-tuning"), 0.8, fine_tune),
    "fusion": (N_("Combining the best models"), 1.0, fusion),
    "export": (N_("Checked export and model card"), 1.0, export),
}
STAGE_ORDER = list(STAGES)
