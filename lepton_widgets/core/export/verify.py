"""Verified export: write a run's model in each format, reload it with that format's own runtime, and
compare its predictions with the in-memory model on held-out data before publishing it.

Every kind of run goes through the same write / reload / compare / publish code; what differs per
modality is only what the model is fed (images, texts, token ids, table columns), which
:mod:`lepton_widgets.core.export.inputs` supplies with the formats that cannot hold the model (a GloVe
text model in TFLite, a table with categorical columns in ONNX...): those are reported ``unavailable``
with the reason and never tried. A MiniLM export also carries its tokeniser folder, and its
``export.json`` the tokeniser settings and sequence length, so it works without the run.

Why verify every export: conversions break silently across versions (Keras 3 broke the TF.js and ONNX
converters for a while; TF-Keras 2 files fail in Keras 3). An export here is only published when the
reloaded artefact reproduces the model's probabilities on rows of the run's *test* split within the
format's tolerance (:data:`~lepton_widgets.core.export.formats.SPECS`): max abs diff <= 1e-5 (keras),
1e-4 (savedmodel, tflite, onnx), 2e-2 (tflite-f16); for tflite-int8 top-1 agreement >= 0.9 on the images
where the model is decided (top-1 leads by >= 0.2) and >= 0.8 overall. An artefact that
misses its tolerance is deleted and reported as ``failed``; a format this machine cannot produce (e.g.
ONNX without tf2onnx) is reported as ``unavailable`` with the reason; a converter that raises is
``error`` with its message. Nothing here raises for a single bad format.

**Augmentation.** The trained image model starts with random augmentation layers. They do nothing at
inference, but their random ops are still in the traced graph, and tf2onnx cannot convert them
(``StatelessRandomUniformV2``, ``ImageProjectiveTransformV3``). :func:`inference_model` therefore rebuilds
the chain without them, calling the *same* layer objects (shared weights, nothing copied), and that graph
is what every format gets. The reference predictions still come from the original, full model. A text
or table model has no augmentation; a table's ``Normalization`` layers become constant ``Rescaling``
too (same reason), in a clone that shares every other layer.

**Layout and atomicity.** Exports go to ``<run>/exports/`` (or ``out``): one folder per format holding the
artefact and ``export.json`` (its parity result and what an app needs: class names, image size), plus
``model_card.md`` / ``model_card.json`` for all formats there (with the modality and what the model
takes). Each format folder also gets a signed ``export_manifest.json`` (checksums of its files,
:mod:`~lepton_widgets.core.export.manifest`): Predict opens a SavedModel, TFLite or ONNX file only with it.
Each format is written into a hidden temporary folder and renamed into place only after it passed, so a
crash never leaves a half-written export, and the run's own files (``model.keras`` included) are only read.

Example (trains and converts for real, so shown rather than run; tests/test_export.py and
tests/test_export_modalities.py run it)::

    from lepton_widgets.core.export.verify import export_run
    report = export_run("runs/20261130-101500-quickstart", formats=["keras", "tflite-int8"])
    report.frame()[["format", "status", "size_bytes", "max_abs_diff", "top1_agreement"]]
    report.card_md     # runs/<id>/exports/model_card.md
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.base.atomic import atomic_write_text
from lepton_widgets.core.base.events import Cancelled, Event, Progress
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.export.formats import (FORMATS, SPECS, ExportContext, Tolerance, Unavailable,
                                                artefact_size, as_tensors, batch_length, remove_tree)
from lepton_widgets.core.export.manifest import write_manifest
from lepton_widgets.core.export.model_card import agreement_text
from lepton_widgets.core.runs.store import EXPORTS_DIR, RunRecord, RunStore

#: Held-out images compared per format (rows of the test split, in order).
DEFAULT_CHECK_IMAGES = 64
RESULT_FILE = "export.json"
STATUSES = ("passed", "failed", "unavailable", "error")
#: What happens to each format, in order; an ``ExportStep`` event is sent as each begins (``done`` at the end).
STEPS = ("write", "reload", "check", "done")


@dataclass
class ExportStep(Event):
    """One format's step while exporting, sent as it begins: ``write`` (the converter runs), ``reload``
    (its own runtime opens the file), ``check`` (compared with the trained model on ``n_checked`` held-out
    inputs) and ``done`` (``status``, ``reason``, ``seconds`` and ``size_bytes`` say how it ended). ``index``
    of ``total`` places the format among those asked for, so a UI can draw one bar for the whole export.

    Example:
        >>> ExportStep(format="onnx", step="reload", index=1, total=3, runtime="onnxruntime").kind
        'export_step'
    """

    format: str = ""
    step: str = ""
    index: int = 0
    total: int = 0
    runtime: str = ""
    n_checked: int = 0
    status: str = ""
    reason: str = ""
    seconds: float = 0.0
    size_bytes: Optional[int] = None
    kind = "export_step"


@dataclass
class ExportResult:
    """One format's outcome. ``path`` is the published artefact (None unless ``passed``)."""

    format: str
    status: str
    path: Optional[str] = None
    file: Optional[str] = None
    size_bytes: Optional[int] = None
    max_abs_diff: Optional[float] = None
    top1_agreement: Optional[float] = None
    decided_agreement: Optional[float] = None   # over the n_decided images (tolerances with a decided_margin)
    n_decided: Optional[int] = None
    n_checked: int = 0
    accuracy: Optional[float] = None            # of the export on the check batch, when labels are known
    reference_accuracy: Optional[float] = None  # of the in-memory model on the same images
    tolerance: str = ""
    runtime: str = ""
    reason: str = ""
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def agreement_text(self) -> str:
        """Top-1 agreement for people: ``100.0%``, or ``75.0% (100.0% of 9 decided)`` for int8."""
        return agreement_text(self.top1_agreement, self.decided_agreement, self.n_decided)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExportResult":
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


