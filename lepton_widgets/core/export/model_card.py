"""Model card for an export folder: what the model was trained on, how well it did, what each exported
file was checked against, and what it must not be used for — as ``model_card.md`` and ``model_card.json``.

The card is rebuilt from the run (config, metrics, data report, environment) and from every published
``<format>/export.json`` in the folder, so exporting another format later keeps the earlier rows. It
says the run's modality (image, text, tabular) and exactly what the exported model takes (pixels,
strings, token ids with the shipped tokeniser, named table columns). The *limits* are written from the
facts, not boilerplate: how many images (texts, rows) at what size (sequence length), whether the data
is a substitute or synthetic, the backbone's weights, the test-set size (and the resulting uncertainty of
the accuracy), calibration, and the int8 agreement when there is one.

A run Lepton Auto chose holds ``auto_choices.json`` (``{"auto_id": ..., "choices": [sentences]}``, written by
the Auto export stage before it exports): its card gets ``auto`` (JSON) and a section "How Auto chose this
model" (Markdown) listing those sentences, one per choice, in the order Auto made them.

Example (needs a finished run, so shown rather than run; tests/test_export.py checks a real card)::

    card = build_model_card(record, results, data_info={"counts": {...}})
    print(render_markdown(card))
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Optional, Sequence

from lepton_widgets.core.base.atomic import atomic_write_text

CARD_MD = "model_card.md"
CARD_JSON = "model_card.json"
#: In a run's folder: the choices Lepton Auto made for it (``core/auto/stages.py`` writes it; the card reads it).
AUTO_CHOICES_FILE = "auto_choices.json"
VERSION_PACKAGES = ("tensorflow", "keras", "numpy", "tf2onnx", "onnx", "onnxruntime", "lepton-widgets")


def _version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def build_model_card(record, results: Sequence, data_info: Optional[dict] = None,
                     inputs: Optional[dict] = None) -> dict:
    """The card as a JSON-able dict; ``results`` are :class:`~lepton_widgets.core.export.verify.ExportResult`;
    ``inputs`` is the export's meta (``modality``, ``input`` and, for text, ``sequence_length`` and the
    tokeniser; for a table, ``columns``), as written to every ``export.json``."""
    from lepton_widgets.core.data import get_dataset

    cfg = record.config
    data_info = data_info or {}
    inputs = inputs or {}
    task = _task(inputs)
    report = record._read_json("data_report.json", {})
    try:
        origin = get_dataset(cfg.data.dataset).origin
    except ValueError:
        origin = "unknown"
    counts = data_info.get("counts") or {}
    metrics = record.metrics
    card = {
        "model": {"run_id": record.run_id, "name": cfg.name, "created": record.info.get("finished"),
                  "exported": time.time()},
        "intended_use": "Classify images into the classes below; it always answers one of them.",
        "input": f"float32 RGB pixels in [0, 255], shape (N, {cfg.backbone.image_size}, {cfg.backbone.image_size}, 3)"
                 "; other sizes must be resized first",
        "output": "softmax probabilities, one per class, in class_names order",
        "class_names": [str(c) for c in record.class_names],
        "image_size": cfg.backbone.image_size,
        "data": {"dataset": cfg.data.dataset, "path": cfg.data.path, "origin": origin,
                 "max_per_class": cfg.data.max_per_class, "seed": cfg.seed,
                 "split_fractions": {"val": cfg.data.val_fraction, "test": cfg.data.test_fraction},
                 "counts": counts, "notes": report.get("notes", []), "warnings": report.get("warnings", []),
                 "data_changed_since_training": bool(data_info.get("data_changed"))},
        "backbone": {"name": cfg.backbone.name, "weights": cfg.backbone.weights,
                     "frozen_depth": cfg.backbone.frozen_depth, "image_size": cfg.backbone.image_size,
                     "head_units": cfg.train.head_units},
        "training": {"epochs": cfg.train.epochs, "fine_tune_epochs": cfg.train.fine_tune_epochs,
                     "learning_rate": cfg.train.learning_rate, "augment": cfg.to_dict()["augment"]},
        "metrics": {key: metrics.get(key) for key in ("n", "accuracy", "macro_f1", "ece", "log_loss",
                                                       "top_3_accuracy") if key in metrics},
        "exports": [_export_row(r) for r in results],
        "environment": {"python": sys.version.split()[0], "platform": platform.platform(),
                        "packages": {name: _version(name) for name in VERSION_PACKAGES},
                        "trained_with": record.env.get("packages", {})},
    }
    task.card_facts(card, inputs)  # a text or table card: its use, input and model instead of pixels
    card["limits"] = limits(card)
    auto = auto_choices(record)
    if auto:
        card["auto"] = auto
    return card


def auto_choices(record) -> Optional[dict]:
    """``{"auto_id", "choices"}`` of a run Lepton Auto chose (its ``auto_choices.json``), else ``None``."""
    stored = record._read_dict(AUTO_CHOICES_FILE)
    choices = [str(c) for c in stored.get("choices") or [] if isinstance(c, str) and c.strip()]
    return {"auto_id": str(stored.get("auto_id") or ""), "choices": choices} if choices else None


def _task(facts: dict):
    """The task an export's meta or a card names (``image`` when it names none: older picture exports)."""
    from lepton_widgets.core.tasks.registry import task_for_facts

    return task_for_facts(facts)


