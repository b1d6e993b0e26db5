"""TFLite int8 vs TFLite float32: file size, accuracy on the whole test split, and per-image latency.

Model: MobileNetV2 with the offline ImageNet weights, head trained on cached features (8 epochs, no
fine-tuning), Fashion-MNIST 100 per class at 96 px (the Debian files, or the committed real sample when
they are not installed; the context line says which). Both files come from
:func:`lepton_widgets.core.export.verify.export_run`, so each already passed its parity check on 64 held-out
images; here both run over the *whole* test split in the TFLite interpreter (baseline: the float32
file). Latency: one image per ``invoke``, A (float32) and B (int8) alternated, 3 repeats over the
test images. The BENCH line is the size ratio int8 / float32 (target <= 0.35); the accuracy change
(int8 minus float32, in points) is in the line above it.

Run: python -m benchmarks.tflite_int8
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from benchmarks.common import alternate, context, report, summarize
from lepton_widgets.api import train
from lepton_widgets.core.data import make_dataset, prepare_data
from lepton_widgets.core.export.verify import export_run
from lepton_widgets.core.export.formats import TFLitePredictor

SIZE, PER_CLASS, EPOCHS = 96, 100, 8
CONFIG = {"name": "tflite-int8-bench", "data": {"dataset": "fashion_mnist", "max_per_class": PER_CLASS},
          "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE},
          "train": {"epochs": EPOCHS, "fine_tune_epochs": 0, "early_stopping_patience": 0}}


def per_image_seconds(predictor: TFLitePredictor, images: np.ndarray) -> float:
    """Mean seconds per image, one image per invoke (the on-device case)."""
    predictor.predict(images[:1])  # allocate for batch 1 outside the timing
    start = time.perf_counter()
    for image in images:
        predictor.predict(image[np.newaxis])
    return (time.perf_counter() - start) / len(images)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lepton-bench-int8-") as runs:
        record = train(CONFIG, runs_dir=runs)
        exports = export_run(record, ["tflite", "tflite-int8"])
        f32, int8 = exports.result("tflite"), exports.result("tflite-int8")
        if not (f32.passed and int8.passed):
            raise SystemExit(f"export did not pass: {[(r.format, r.status, r.reason) for r in (f32, int8)]}")

        cfg = record.config
        prepared = prepare_data(cfg.data, cfg.seed)
        test = prepared.split("test")
        images = np.concatenate([np.asarray(b) for b in make_dataset(test, SIZE, 64, with_labels=False)])
        labels = test.label_indices()
        a, b = TFLitePredictor(f32.path), TFLitePredictor(int8.path)
        probs_a, probs_b = a.predict(images), b.predict(images)
        acc_a = float((probs_a.argmax(1) == labels).mean())
        acc_b = float((probs_b.argmax(1) == labels).mean())
        latency_a, latency_b = alternate(lambda: per_image_seconds(a, images), lambda: per_image_seconds(b, images),
                                         repeats=3)
        size_ratio = int8.size_bytes / f32.size_bytes
        report("tflite_int8",
               context(image_size=SIZE, dataset="fashion_mnist", data_source=prepared.report.notes[:1],
                       per_class=PER_CLASS, test_samples=len(test), backbone="mobilenet_v2/offline",
                       head_epochs=EPOCHS),
               {"float32_bytes": f32.size_bytes, "int8_bytes": int8.size_bytes, "size_ratio": size_ratio,
                "float32_test_accuracy": acc_a, "int8_test_accuracy": acc_b,
                "accuracy_change_points": 100 * (acc_b - acc_a),
                "keras_test_accuracy": record.metrics.get("accuracy"),
                "top1_agreement": float((probs_a.argmax(1) == probs_b.argmax(1)).mean()),
                "max_abs_diff": float(np.abs(probs_a - probs_b).max()),
                "float32_ms_per_image": {k: v * 1e3 if k != "n" else v for k, v in summarize(latency_a).items()},
                "int8_ms_per_image": {k: v * 1e3 if k != "n" else v for k, v in summarize(latency_b).items()},
                "parity_on_export": {r.format: {k: v for k, v in r.to_dict().items() if k != "meta"}
                                     for r in (f32, int8)}},
               metric="tflite_int8_size_ratio_vs_float32", value=size_ratio, target="<= 0.35", unit="ratio")


if __name__ == "__main__":
    main()