@dataclass
class ExportReport:
    """Everything one export call produced: per-format results and the model card's files."""

    run_id: str
    out_dir: Path
    results: list[ExportResult]
    card_md: Optional[Path] = None
    card_json: Optional[Path] = None

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_dict() for r in self.results]).drop(columns=["meta"], errors="ignore")

    def result(self, format: str) -> ExportResult:
        return next(r for r in self.results if r.format == format)


def parse_formats(formats: str | Sequence[str]) -> list[str]:
    """``"all"``, ``"keras,onnx"`` or a list -> known format names in the canonical order.

    >>> parse_formats("onnx,keras")
    ['keras', 'onnx']
    >>> parse_formats("all") == list(FORMATS)
    True
    """
    items = [formats] if isinstance(formats, str) else list(formats)
    names = {part.strip().lower() for item in items for part in str(item).split(",") if part.strip()}
    if "all" in names:
        return list(FORMATS)
    unknown = sorted(names - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown export format {', '.join(unknown)}; choose from {', '.join(FORMATS)} or all")
    if not names:
        raise ValueError(f"no export format chosen; choose from {', '.join(FORMATS)} or all")
    return [name for name in FORMATS if name in names]


def inference_model(model):
    """The model without its augmentation layers, sharing every other layer (and so its weights).

    Returns ``model`` itself when it has none. The model's task
    (:func:`~lepton_widgets.core.tasks.registry.task_for_model`) decides: lepton's linear picture chain
    (input -> [augmentation] -> normalise -> backbone -> head) is rebuilt; a model with other inputs (text,
    table) is cloned with its Normalization layers as constants
    (:func:`~lepton_widgets.core.tasks.exporting.normalization_as_constants`).
    The caller checks the result against the original anyway.
    """
    from lepton_widgets.core.tasks import task_for_model

    return task_for_model(model).inference_model(model)


def compare(reference: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """(max abs difference of probabilities, fraction of rows with the same top class).

    >>> compare(np.array([[0.9, 0.1], [0.4, 0.6]]), np.array([[0.8, 0.2], [0.6, 0.4]]))
    (0.2, 0.5)
    """
    reference, probabilities = np.asarray(reference, np.float64), np.asarray(probabilities, np.float64)
    if reference.shape != probabilities.shape:
        raise ValueError(f"the export returned shape {probabilities.shape}, the model {reference.shape}")
    diff = float(np.abs(reference - probabilities).max()) if reference.size else 0.0
    agreement = float((reference.argmax(axis=1) == probabilities.argmax(axis=1)).mean()) if len(reference) else 0.0
    return round(diff, 12), agreement


def decided_agreement(reference: np.ndarray, probabilities: np.ndarray, margin: float) -> tuple[float, int]:
    """Top-1 agreement over the rows where ``reference``'s top class leads the runner-up by >= ``margin``,
    and how many rows that is (1.0 when none is decided: nothing to disagree on).

    >>> decided_agreement(np.array([[0.9, 0.1], [0.52, 0.48]]), np.array([[0.8, 0.2], [0.48, 0.52]]), 0.2)
    (1.0, 1)
    """
    reference, probabilities = np.asarray(reference, np.float64), np.asarray(probabilities, np.float64)
    top2 = np.sort(reference, axis=1)[:, -2:] if reference.shape[1] > 1 else np.zeros((len(reference), 2))
    decided = (top2[:, 1] - top2[:, 0]) >= margin
    if not decided.any():
        return 1.0, 0
    same = reference.argmax(axis=1) == probabilities.argmax(axis=1)
    return float(same[decided].mean()), int(decided.sum())


def export_model(model, formats: str | Sequence[str], out_dir: str | Path, *, images: Optional[np.ndarray] = None,
                 inputs=None, signature: Optional[list] = None, labels: Optional[np.ndarray] = None,
                 representative=None, meta: Optional[dict] = None,
                 tolerances: Optional[dict[str, Tolerance]] = None, unavailable: Optional[dict[str, str]] = None,
                 assets: Optional[dict[str, Path]] = None, loaders: Optional[dict] = None,
                 job: Optional[Job] = None) -> list[ExportResult]:
    """Export ``model`` in each format under ``out_dir/<format>/``, verifying each on a held-out batch.

    ``images``: the held-out batch (N, S, S, 3) in [0, 255] of an image model; or ``inputs`` with its
    ``signature`` for any other model (an array of strings, or a dict of arrays named like the model's
    inputs, and the converters' ``tf.TensorSpec`` list; see :mod:`~lepton_widgets.core.export.inputs`).
    ``labels`` (optional) adds accuracies; ``representative``: training rows of the same kind for int8
    calibration; ``meta`` is stored in every ``export.json`` (class names, image size, run id...);
    ``tolerances`` overrides the per-format defaults; ``unavailable`` maps formats that cannot hold this
    model to the reason (reported, not tried); ``assets`` maps a name to a file or folder copied beside
    every published artefact (a tokeniser); ``loaders`` maps a format to the function that reloads it
    instead of its default (text and table models reload their Keras file in Keras' safe mode). ``job``
    carries the progress events (under its run id) and the stop request, checked between formats.
    """
    job = job or Job()
    sink, run_id = job.sink, job.run_id
    names = parse_formats(formats)
    out_dir = Path(out_dir)
    if (images is None) == (inputs is None):
        raise ValueError("give either images (an image model) or inputs with their signature")
    if images is not None:
        inputs = np.asarray(images, np.float32)
        if inputs.ndim != 4 or not len(inputs):
            raise ValueError(f"images must be a non-empty batch (N, H, W, 3), got shape {inputs.shape}")
    elif signature is None:
        raise ValueError("inputs other than images need their input signature (a list of tf.TensorSpec)")
    elif not batch_length(inputs):
        raise ValueError("inputs must hold at least one row to compare the exports on")
    out_dir.mkdir(parents=True, exist_ok=True)
    reference = np.asarray(model.predict(as_tensors(inputs), verbose=0), np.float32)
    exported = inference_model(model)
    ctx = ExportContext(image_size=int(inputs.shape[1]) if images is not None else None,
                        representative=representative, signature=signature, unavailable=dict(unavailable or {}),
                        loaders=dict(loaders or {}))
    results = []
    try:
        for done, name in enumerate(names):
            job.check_stop()
            sink(Progress(run_id=run_id, task=f"export {name}", done=done, total=len(names)))
            tolerance = (tolerances or {}).get(name, SPECS[name].tolerance)
            def step(which: str, result: Optional[ExportResult] = None, name=name, index=done) -> None:
                extra = {} if result is None else {"status": result.status, "reason": result.reason,
                                                   "seconds": result.seconds, "size_bytes": result.size_bytes}
                sink(ExportStep(run_id=run_id, format=name, step=which, index=index, total=len(names),
                                runtime=SPECS[name].runtime, n_checked=batch_length(inputs), **extra))

            results.append(_export_one(name, exported, out_dir, ctx, inputs, reference, labels, tolerance,
                                       dict(meta or {}), assets or {}, step))
        sink(Progress(run_id=run_id, task="export", done=len(names), total=len(names)))
    finally:
        ctx.close()
    return results


def _export_one(name, model, out_dir: Path, ctx: ExportContext, inputs, reference, labels,
                tolerance: Tolerance, meta: dict, assets: dict[str, Path], step=None) -> ExportResult:
    step = step or (lambda which, result=None: None)
    spec = SPECS[name]
    result = ExportResult(format=name, status="error", tolerance=tolerance.describe(), runtime=spec.runtime,
                          file=spec.filename, n_checked=batch_length(inputs), meta=meta)
    started = time.perf_counter()
    tmp = out_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        if name in ctx.unavailable:
            raise Unavailable(ctx.unavailable[name])
        artefact = tmp / spec.filename
        step("write")
        spec.write(model, artefact, ctx)
        step("reload")
        loader = ctx.loaders.get(name)
        # Opened directly, not through load_predictor's provenance check: this is the file just written.
        predictor = loader(artefact) if loader else SPECS[_runtime_format(name)].load(artefact)
        step("check")
        probabilities = predictor.predict(inputs)
        result.max_abs_diff, result.top1_agreement = compare(reference, probabilities)
        if tolerance.decided_margin is not None:
            result.decided_agreement, result.n_decided = decided_agreement(reference, probabilities,
                                                                           tolerance.decided_margin)
        result.size_bytes = artefact_size(artefact)
        if labels is not None:
            labels = np.asarray(labels)
            result.accuracy = float((probabilities.argmax(axis=1) == labels).mean())
            result.reference_accuracy = float((reference.argmax(axis=1) == labels).mean())
        if tolerance.check(result.max_abs_diff, result.top1_agreement, result.decided_agreement):
            result.status = "passed"
        else:
            decided = "" if result.n_decided is None else \
                f" ({result.decided_agreement:.1%} on the {result.n_decided} decided images)"
            result.status = "failed"
            result.reason = (f"reloaded with {spec.runtime}, it is outside the tolerance ({tolerance.describe()}): "
                             f"max abs diff {result.max_abs_diff:.3g}, top-1 agreement "
                             f"{result.top1_agreement:.1%}{decided}; not published")
    except Unavailable as error:
        result.status, result.reason = "unavailable", str(error)
    except Cancelled:
        raise
    except Exception as error:  # a converter or runtime failure is this format's result, not a crash
        result.status = "error"
        result.reason = f"{spec.description} could not be made here: {type(error).__name__}: {_short(error)}"
    result.seconds = round(time.perf_counter() - started, 3)
    try:
        if result.passed:
            target = out_dir / name
            result.path = str(target / spec.filename)
            _copy_assets(assets, tmp)
            atomic_write_text(tmp / RESULT_FILE, json.dumps(result.to_dict(), indent=2, default=str))
            # Last, so it covers every file: what lets Predict open this SavedModel/TFLite/ONNX later.
            write_manifest(tmp, name, spec.filename, run_id=str(meta.get("run_id", "")))
            _publish(tmp, target)
    finally:
        remove_tree(tmp)
    step("done", result)
    return result


def _copy_assets(assets: dict[str, Path], folder: Path) -> None:
    """Copy each asset (a run's file or folder, only read) to ``folder / name``."""
    import shutil

    for name, source in assets.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(source).is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)


def _runtime_format(name: str) -> str:
    return "tflite" if name.startswith("tflite") else name


def _publish(tmp: Path, target: Path) -> None:
    """Move a finished export folder into place; an older export of the same format is replaced."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(target, old)
    os.rename(tmp, target)
    if old is not None:
        remove_tree(old)


def _short(error: BaseException, limit: int = 400) -> str:
    text = " ".join(str(error).split())
    return text[:limit] + ("..." if len(text) > limit else "")


def check_batch(record: RunRecord, n: int = DEFAULT_CHECK_IMAGES, seed: int = 0):
    """(test inputs, their labels, up to 100 training rows for int8 calibration, data info) of a run.

    The data is reloaded from the run's config and split with its seed; ``data_changed`` in the info says
    when the split no longer matches the run's ``split.json`` (the rows are then still held-out for the
    *current* split, and the model card says so). Images for an image run; a text or table run gets
    what its model takes (see :func:`~lepton_widgets.core.export.inputs.reference_inputs`).
    """
    from lepton_widgets.core.export.inputs import reference_inputs

    refs = reference_inputs(record, n, seed)
    return refs.inputs, refs.labels, refs.representative, refs.info


def export_run(run: str | Path | RunRecord, formats: str | Sequence[str] = "all", out: Optional[str | Path] = None,
               *, runs_dir: Optional[str | Path] = None, n_check: int = DEFAULT_CHECK_IMAGES,
               tolerances: Optional[dict[str, Tolerance]] = None, job: Optional[Job] = None) -> ExportReport:
    """Export a finished run (id, id prefix, folder or record) and write its model card.

    ``out`` defaults to ``<run>/exports``. Raises ``ValueError`` for a run that did not finish or has no
    model; per-format problems are in the results, never raised. ``job`` carries the progress events and the
    stop request (none: silent, not stoppable).
    """
    job = job or Job()
    from lepton_widgets.core.export.inputs import reference_inputs
    from lepton_widgets.core.export.model_card import write_model_card  # the card: a leaf, verify calls it

    names = parse_formats(formats)
    record = run if isinstance(run, RunRecord) else RunStore(runs_dir).open(run)
    if not record.complete or record.status != "finished" or not record.model_path.exists():
        raise ValueError(f"run {record.run_id} is {record.status}: only a finished run with a saved model can be "
                         "exported")
    out_dir = Path(out) if out is not None else record.path / EXPORTS_DIR
    job.emit(Progress(run_id=record.run_id, task="export: loading data and model", done=0, total=len(names)))
    refs = reference_inputs(record, n_check)
    model = record.task.load_model(record)
    cfg = record.config
    meta = {"run_id": record.run_id, "class_names": [str(c) for c in record.class_names],
            "image_size": cfg.backbone.image_size, "backbone": cfg.backbone.name,
            "input": "float32 RGB pixels in [0, 255], shape (N, S, S, 3)",
            "output": "softmax probabilities in class_names order", "data_changed": refs.info["data_changed"]}
    image_batch = refs.image_size is not None  # a batch of pixels; text and table inputs have no image size
    if not image_batch:  # an image size means nothing to a text or table model
        meta.pop("image_size")
    meta.update(refs.meta)
    results = export_model(model, names, out_dir, images=refs.inputs if image_batch else None,
                           inputs=None if image_batch else refs.inputs, signature=refs.signature,
                           labels=refs.labels, representative=refs.representative, meta=meta,
                           tolerances=tolerances, unavailable=refs.unavailable, assets=refs.assets,
                           loaders=refs.loaders, job=job.child(run_id=record.run_id))
    card_md, card_json = write_model_card(record, out_dir, results, data_info=refs.info, inputs=meta,
                                          published=published_results(out_dir))
    return ExportReport(run_id=record.run_id, out_dir=out_dir, results=results, card_md=card_md,
                        card_json=card_json)


def published_results(out_dir: str | Path) -> list[ExportResult]:
    """Results of the exports published under ``out_dir`` (one per format folder), in format order."""
    out_dir = Path(out_dir)
    found = []
    for name in FORMATS:
        path = out_dir / name / RESULT_FILE
        if path.is_file():
            try:
                found.append(ExportResult.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except (json.JSONDecodeError, TypeError):
                continue  # a damaged export.json: that export is not listed
    return found


def list_exports(store: RunStore) -> list[ExportResult]:
    """Every published export of every finished run in ``store`` (``path`` points at the artefact)."""
    found = []
    for record in store.runs(include_incomplete=False):
        for result in published_results(record.path / EXPORTS_DIR):
            # The folder may have moved since export.json was written: point at where it is now.
            result.path = str(record.path / EXPORTS_DIR / result.format / SPECS[result.format].filename)
            found.append(result)
    return found
