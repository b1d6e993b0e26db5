"""Few-shot: Lepton Auto with 5 labelled examples per class against a scikit-learn logistic regression on the
same frozen features, on pictures (Fashion-MNIST) and sounds (the spoken keywords).

Each side trains on the same 5 examples per class and is scored on the same held-out test set (40 per class,
given to Auto as ``data.test_path``, so none of the 5 is set aside). The baseline is the one a data scientist
would write: the frozen backbone's pooled features (the very backbone Auto chose, and MobileNetV2 for
reference) and ``LogisticRegression(max_iter=2000)`` with scikit-learn's defaults.

Value: the smaller of Auto's margins over the same-features baseline (pictures, sounds), in points.
Target: >= 0 (Auto at least as good).

Run: python -m benchmarks.few_shot                (about 5 minutes on 2 cores)
     python -m benchmarks.few_shot sounds 3m       (one kind of data, another budget)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import context, report
from lepton_widgets.config import DataConfig
from lepton_widgets.core.auto import run_auto
from lepton_widgets.core.data import prepare_data

SHOTS, TEST_PER_CLASS, SEED = 5, 40, 7
DATASETS = {"pictures": ("fashion_mnist", "folder"), "sounds": ("spoken_keywords", "wav_folder")}
BUDGET = "2m"


def write_split(source: str, kind: str, root: Path) -> DataConfig:
    """``SHOTS`` training and ``TEST_PER_CLASS`` test examples per class of ``source``, as files in class folders."""
    prepared = prepare_data(DataConfig(dataset=source, max_per_class=SHOTS + TEST_PER_CLASS), SEED)
    table = prepared.table
    rng = np.random.default_rng(SEED)
    for label, rows in table.frame.groupby("label"):
        order = rng.permutation(len(rows))
        for position, index in enumerate(order[: SHOTS + TEST_PER_CLASS]):
            row = rows.iloc[index]
            folder = root / ("train" if position < SHOTS else "test") / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            # Sounds keep their WAV files under the dataset's folder (the arrays are spectrograms): copy those.
            source_file = Path(row["path"]) if row["path"] else Path(str(table.source)) / str(row["ref"])
            if source_file.is_file():
                shutil.copy(source_file, folder / source_file.name)
            else:
                Image.fromarray(np.asarray(table.arrays[int(row["array_index"])]).squeeze().astype(np.uint8)).save(
                    folder / f"{row['sha256'][:12]}.png")
    return DataConfig(dataset=kind, path=str(root / "train"), test_path=str(root / "test"), max_per_class=None)


def logistic_accuracy(cfg, data_cfg: DataConfig) -> float:
    """Logistic regression on ``cfg``'s frozen features: fitted on every training example, scored on test."""
    from sklearn.linear_model import LogisticRegression

    from lepton_widgets.core.tasks.image.ranking import candidate_features

    from lepton_widgets.core.data import SampleTable

    prepared = prepare_data(data_cfg, SEED)
    table, frame = prepared.table, prepared.table.frame
    # Every example that is not a test example trains (Auto's tiny-data runs do the same).
    tables = {"train": SampleTable(frame[frame["split"] != "test"].reset_index(drop=True), table.class_names,
                                   table.arrays, table.modality, table.source),
              "test": prepared.split("test")}
    features = candidate_features(cfg.replace(data=data_cfg), tables, len(table.class_names))
    model = LogisticRegression(max_iter=2000).fit(features["train"], tables["train"].label_indices())
    return float((model.predict(features["test"]) == tables["test"].label_indices()).mean())


def one(name: str, root: Path, budget: str) -> dict:
    source, kind = DATASETS[name]
    data_cfg = write_split(source, kind, root / name)
    started = time.perf_counter()
    result = run_auto(data_cfg, budget=budget, seed=SEED, runs_dir=str(root / "runs"), fresh=True)
    seconds = time.perf_counter() - started
    best = result.best_run()
    if best is None:
        raise SystemExit(f"Auto made no model for {name}: {result.message} {result.stages}")
    chosen = best.config
    same = logistic_accuracy(chosen, data_cfg)
    mobilenet = logistic_accuracy(chosen.replace(backbone__name="mobilenet_v2", backbone__weights="offline",
                                                 backbone__image_size=96), data_cfg)
    auto = float(best.metrics["accuracy"])
    row = {"data": name, "auto": auto, "logistic_same_features": same, "logistic_mobilenet_v2": mobilenet,
           "margin_points": 100 * (auto - same), "auto_s": round(seconds, 1), "auto_backbone":
           f"{chosen.backbone.name}:{chosen.backbone.weights}@{chosen.backbone.image_size}",
           "head_fit": chosen.train.head_fit, "evaluated_on": best.metrics.get("evaluated_on")}
    print(row, flush=True)
    return row


def main(argv: list[str]) -> None:
    names = [a for a in argv if a in DATASETS] or list(DATASETS)
    budget = next((a for a in argv if a not in DATASETS), BUDGET)
    with tempfile.TemporaryDirectory() as folder:
        rows = [one(name, Path(folder), budget) for name in names]
    report("few_shot", context(shots=SHOTS, test_per_class=TEST_PER_CLASS, budget=budget), {"rows": rows},
           "min_margin_points", min(r["margin_points"] for r in rows), ">= 0 (Auto at least as good)", "points")


if __name__ == "__main__":
    main(sys.argv[1:])
