"""`lepton train / runs / eval / predict` end to end in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import yaml
from conftest import tiny_config
from PIL import Image
from sklearn.datasets import load_digits


def lepton(*args, runs_dir, check=True):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs_dir), *args],
                         capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out


def test_train_runs_eval_predict(tmp_path, runs_dir):
    config = tmp_path / "digits.yaml"
    config.write_text(yaml.safe_dump(tiny_config(name="cli").to_dict()))
    trained = lepton("train", str(config), "--set", "train.fine_tune_epochs=4", "--name", "cli digits 1",
                     runs_dir=runs_dir)
    assert "finished" in trained.stdout and "accuracy" in trained.stdout and "cli digits 1" in trained.stdout
    assert "epoch 5/5 [fine_tune]" in trained.stderr

    listed = lepton("runs", runs_dir=runs_dir)
    run_id = next(p.name for p in runs_dir.iterdir())
    row = next(line for line in listed.stdout.splitlines() if run_id in line)
    assert "cli digits 1" in row and "finished" in row, listed.stdout
    assert listed.stdout.splitlines()[0].split()[:2] == ["name", "run_id"]

    evaluated = lepton("eval", run_id, runs_dir=runs_dir)
    assert "accuracy:" in evaluated.stdout and "precision" in evaluated.stdout

    # The robustness score: accuracy under attack at each epsilon; the clean one is the test accuracy.
    attacked = lepton("eval", run_id, "--attack", "fgsm", "--epsilons", "0,0.05,0.2", runs_dir=runs_dir)
    scores = {float(line.split()[1]): float(line.split()[-1]) for line in attacked.stdout.splitlines()
              if line.strip().startswith("epsilon ")}
    clean = float(next(line for line in evaluated.stdout.splitlines() if line.startswith("accuracy:")).split()[1])
    assert set(scores) == {0.0, 0.05, 0.2} and abs(scores[0.0] - clean) < 1e-6, attacked.stdout
    assert scores[0.2] < scores[0.0], attacked.stdout

    digits = load_digits()
    good = tmp_path / "zero.png"
    Image.fromarray((digits.images[0] * 255 / 16).astype(np.uint8)).save(good)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    predicted = lepton("predict", run_id, str(good), str(broken), runs_dir=runs_dir, check=False)
    assert predicted.returncode == 1  # one file could not be read: said, not hidden
    lines = predicted.stdout.splitlines()
    assert any("zero.png" in line and line.split()[1] in [str(d) for d in range(10)] for line in lines)
    assert any("broken.png" in line and "image" in line.lower() for line in lines), predicted.stdout


def test_bad_config_gives_a_clear_error_not_a_traceback(tmp_path, runs_dir):
    config = tmp_path / "bad.yaml"
    config.write_text("train:\n  epoch: 3\n")
    out = lepton("train", str(config), runs_dir=runs_dir, check=False)
    assert out.returncode == 2
    assert "unknown field train.epoch" in out.stderr and "Traceback" not in out.stderr

    config.write_text(yaml.safe_dump(tiny_config().to_dict()))
    out = lepton("train", str(config), "--name", "../../etc/passwd", runs_dir=runs_dir, check=False)
    assert out.returncode == 2 and "a run name may hold letters" in out.stderr and "Traceback" not in out.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # refused before anything was trained
