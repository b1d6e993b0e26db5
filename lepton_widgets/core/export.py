"""Verified export: write a run's model in each format, reload it with that format's own runtime, and
compare its predictions with the in-memory model on held-out images before publishing it.

Why verify every export: conversions break silently across versions (Keras 3 broke the TF.js and ONNX
converters for a while; TF-Keras 2 files fail in Keras 3). An export here is only published when the
reloaded artefact reproduces the model's probabilities on rows of the run's *test* split within the
format's tolerance (:data:`~lepton_widgets.core.export_formats.SPECS`): max abs diff <= 1e-5 (keras),
1e-4 (savedmodel, tflite, onnx), 2e-2 (tflite-f16); for tflite-int8 top-1 agreement >= 0.9 on the images
where the model is decided (top-1 leads by >= 0.2) and >= 0.8 overall. An artefact that
misses its tolerance is deleted and reported as ``failed``; a format this machine cannot produce (e.g.
ONNX without tf2onnx) is reported as ``unavailable`` with the reason; a converter that raises is
``error`` with its message. Nothing here raises for a single bad format.

**Augmentation.** The trained model starts with random augmentation layers. They do nothing at inference,
but their random ops are still in the traced graph, and tf2onnx cannot convert them
(``StatelessRandomUniformV2``, ``ImageProjectiveTransformV3``). :func:`inference_model` therefore rebuilds
the chain without them, calling the *same* layer objects (shared weights, nothing copied), and that graph
is what every format gets. The reference predictions still come from the original, full model.

**Layout and atomicity.** Exports go to ``<run>/exports/`` (or ``out``): one folder per format holding the
artefact and ``export.json`` (its parity result and what an app needs: class names, image size), plus
``model_card.md`` / ``model_card.json`` for all formats there. Each format is written into a hidden
temporary folder and renamed into place only after it passed, so a crash never leaves a half-written
export, and the run's own files (``model.keras`` included) are only read.

Example (trains and converts for real, so shown rather than run; tests/test_export.py runs it)::

    from lepton_widgets.core.export import export_run
    report = export_run("runs/20261130-101500-quickstart", formats=["keras", "tflite-int8"])
    report.frame()[["format", "status", "size_bytes", "max_abs_diff", "top1_agreement"]]
    report.card_md     # runs/<id>/exports/model_card.md
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from lepton_widgets.core.atomic import atomic_write_text
from lepton_widgets.core.events import Cancelled, EventSink, Progress, check_stop, null_sink
from lepton_widgets.core.export_formats import (FORMATS, SPECS, ExportContext, Tolerance, Unavailable,
                                                artefact_size, load_predictor, remove_tree)
from lepton_widgets.core.run_store import RunRecord, RunStore

#: Held-out images compared per format (rows of the test split, in order).
DEFAULT_CHECK_IMAGES = 64
EXPORTS_DIR = "exports"
RESULT_FILE = "export.json"
STATUSES = ("passed", "failed", "unavailable", "error")


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


def agreement_text(overall: Optional[float], decided: Optional[float] = None, n_decided: Optional[int] = None
                   ) -> str:
    """Top-1 agreement for people, with the agreement on decided images when there is one.

    >>> agreement_text(0.75, 1.0, 9)
    '75.0% (100.0% of 9 decided)'
    """
    if overall is None:
        return "–"
    return f"{overall:.1%}" + ("" if n_decided is None else f" ({decided:.1%} of {n_decided} decided)")


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

    Returns ``model`` itself when it has none. Only lepton's linear chain (input -> [augmentation] ->
    normalise -> backbone -> head) is rebuilt; the caller checks the result against the original anyway.
    """
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    kept = [_constant_normalization(layer) for layer in layers if not _is_augmentation(layer)]
    if kept == layers:
        return model
    inputs = keras.Input(model.input_shape[1:], name="image")
    x = inputs
    for layer in kept:
        x = layer(x)
    return keras.Model(inputs, x, name=model.name)


def _constant_normalization(layer):
    """A per-channel ``Normalization`` as the equivalent ``Rescaling`` (x * 1/std - mean/std).

    Why: tf2onnx (1.17) does not freeze a Normalization layer's statistics, which Keras keeps as tensors
    captured by the traced function rather than as variables; they are left in the ONNX graph as inputs
    nobody feeds ("... normalize/Sub/y:0 are missing from input feed"). Rescaling's scale and offset are
    constants in the graph. Any other layer is returned as it is.
    """
    import keras

    if type(layer) is not keras.layers.Normalization or layer.invert or getattr(layer, "mean", None) is None:
        return layer
    mean = np.asarray(layer.mean, np.float64).reshape(-1)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float64).reshape(-1)), keras.config.epsilon())
    channels = layer.input.shape[-1] if hasattr(layer, "input") else None
    if mean.size != channels:
        return layer  # not a per-channel normalisation of the image: leave it
    return keras.layers.Rescaling(scale=(1.0 / std).tolist(), offset=(-mean / std).tolist(), name=layer.name)


def _is_augmentation(layer) -> bool:
    return layer.name == "augmentation" or type(layer).__name__.startswith("Random")


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


