"""`lepton auto`: its options and usage errors, the model card's "How Auto chose this model", and a real run
that prints its stages and leaderboard, then resumes when started again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import tiny_config

from lepton_widgets.cli import main

OPTIONS = ("--budget", "--goal", "--target", "--exclude-flagged", "--fresh", "--seed")


def lepton(*args, runs_dir, timeout=600):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs_dir), *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as done:
        main(["auto", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for option in OPTIONS:
        assert option in shown, option
    assert "accuracy,small,fast" in shown and "DATA" in shown


@pytest.mark.parametrize("args, message", [
    (["--budget", "ten minutes"], "argument --budget: budget 'ten minutes': write it like 10m, 90s or 1h30m"),
    (["--budget", "10s"], "argument --budget: budget '10s' is 10 s: Auto needs at least 30 seconds"),
    (["--goal", "huge"], "argument --goal: invalid choice: 'huge'"),
    (["--seed", "abc"], "argument --seed: invalid int value"),
])
def test_a_bad_option_is_a_usage_error(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as done:
        main(["--runs-dir", str(tmp_path / "runs"), "auto", "digits", *args])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lepton auto") and message in err, err
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_data_that_cannot_be_read_is_one_plain_line(capsys, tmp_path):
    table = tmp_path / "loans.csv"
    pd.DataFrame({"income": [1, 2, 3], "default": ["yes", "no", "yes"]}).to_csv(table, index=False)
    assert main(["--runs-dir", str(tmp_path / "runs"), "auto", str(table)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lepton: error: loans.csv: which column holds the class") and "--target" in err, err
    assert main(["--runs-dir", str(tmp_path / "runs"), "auto", "digitz"]) == 2
    assert "neither a built-in dataset" in capsys.readouterr().err


@pytest.mark.slow
def test_the_model_card_says_how_auto_chose_the_model(tmp_path):
    from lepton_widgets.core.export.model_card import AUTO_CHOICES_FILE
    from lepton_widgets.core.export.verify import export_run
    from lepton_widgets.core.runs.store import RunStore
    from lepton_widgets.core.tasks import run_experiment

    record = run_experiment(tiny_config(name="card", train={"fine_tune_epochs": 1}), store=RunStore(tmp_path / "r"))
    plain = export_run(record, "keras", tmp_path / "plain")
    assert "How Auto chose" not in plain.card_md.read_text()
    assert "auto" not in json.loads(plain.card_json.read_text())

    choices = ["Data: 500 images in 10 classes; no duplicates.", "Backbone: small CNN: the one candidate.",
               f"Chosen: small CNN ({record.run_id}), 90% on validation."]
    (record.path / AUTO_CHOICES_FILE).write_text(json.dumps({"auto_id": "digits-accuracy-1234abcd",
                                                             "choices": choices}))
    chosen = export_run(record, "keras", tmp_path / "chosen")
    markdown = chosen.card_md.read_text()
    section = markdown.split("## How Auto chose this model\n\n", 1)[1].split("\n\n## ", 1)[0].splitlines()
    assert section == [f"- {c}" for c in choices] + ["- Auto session: `digits-accuracy-1234abcd`"]
    assert json.loads(chosen.card_json.read_text())["auto"] == {"auto_id": "digits-accuracy-1234abcd",
                                                                "choices": choices}
    # The rest of the card is the same card.
    for heading in ("## Data", "## Model", "## Metrics (test split)", "## Exports", "## Limits", "## Environment"):
        assert heading in markdown, heading
    assert markdown.index("## Metrics") < markdown.index("## How Auto chose") < markdown.index("## Exports")


def breast_cancer_csv(path, per_class: int = 60):
    """Real biopsies (scikit-learn's breast cancer table), ``per_class`` of each, class column ``diagnosis``."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns=["target"])
    frame["diagnosis"] = [bunch.target_names[t] for t in bunch.target]
    frame = frame.groupby("diagnosis", group_keys=False).head(per_class)
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_lepton_auto_runs_stops_on_ctrl_c_and_resumes(tmp_path):
    """A real `lepton auto` on a table CSV: Ctrl-C during the first model stops it cleanly (exit 1, and what to
    do next); the same command resumes without the finished stages and ends with the leaderboard (exit 0)."""
    import re
    import signal

    from lepton_widgets.core.auto.stages import STAGE_ORDER, STAGES

    data = breast_cancer_csv(tmp_path / "biopsies.csv")
    runs = tmp_path / "runs"
    command = ["auto", str(data), "--target", "diagnosis", "--budget", "2m", "--goal", "fast"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs), *command],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    n, first_model = len(STAGE_ORDER), STAGES["first"][0]
    seen = []
    for line in child.stdout:
        seen.append(line)
        if re.match(rf"\[\d+/{n}\] {first_model} ", line):  # the first model is training: stop it there
            child.send_signal(signal.SIGINT)
            break
    out, err = child.communicate(timeout=300)
    first = "".join(seen) + out
    assert child.returncode == 1, first + err[-3000:]
    assert f"[1/{n}] {STAGES[STAGE_ORDER[0]][0]}" in first, first
    assert "Stopping: the running stage ends" in err
    assert "Stopped after" in first and "Run the same command again to resume" in first, first
    # What the first call finished (each stage's line, then how it ended) is what the second one skips.
    ended = re.findall(r"^\[\d+/\d+\] (.+?) \(up to .*\n    (\w+) in ", first, flags=re.M)
    finished = [title for title, status in ended if status in ("done", "skipped")]
    assert finished and first_model not in finished, ended

    resumed = lepton(*command, runs_dir=runs)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-3000:]
    text = resumed.stdout
    assert (f"Resuming: {len(finished)} of {n} stages were already done ({', '.join(finished)}); they are not "
            f"run again.") in text, text
    assert not any(f"] {title} (" in text for title in finished), text
    assert f"] {first_model} (" in text and f"[{n}/{n}] {STAGES['export'][0]}" in text, text
    assert "Leaderboard" in text and "<-- chosen" in text and "Model card: " in text, text
    assert "validation ROC AUC" in text  # two classes: Auto compares models by ROC AUC
    card = text.split("Model card: ", 1)[1].splitlines()[0].strip()
    assert "## How Auto chose this model" in open(card, encoding="utf-8").read()
    assert "Auto finished in" in text


