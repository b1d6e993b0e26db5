"""Small data (issue 12): test metrics on a small test split come with their count, a 95% Wilson interval
and a caution, in the run's metrics, the Evaluate step and the CLI."""

from __future__ import annotations

import numpy as np
import yaml
from conftest import tiny_config

from lepton_widgets.core.evaluation import SMALL_TEST_SET, evaluate_predictions, wilson_interval
from lepton_widgets.panels.evaluate import metrics_html


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
