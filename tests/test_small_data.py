"""Small data (issue 12): test metrics on a small test split come with their count, a 95% Wilson interval
and a caution, in the run's metrics, the Evaluate step and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import tiny_config

from lepton_widgets.api import evaluate
from lepton_widgets.core.base.events import ListSink

from lepton_widgets.core.evaluation import SMALL_TEST_SET, evaluate_predictions, wilson_interval
from lepton_widgets.panels.evaluate.charts import metrics_html


def _perfect(n: int, classes: int = 3):
    y = np.arange(n) % classes
    return evaluate_predictions(y, np.eye(classes)[y] * 0.9 + 0.1 / classes, [f"c{i}" for i in range(classes)])


def test_wilson_interval_matches_the_formula_and_stays_in_bounds():
    # 9 of 9 right ("Test accuracy 1.000 on 9 test images"): the data allow anything from 0.70 up.
    low, high = wilson_interval(9, 9)
    assert round(low, 4) == 0.7008 and high == 1.0
    low, high = wilson_interval(50, 100)
    assert round(low, 4) == 0.4038 and round(high, 4) == 0.5962
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_a_small_test_split_carries_a_caution_with_its_count_and_interval():
    small = _perfect(9).summary()
    assert small["accuracy"] == 1.0 and small["n"] == 9
    assert "Only 9 test items" in small["caution"] and "0.701 to 1.000" in small["caution"]
    assert round(small["accuracy_low95"], 3) == 0.701 and small["accuracy_high95"] == 1.0
    large = _perfect(SMALL_TEST_SET).summary()
    assert "caution" not in large and large["accuracy_low95"] > 0.96


def test_the_evaluate_step_shows_the_caution_and_interval():
    shown = metrics_html(_perfect(9).to_dict())
    assert "Only 9 test items" in shown and "0.701" in shown and "95% interval" in shown
    # A run stored before the caution existed (no 'caution' key) gets it from its count.
    old = {k: v for k, v in _perfect(9).to_dict().items() if k not in ("caution", "accuracy_low95", "accuracy_high95")}
    assert "Only 9 test items" in metrics_html(old)
    assert "Only" not in metrics_html(_perfect(SMALL_TEST_SET).to_dict())


def test_cli_train_and_eval_print_the_small_test_caution(tmp_path, capsys):
    from lepton_widgets.cli import main

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(data={"max_per_class": 20},
                                                 train={"fine_tune_epochs": 1}).to_dict()))
    runs = tmp_path / "runs"
    assert main(["--runs-dir", str(runs), "train", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Only 30 test items" in out and "95% Wilson interval" in out, out
    run_id = next(p.name for p in runs.iterdir() if p.is_dir())
    assert main(["--runs-dir", str(runs), "eval", run_id]) == 0
    assert "Only 30 test items" in capsys.readouterr().out


# --- Tiny datasets: a user-given test folder, and cross-validation -------------------------------------------

import json  # noqa: E402

from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from lepton_widgets.config import RunConfig  # noqa: E402
from lepton_widgets.core.data import prepare_data  # noqa: E402
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks import run_experiment  # noqa: E402
from lepton_widgets.core.runs.store import RunStore  # noqa: E402


def digit_folders(root, per_class: int, classes=(0, 1, 7), skip: int = 0):
    """Real handwritten digits (scikit-learn), one class folder each, as 32 px PNGs."""
    digits = load_digits()
    for digit in classes:
        folder = root / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        rows = np.flatnonzero(digits.target == digit)[skip:skip + per_class]
        for row in rows:
            pixels = (digits.images[row] * (255 / 16)).astype(np.uint8)
            Image.fromarray(pixels).resize((32, 32), Image.NEAREST).convert("RGB").save(folder / f"{row}.png")
    return root


def folder_config(path, **data) -> RunConfig:
    return tiny_config(data={"dataset": "folder", "path": str(path), "max_per_class": None, **data},
                       train={"epochs": 10, "fine_tune_epochs": 0, "batch_size": 4})


def test_a_user_test_folder_means_nothing_is_held_out_of_the_training_data(tmp_path):
    train, test = digit_folders(tmp_path / "train", 5), digit_folders(tmp_path / "test", 4, skip=20)
    before = prepare_data(folder_config(train).data, seed=7)
    # Today's split of 5 per class: 3 train, 1 val, 1 test.
    assert before.table.frame.groupby("split").size().to_dict() == {"test": 3, "train": 9, "val": 3}
    given = prepare_data(folder_config(train, test_path=str(test)).data, seed=7)
    sizes = given.table.frame.groupby("split").size().to_dict()
    assert sizes == {"train": 12, "val": 3, "test": 12}, sizes   # 5 per class trains or validates; 4 per class test
    test_refs = given.split("test").frame["path"].tolist()
    assert all(str(test) in p for p in test_refs)
    assert "nothing held out" in given.report.summary()


@pytest.mark.slow
def test_tiny_data_is_cross_validated_and_the_stored_model_trains_on_all_of_it(tmp_path):
    train = digit_folders(tmp_path / "train", 6)
    sink = ListSink()
    # Pretrained features, head only: what a user with 6 pictures per class should do.
    cfg = tiny_config(data={"dataset": "folder", "path": str(train), "max_per_class": None},
                      backbone={"name": "mobilenet_v2", "weights": "offline", "image_size": 32, "frozen_depth": None},
                      train={"epochs": 10, "fine_tune_epochs": 0, "batch_size": 4, "learning_rate": 1e-2})
    record = run_experiment(cfg, Job(sink=sink), store=RunStore(tmp_path / "runs"))
    assert record.status == "finished"
    metrics = record.metrics
    print("cross-validation", metrics)
    assert metrics["cv_folds"] == 5 and len(metrics["cv_fold_accuracies"]) == 5
    assert metrics["cv_accuracy_mean"] == pytest.approx(np.mean(metrics["cv_fold_accuracies"]))
    assert metrics["cv_accuracy_mean"] >= 0.8, metrics      # three digits: chance is 0.33. Measured: 1.0 +- 0.0
    assert metrics["n"] == 18                                        # every sample predicted once, held out
    assert set(record.split.values()) == {"train"} and len(record.split) == 18   # stored model: all of it
    assert len(record.history) == 10                                 # the stored model's epochs only
    assert "caution" in metrics and "Only 18" in metrics["caution"]
    assert any("cross-validation" in e.message for e in sink.of_kind("run_warning"))
    assert [e.done for e in sink.of_kind("progress") if e.task == "cross-validation"] == [0, 1, 2, 3, 4, 5]
    shown = metrics_html(record.evaluation)
    assert "5-fold cross-validation accuracy" in shown and "Only 18 test items" in shown
    with pytest.raises(ValueError, match="cross-validated"):   # no test split to re-score, said in words
        evaluate(record)
    assert evaluate(record, split="train").n == 18
    predictions = record.predictions
    assert len(predictions) == 18 and set(predictions["true"].astype(str)) == {"0", "1", "7"}


def test_cross_validation_with_a_test_folder_scores_the_stored_model_on_it(tmp_path, capsys):
    train, test = digit_folders(tmp_path / "train", 5), digit_folders(tmp_path / "test", 4, skip=20)
    record = run_experiment(folder_config(train, test_path=str(test)), store=RunStore(tmp_path / "runs"))
    metrics = record.metrics
    print("test folder", metrics)
    assert metrics["cv_folds"] == 5 and metrics["evaluated_on"] == "test_path" and metrics["n"] == 12
    split = record.split
    assert sorted(split.values()).count("train") == 15 and sorted(split.values()).count("test") == 12
    assert RunConfig.from_dict(json.loads(json.dumps(record.config.to_dict()))).data.test_path == str(test)
    again = evaluate(record)                                    # lepton eval re-scores the test folder
    assert again.n == 12 and again.accuracy == pytest.approx(metrics["accuracy"])


def test_cross_validation_can_be_turned_off():
    cfg = RunConfig.from_dict({"data": {"dataset": "digits", "cv_below": 0}})
    assert cfg.data.cv_below == 0
    from lepton_widgets.core.data.split import cross_validation_folds

    assert cross_validation_folds({"a": 5, "b": 5}, cfg.data.cv_below, cfg.data.cv_folds) == 0
    assert cross_validation_folds({"a": 5, "b": 5}, 10, 5) == 5


def test_cli_takes_a_test_folder_with_set(tmp_path, capsys):
    from lepton_widgets.cli import main

    train, test = digit_folders(tmp_path / "train", 5), digit_folders(tmp_path / "test", 4, skip=20)
    config = tmp_path / "folder.yaml"
    config.write_text(yaml.safe_dump(folder_config(train).to_dict()))
    runs = tmp_path / "runs"
    assert main(["--runs-dir", str(runs), "train", str(config), "--set", f"data.test_path={test}",
                 "--set", "data.cv_below=0"]) == 0
    out = capsys.readouterr().out
    assert "n: 12" in out and "Only 12 test items" in out, out       # 4 per class from the test folder
    record = RunStore(runs).runs()[0]
    assert record.config.data.test_path == str(test)
    assert sorted(record.split.values()).count("test") == 12 and "cv_folds" not in record.metrics