def test_ctrl_c_stops_auto_once_and_a_second_ctrl_c_quits(capsys):
    """The CLI's wait for Auto: the first Ctrl-C asks the job to stop and says so, the second gives up waiting,
    and the process's own Ctrl-C handling is back afterwards. Real SIGINTs to this process, from a thread."""
    import signal
    import threading

    from lepton_widgets.commands.auto import _wait_stopping_on_ctrl_c
    from lepton_widgets.core.base.job import Job

    job, ended = Job(), threading.Event()
    before = signal.getsignal(signal.SIGINT)
    seen_stopped = []

    def press_twice():
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.6)  # the loop looks every 0.2 s: it has seen the first one by now
        seen_stopped.append(job.stopped)
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_twice)
    presser.start()
    assert _wait_stopping_on_ctrl_c(ended, job) is True  # never ended: only the second press ends the wait
    presser.join()
    assert seen_stopped == [True] and job.stopped
    assert "Stopping: the running stage ends" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before
    # Auto ending on its own ends the wait without a stop.
    quiet, done = Job(), threading.Event()
    done.set()
    assert _wait_stopping_on_ctrl_c(done, quiet) is False and not quiet.stopped


def test_lw_auto_takes_a_sink_and_a_stop_event_like_the_other_api_calls(tmp_path):
    """``lw.auto`` builds its Job from ``sink=``/``stop_event=`` (never with ``job=`` too); a Stop already asked
    for ends it at once as ``cancelled``, with its events in the sink and nothing trained."""
    import threading

    import lepton_widgets as lw
    from lepton_widgets.core.base.events import ListSink
    from lepton_widgets.core.base.job import Job

    data = breast_cancer_csv(tmp_path / "biopsies.csv", per_class=20)
    with pytest.raises(ValueError, match="not both"):
        lw.auto(str(data), "1m", target="diagnosis", job=Job(), sink=ListSink())
    with pytest.raises(ValueError, match="write it like 10m"):
        lw.auto(str(data), "soon", target="diagnosis", runs_dir=tmp_path / "runs")
    with pytest.raises(ValueError, match="class column 'diagnosys' not found"):
        lw.auto(str(data), "1m", target="diagnosys", runs_dir=tmp_path / "runs")

    sink, stop = ListSink(), threading.Event()
    stop.set()
    result = lw.auto(str(data), "1m", target="diagnosis", runs_dir=tmp_path / "runs", sink=sink, stop_event=stop)
    assert result.status == "cancelled" and not result.best_run_id and result.entries == []
    assert result.stages["doctor"]["status"] == "stopped" and "Stopped by you" in result.stages["doctor"]["summary"]
    kinds = sink.kinds()
    assert kinds[0] == "auto_started" and kinds[-1] == "auto_finished"
    assert kinds.count("auto_stage_started") == 1  # the first stage saw the Stop; no other began