def agreement_text(overall: Optional[float], decided: Optional[float] = None, n_decided: Optional[int] = None
                   ) -> str:
    """Top-1 agreement for people, with the agreement on decided images when there is one.

    >>> agreement_text(0.75, 1.0, 9)
    '75.0% (100.0% of 9 decided)'
    """
    if overall is None:
        return "–"
    return f"{overall:.1%}" + ("" if n_decided is None else f" ({decided:.1%} of {n_decided} decided)")


def _export_row(result) -> dict:
    return {"format": result.format, "status": result.status, "file": result.file if result.passed else None,
            "size_bytes": result.size_bytes, "runtime": result.runtime, "max_abs_diff": result.max_abs_diff,
            "top1_agreement": result.top1_agreement, "decided_agreement": result.decided_agreement,
            "n_decided": result.n_decided, "n_checked": result.n_checked,
            "accuracy": result.accuracy, "reference_accuracy": result.reference_accuracy,
            "tolerance": result.tolerance, "reason": result.reason}


def limits(card: dict) -> list[str]:
    """Plain statements of what the numbers do not cover, from the card's own facts."""
    data, backbone, metrics = card["data"], card["backbone"], card["metrics"]
    task = _task(card)
    samples = task.sample_words
    train_counts = (data["counts"] or {}).get("train", {})
    out = []
    trained_at = task.card_trained_at(card)
    if train_counts:
        per_class = list(train_counts.values())
        spread = f"{min(per_class)}" if min(per_class) == max(per_class) else f"{min(per_class)}-{max(per_class)}"
        out.append(f"Trained on {sum(per_class)} {samples} ({spread} per class, {len(per_class)} classes)"
                   + trained_at)
    elif task.card_size_note(card):
        out.append(task.card_size_note(card))
    if data["origin"] == "synthetic/substitute":
        out.append(f"The data ({data['dataset']}) is synthetic or a substitute for the real thing: the metrics say "
                   f"little about real-world {samples}.")
    elif data["origin"] == "user":
        out.append("The data is the user's own; its labels and coverage were not reviewed by anyone else.")
    out += [f"Data note: {note}" for note in data["notes"]]
    if data.get("data_changed_since_training"):
        out.append(f"The data changed since training: the parity {samples} come from the current test split, which "
                   "may overlap what the model was trained on.")
    if backbone["weights"] == "none" and task.has_backbone:
        out.append(f"The {backbone['name']} backbone was trained from scratch (no pretrained weights), on this "
                   "data only.")
    n, accuracy = metrics.get("n"), metrics.get("accuracy")
    if n and accuracy is not None:
        half_width = 1.96 * math.sqrt(max(accuracy * (1 - accuracy), 1e-12) / n)
        out.append(f"Test accuracy {accuracy:.3f} comes from {n} held-out {samples}: roughly +/- {half_width:.3f} "
                   "(95% interval); per-class figures are less certain still.")
    if metrics.get("ece") is not None:
        out.append(f"Confidence is off by {metrics['ece']:.3f} on average (ECE on the test split): treat the "
                   "confidence as a rough guide, not a probability to act on.")
    for row in card["exports"]:
        if row["format"] == "tflite-int8" and row["status"] == "passed":
            out.append(f"tflite-int8 (8-bit) agrees with the float model on {row['top1_agreement']:.0%} of "
                       f"{row['n_checked']} check images, and its probabilities differ by up to "
                       f"{row['max_abs_diff']:.2f}; {samples} the model is unsure about may get another class.")
    out.append(f"Not validated for: {task.not_validated}, or any decision about people, health or safety.")
    return out