def export_model(model, formats: str | Sequence[str], out_dir: str | Path, *, images: np.ndarray,
                 labels: Optional[np.ndarray] = None, representative: Optional[np.ndarray] = None,
                 meta: Optional[dict] = None, tolerances: Optional[dict[str, Tolerance]] = None,
                 sink: EventSink = null_sink, stop_event: Optional[threading.Event] = None,
                 run_id: str = "") -> list[ExportResult]:
    """Export ``model`` in each format under ``out_dir/<format>/``, verifying each against ``images``.

    ``images``: the held-out batch (N, S, S, 3) in [0, 255]; ``labels`` (optional) adds accuracies;
    ``representative``: training images for int8 calibration; ``meta`` is stored in every ``export.json``
    (class names, image size, run id...); ``tolerances`` overrides the per-format defaults.
    """
    names = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or not len(images):
        raise ValueError(f"images must be a non-empty batch (N, H, W, 3), got shape {images.shape}")
    reference = np.asarray(model.predict(images, verbose=0), np.float32)
    exported = inference_model(model)
    ctx = ExportContext(image_size=int(images.shape[1]), representative=representative)
    results = []
    try:
        for done, name in enumerate(names):
            check_stop(stop_event)
            sink(Progress(run_id=run_id, task=f"export {name}", done=done, total=len(names)))
            tolerance = (tolerances or {}).get(name, SPECS[name].tolerance)
            results.append(_export_one(name, exported, out_dir, ctx, images, reference, labels, tolerance,
                                       dict(meta or {})))
        sink(Progress(run_id=run_id, task="export", done=len(names), total=len(names)))
    finally:
        ctx.close()
    return results


def _export_one(name, model, out_dir: Path, ctx: ExportContext, images, reference, labels,
                tolerance: Tolerance, meta: dict) -> ExportResult:
    spec = SPECS[name]
    result = ExportResult(format=name, status="error", tolerance=tolerance.describe(), runtime=spec.runtime,
                          file=spec.filename, n_checked=len(images), meta=meta)
    started = time.perf_counter()
    tmp = out_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        artefact = tmp / spec.filename
        spec.write(model, artefact, ctx)
        probabilities = load_predictor(artefact, _runtime_format(name)).predict(images)
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
            atomic_write_text(tmp / RESULT_FILE, json.dumps(result.to_dict(), indent=2, default=str))
            _publish(tmp, target)
    finally:
        remove_tree(tmp)
    return result


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
    """(test images, their labels, up to 100 training images for int8 calibration, data info) of a run.

    The data is reloaded from the run's config and split with its seed; ``data_changed`` in the info says
    when the split no longer matches the run's ``split.json`` (the images are then still held-out for the
    *current* split, and the model card says so).
    """
    from lepton_widgets.core.data import make_dataset, prepare_data, split_record
    from lepton_widgets.core.export_formats import REPRESENTATIVE_IMAGES

    cfg = record.config
    prepared = prepare_data(cfg.data, cfg.seed)
    size = cfg.backbone.image_size
    test, train = prepared.split("test"), prepared.split("train")
    if not len(test):
        raise ValueError(f"run {record.run_id} has an empty test split; pass images to export_model instead")
    # Seeded random rows, kept in table order: the split is stored grouped by class, so its first rows
    # would check only a few classes.
    rng = np.random.default_rng(seed)
    test = _rows(test, np.sort(rng.choice(len(test), size=min(n, len(test)), replace=False)))
    train = _rows(train, np.sort(rng.choice(len(train), size=min(REPRESENTATIVE_IMAGES, len(train)), replace=False)))
    images = _pixels(make_dataset(test, size, 64, with_labels=False))
    calibration = _pixels(make_dataset(train, size, 64, with_labels=False)) if len(train) else None
    frame = prepared.table.frame
    info = {"counts": {split: {str(k): int(v) for k, v in group["label"].value_counts().sort_index().items()}
                       for split, group in frame.groupby("split")},
            "data_changed": bool(record.split) and record.split != split_record(prepared.table),
            "n_total": int(len(frame))}
    return images, test.label_indices(), calibration, info


def _rows(table, positions):
    """A copy of ``table`` with only the rows at ``positions`` (same class list and arrays)."""
    from dataclasses import replace

    return replace(table, frame=table.frame.iloc[list(positions)].reset_index(drop=True))


def _pixels(dataset) -> np.ndarray:
    return np.concatenate([np.asarray(batch) for batch in dataset], axis=0)


def export_run(run: str | Path | RunRecord, formats: str | Sequence[str] = "all", out: Optional[str | Path] = None,
               *, runs_dir: Optional[str | Path] = None, n_check: int = DEFAULT_CHECK_IMAGES,
               tolerances: Optional[dict[str, Tolerance]] = None, sink: EventSink = null_sink,
               stop_event: Optional[threading.Event] = None) -> ExportReport:
    """Export a finished run (id, id prefix, folder or record) and write its model card.

    ``out`` defaults to ``<run>/exports``. Raises ``ValueError`` for a run that did not finish or has no
    model; per-format problems are in the results, never raised.
    """
    from lepton_widgets.core.model_card import write_model_card

    names = parse_formats(formats)
    record = run if isinstance(run, RunRecord) else RunStore(runs_dir).open(run)
    if not record.complete or record.status != "finished" or not record.model_path.exists():
        raise ValueError(f"run {record.run_id} is {record.status}: only a finished run with a saved model can be "
                         "exported")
    out_dir = Path(out) if out is not None else record.path / EXPORTS_DIR
    sink(Progress(run_id=record.run_id, task="export: loading data and model", done=0, total=len(names)))
    images, labels, calibration, info = check_batch(record, n_check)
    model = record.load_model()
    cfg = record.config
    meta = {"run_id": record.run_id, "class_names": [str(c) for c in record.class_names],
            "image_size": cfg.backbone.image_size, "backbone": cfg.backbone.name,
            "input": "float32 RGB pixels in [0, 255], shape (N, S, S, 3)",
            "output": "softmax probabilities in class_names order", "data_changed": info["data_changed"]}
    results = export_model(model, names, out_dir, images=images, labels=labels, representative=calibration,
                           meta=meta, tolerances=tolerances, sink=sink, stop_event=stop_event,
                           run_id=record.run_id)
    card_md, card_json = write_model_card(record, out_dir, results, data_info=info)
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
