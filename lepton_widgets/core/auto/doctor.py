"""The data doctor: what Lepton Auto checks before it trains, and what it decides, in plain words.

:func:`examine` reads the prepared data (its validation report and split) and frozen features of the train
and val rows (an :class:`~lepton_widgets.core.tasks.autokit.AutoFeatures`), and returns a
:class:`DoctorReport`:

* **counts** per class and split, and the **duplicates** the loader found (each was kept once);
* **class imbalance**: largest / smallest class; above :data:`IMBALANCE_RATIO` training weighs classes
  (``class_weight = "balanced"``), otherwise every example counts the same (``"none"``);
* **likely mislabelled examples**: cleanlab on out-of-fold probabilities (:mod:`label_issues`), ranked;
* **small data**: a class with too few examples set aside to check or test it, a test set of a handful;
* **how many more examples each class needs** (:mod:`data_need`).

``sentences()`` says all of it for a person who does not code; ``to_dict()`` / ``from_dict()`` keep it as
JSON so a resumed Auto does not examine again.

Example (needs frozen features, so shown rather than run; tests/test_auto_doctor.py runs it)::

    kit = task_for_config(cfg).auto_kit()
    prepared = kit.prepare(cfg)
    report = examine(prepared, kit.features(cfg, prepared), seed=cfg.seed)
    report.class_weight, [item["ref"] for item in report.label_issues][:3]
    print("\\n".join(report.sentences()))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Optional

import numpy as np

from lepton_widgets.core.auto.data_need import DataNeed, estimate_data_need, jsonable
from lepton_widgets.core.auto.label_issues import find_label_issues
from lepton_widgets.core.base.events import Progress
from lepton_widgets.core.base.job import Job
from lepton_widgets.i18n import _

if TYPE_CHECKING:
    from lepton_widgets.core.data import PreparedData
    from lepton_widgets.core.tasks.autokit import AutoFeatures

#: Largest / smallest class above which training weighs the classes ("balanced" class weights). 1.5, not the
#: validation report's 3.0 warning: weighting a mildly uneven set costs nothing measurable, and from 1.5:1 on
#: an unweighted model starts to favour the common class on borderline examples.
IMBALANCE_RATIO = 1.5
#: A class with fewer examples than this set aside for checking (val) or for the final test gets a warning:
#: with 2, one example more or less right moves its score by 50 points.
SMALL_HELD_OUT = 3
#: A test set smaller than this gets a warning: each example moves the final score by over 3 points.
SMALL_TEST = 30
#: Steps of the doctor's Progress events: the counts, the label check, the learning curve.
STEPS = 3
TASK = "data doctor"


@dataclass
class DoctorReport:
    """What the doctor found and decided (see the module docstring).

    ``label_issues``: dicts with ``id`` (what ``data.exclude`` takes), ``ref``, ``split``, ``given`` and
    ``suggested`` class names, ``confidence`` (how sure the check is of the suggested class, 0-1) and
    ``label_confidence`` (how much it believes the given label), most doubtful first. ``label_check`` says in
    words how labels were checked, or why they could not be."""

    class_names: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    duplicates: int = 0
    duplicate_refs: list[str] = field(default_factory=list)
    conflicting_duplicates: int = 0
    imbalance_ratio: float = 1.0
    class_weight: str = "none"
    class_weight_why: str = ""
    label_issues: list[dict] = field(default_factory=list)
    label_check: str = ""
    check_accuracy: Optional[float] = None
    small_data: list[str] = field(default_factory=list)
    data_need: Optional[DataNeed] = None
    data_warnings: list[str] = field(default_factory=list)
    source: str = ""

    def totals(self) -> dict[str, int]:
        """Examples per split, all classes together."""
        out = {"train": 0, "val": 0, "test": 0}
        for per_split in self.counts.values():
            for split, n in per_split.items():
                out[split] = out.get(split, 0) + n
        return out

    def sentences(self) -> list[str]:
        """The whole report in plain words; the first sentence is the summary of the data."""
        totals = self.totals()
        lines = [_("{n} examples in {classes} classes: {train} to learn from, {val} to check the model while it "
                   "learns and {test} to test the finished model.").format(
            n=sum(totals.values()), classes=len(self.class_names), train=totals["train"], val=totals["val"],
            test=totals["test"])]
        if self.duplicates:
            shown = ", ".join(self.duplicate_refs[:3]) + (", ..." if self.duplicates > 3 else "")
            lines.append((_("{n} examples were exact copies of another ({shown}); each was kept once.")
                          if self.duplicates > 1 else
                          _("{n} example was an exact copy of another ({shown}); it was kept once."))
                         .format(n=self.duplicates, shown=shown))
            if self.conflicting_duplicates:
                lines.append(_("{n} of these copies had a different class from the original: one of the two labels "
                               "is wrong, so please check them.").format(n=self.conflicting_duplicates))
        else:
            lines.append(_("No example appears twice."))
        lines.append(self.class_weight_why)
        lines.append(self._labels_sentence())
        lines += self.small_data
        if self.data_need is not None:
            lines += self.data_need.sentences()
        if self.data_warnings:
            lines.append(_("The data check also noted: {warnings}.").format(warnings=_("; ").join(self.data_warnings)))
        return [line for line in lines if line]

    def _labels_sentence(self) -> str:
        if not self.label_issues:
            return self.label_check or _("No example looks mislabelled.")
        worst = _("; ").join(_("{ref} is labelled {given} but looks like {suggested}").format(
            ref=item["ref"], given=item["given"], suggested=item["suggested"]) for item in self.label_issues[:3])
        many = len(self.label_issues)
        return (_("{n} examples look mislabelled: a model trained on the other examples puts them in another "
                  "class. The most doubtful: {worst}. Look at them and exclude the wrong ones, or keep them.")
                if many > 1 else
                _("{n} example looks mislabelled: a model trained on the other examples puts it in another class. "
                  "The most doubtful: {worst}. Look at it and exclude it if it is wrong, or keep it.")
                ).format(n=many, worst=worst)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["data_need"] = self.data_need.to_dict() if self.data_need is not None else None
        return jsonable(data)

    @classmethod
    def from_dict(cls, data: dict) -> "DoctorReport":
        data = dict(data)
        need = data.pop("data_need", None)
        known = {name for name in cls.__dataclass_fields__}
        report = cls(**{k: v for k, v in data.items() if k in known})
        report.data_need = DataNeed.from_dict(need) if need else None
        return report


def split_counts(prepared: "PreparedData") -> dict[str, dict[str, int]]:
    """Examples per class and split (``train``/``val``/``test``) of the prepared table."""
    frame = prepared.table.frame
    table = frame.groupby(["label", "split"]).size()
    return {name: {split: int(table.get((name, split), 0)) for split in ("train", "val", "test")}
            for name in prepared.class_names}


def duplicate_findings(prepared: "PreparedData") -> tuple[int, list[str], int]:
    """Copies the loader set aside (``duplicate`` rows of the report), their refs, and how many carried another
    class than the copy that was kept."""
    frame = prepared.report.frame
    dups = frame[frame["status"] == "duplicate"]
    if dups.empty:
        return 0, [], 0
    kept = frame[frame["status"].isin(["ok", "converted"])].drop_duplicates("sha256").set_index("sha256")["label"]
    conflicts = int((dups["sha256"].map(kept).astype(str) != dups["label"].astype(str)).sum())
    return len(dups), [str(ref) for ref in dups["ref"]], conflicts


def imbalance_decision(class_counts: dict[str, int]) -> tuple[float, str, str]:
    """(largest / smallest, ``"balanced"`` or ``"none"``, one sentence saying which and why)."""
    counts = {name: n for name, n in class_counts.items() if n > 0}
    if len(counts) < 2:
        return 1.0, "none", ""
    largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
    ratio = counts[largest] / counts[smallest]
    if ratio > IMBALANCE_RATIO:
        return ratio, "balanced", _(
            "The classes are uneven: {largest} has {n_largest} examples, {smallest} only {n_smallest} ({ratio} "
            "times fewer). Training gives the rarer classes more weight, so the model does not simply favour the "
            "common ones.").format(largest=largest, n_largest=counts[largest], smallest=smallest,
                                   n_smallest=counts[smallest], ratio=f"{ratio:.1f}")
    return ratio, "none", _(
        "The classes are about even (the largest has {ratio} times as many examples as the smallest), so every "
        "example counts the same in training.").format(ratio=f"{ratio:.1f}")


def small_data_warnings(counts: dict[str, dict[str, int]]) -> list[str]:
    """Classes with too few examples set aside to check or test them, and a test set of a handful."""
    found = []
    for name, per_split in counts.items():
        held = min(per_split.get("val", 0), per_split.get("test", 0))
        if held < SMALL_HELD_OUT:
            total = sum(per_split.values())
            found.append(_(
                "{name} has only {total} examples, so only {val} can be set aside to check the model and {test} to "
                "test it: its scores are rough guesses. More examples of {name} would help most.").format(
                name=name, total=total, val=per_split.get("val", 0), test=per_split.get("test", 0)))
    test = sum(per_split.get("test", 0) for per_split in counts.values())
    if test == 0:
        found.append(_("No examples are set aside to test the finished model, so its score is measured on "
                       "examples it was checked on while learning, which flatters it."))
    elif test < SMALL_TEST:
        found.append(_("Only {n} examples are set aside to test the finished model: each one moves its score by "
                       "{points} points, so read the score as rough.").format(n=test, points=f"{100 / test:.0f}"))
    return found


def examine(prepared: "PreparedData", features: "AutoFeatures", *, seed: int = 0,
            job: Optional[Job] = None) -> DoctorReport:
    """Check ``prepared`` with ``features`` (its train and val rows) and decide; see :class:`DoctorReport`.

    Emits ``Progress`` events (task ``data doctor``, :data:`STEPS` steps) to ``job`` and stops between steps
    when it is asked to (``events.Cancelled``)."""
    job = job or Job()
    job.emit(Progress(run_id=job.run_id, task=TASK, done=0, total=STEPS))
    counts = split_counts(prepared)
    class_counts = prepared.report.class_counts or {name: sum(c.values()) for name, c in counts.items()}
    ratio, weight, why = imbalance_decision(class_counts)
    duplicates, refs, conflicts = duplicate_findings(prepared)
    report = DoctorReport(class_names=list(features.class_names), counts=counts, duplicates=duplicates,
                          duplicate_refs=refs[:20], conflicting_duplicates=conflicts, imbalance_ratio=ratio,
                          class_weight=weight, class_weight_why=why, small_data=small_data_warnings(counts),
                          data_warnings=list(prepared.report.warnings), source=features.source)
    job.emit(Progress(run_id=job.run_id, task=TASK, done=1, total=STEPS))
    job.check_stop()

    names = list(features.class_names)
    issues = find_label_issues(features.x, features.y, seed=seed, class_names=names)
    split = np.asarray(features.split)
    if issues.reason:
        report.label_check = _("Labels: {reason}.").format(reason=issues.reason)
    else:
        report.check_accuracy = issues.out_of_fold_accuracy()
        suggested_prob = issues.pred_probs[issues.indices].max(axis=1) if len(issues) else []
        report.label_issues = [
            {"id": features.ids[i], "ref": features.refs[i], "split": str(split[i]), "given": names[g],
             "suggested": names[s], "confidence": round(float(p), 4), "label_confidence": round(float(c), 4)}
            for i, g, s, c, p in zip(issues.indices.tolist(), issues.given.tolist(), issues.suggested.tolist(),
                                     issues.confidence.tolist(), suggested_prob)]
        report.label_check = _("No example looks mislabelled: a model trained on the other examples agrees with "
                               "the labels it was not shown (it was right {accuracy} of the time).").format(
            accuracy=f"{report.check_accuracy:.0%}")
    job.emit(Progress(run_id=job.run_id, task=TASK, done=2, total=STEPS))
    job.check_stop()

    totals = report.totals()
    share = totals["train"] / max(1, sum(totals.values()))
    report.data_need = estimate_data_need(features, seed=seed, train_share=share or None)
    job.emit(Progress(run_id=job.run_id, task=TASK, done=3, total=STEPS))
    return report


__all__ = ["DoctorReport", "examine", "imbalance_decision", "small_data_warnings", "split_counts",
           "duplicate_findings", "IMBALANCE_RATIO", "SMALL_HELD_OUT", "SMALL_TEST"]