def render_markdown(card: dict) -> str:
    """The card as Markdown, for people."""
    data, metrics = card["data"], card["metrics"]
    lines = [f"# Model card: {card['model']['name']} ({card['model']['run_id']})", "",
             f"**Modality.** {_task(card).name}.  ", f"**Intended use.** {card['intended_use']}", "",
             f"**Input.** {card['input']}.  ", f"**Output.** {card['output']}.", "",
             "## Data", "",
             f"- Dataset: `{data['dataset']}`" + (f" from `{data['path']}`" if data["path"] else "")
             + f" (origin: {data['origin']})",
             f"- Classes ({len(card['class_names'])}): {', '.join(card['class_names'])}",
             f"- Split (seed {data['seed']}): "
             + ", ".join(f"{split} {sum(c.values())}" for split, c in sorted((data["counts"] or {}).items())),
             f"- max_per_class: {data['max_per_class']}"]
    lines += [f"- Note: {note}" for note in data["notes"]] + [f"- Warning: {w}" for w in data["warnings"]]
    lines += ["", "## Model", "", _task(card).card_model_line(card)]
    if card.get("tokenizer"):
        tok = card["tokenizer"]
        lines.append(f"- Tokeniser: {tok.get('kind', 'WordPiece')}, vocabulary `{tok['vocabulary']}` (shipped "
                     f"in every export folder), lowercase {tok['lowercase']}")
    if card.get("columns"):
        lines.append(f"- Columns (target `{card.get('target')}`): " + ", ".join(
            f"`{name}` ({spec['kind']}, input `{spec['input']}`)" for name, spec in card["columns"].items()))
    lines += [
              f"- Training: {card['training']['epochs']} head epochs + {card['training']['fine_tune_epochs']} "
              f"fine-tune epochs at lr {card['training']['learning_rate']:g}",
              "", "## Metrics (test split)", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
              for key, value in metrics.items()]
    if card.get("auto"):
        lines += ["", "## How Auto chose this model", ""] + [f"- {choice}" for choice in card["auto"]["choices"]]
        if card["auto"]["auto_id"]:
            lines.append(f"- Auto session: `{card['auto']['auto_id']}`")
    lines += ["", "## Exports", "",
              "Each file was reloaded with its own runtime and compared with the in-memory model on held-out "
              f"test {_task(card).sample_words} (max absolute difference of the probabilities, "
              "top-1 agreement).", "",
              "| format | status | file | size | runtime | max abs diff | top-1 agreement | tolerance | note |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in card["exports"]:
        lines.append(f"| {row['format']} | {row['status']} | {row['file'] or '–'} | {_size(row['size_bytes'])} | "
                     f"{row['runtime']} | {_num(row['max_abs_diff'], '.2e')} | "
                     f"{agreement_text(row['top1_agreement'], row['decided_agreement'], row['n_decided'])} "
                     f"| {row['tolerance']} | {row['reason'].replace('|', '/') or ''} |")
    lines += ["", "## Limits", ""] + [f"- {item}" for item in card["limits"]]
    packages = ", ".join(f"{k} {v}" for k, v in card["environment"]["packages"].items() if v)
    lines += ["", "## Environment", "", f"- Python {card['environment']['python']} on "
              f"{card['environment']['platform']}", f"- Exported with: {packages}"]
    return "\n".join(lines) + "\n"


def _num(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _size(n: Optional[int]) -> str:
    if n is None:
        return "–"
    return f"{n / 2**20:.2f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def write_model_card(record, out_dir: Path, results: Sequence, data_info: Optional[dict] = None,
                     inputs: Optional[dict] = None, published: Sequence = ()) -> tuple[Path, Path]:
    """Write ``model_card.md`` and ``.json`` into ``out_dir`` (atomically) for ``results`` plus the formats
    ``published`` there earlier (``verify.published_results(out_dir)``); returns both paths."""
    latest = {r.format: r for r in published}
    latest.update({r.format: r for r in results})  # this call's outcome wins, failures included
    ordered = [latest[name] for name in _format_order() if name in latest]
    card = build_model_card(record, ordered, data_info, inputs)
    md, js = Path(out_dir) / CARD_MD, Path(out_dir) / CARD_JSON
    atomic_write_text(js, json.dumps(card, indent=2, default=str))
    atomic_write_text(md, render_markdown(card))
    return md, js


def _format_order() -> tuple[str, ...]:
    from lepton_widgets.core.export.formats import FORMATS

    return FORMATS
