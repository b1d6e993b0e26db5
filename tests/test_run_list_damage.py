"""A damaged run folder is listed as damaged with its reason, never breaks the list of the others; run ids
resolve only inside the runs folder, and a folder is a run only when it holds a run record (issue 13, 8-9)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

import lepton_widgets as lw
from lepton_widgets.config import RunConfig
from lepton_widgets.core.predict.exported import available_models
from lepton_widgets.core.runs.store import DamagedRunError, RunStore


def _run(store: RunStore, name: str, accuracy: float = 0.9):
    """A complete run as the store writes it (no training needed to test the listing)."""
    writer = store.create(RunConfig.from_dict({"name": name, "data": {"dataset": "digits"}}))
    writer.write_json("metrics.json", {"accuracy": accuracy})
    writer.write_json("split.json", {"0" * 64: "test"})
    return writer.finalize("finished")


def _lepton(*args, runs_dir, cwd=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-m", "lepton_widgets.cli", "--runs-dir", str(runs_dir), *args],
                         capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
    return out.returncode, out.stdout + out.stderr


#: (file, content, what the listing must say about it)
DAMAGE = [
    ("run.json", "[1, 2, 3]", r"run\.json holds a list"),
    ("metrics.json", "null", r"metrics\.json holds null"),
    ("config.json", '"just a string"', r"config\.json holds a text"),
    ("config.json", '{"name": "cut', r"config\.json is not valid JSON"),
    ("run.json", '{"status": 7}', r"run\.json has no valid status"),
]


@pytest.fixture
def damaged_store(runs_dir):
    store = RunStore(runs_dir)
    good = [_run(store, "good-one", 0.8), _run(store, "good-two", 0.7)]
    damaged = {}
    for i, (name, content, pattern) in enumerate(DAMAGE):
        record = _run(store, f"broken-{i}")
        (record.path / name).write_text(content, encoding="utf-8")
        damaged[record.run_id] = pattern
    return store, good, damaged


def test_damaged_runs_are_listed_with_the_reason_and_the_others_as_usual(damaged_store, runs_dir):
    store, good, damaged = damaged_store
    for frame in (store.frame(), lw.list_runs(runs_dir=runs_dir)):
        assert len(frame) == len(good) + len(damaged)
        rows = frame.set_index("run_id")
        for record, accuracy in zip(good, (0.8, 0.7)):
            assert rows.loc[record.run_id, "status"] == "finished"
            assert rows.loc[record.run_id, "accuracy"] == accuracy
            assert rows.loc[record.run_id, "problem"] != rows.loc[record.run_id, "problem"]  # NaN: no problem
        for run_id, pattern in damaged.items():
            assert rows.loc[run_id, "status"] == "damaged"
            assert re.search(pattern, rows.loc[run_id, "problem"])
    # The pickers (Evaluate, Export, Update, Predict) offer only runs whose records read well.
    usable = {r.run_id for r in store.runs(include_incomplete=False)}
    assert usable == {r.run_id for r in good}
    assert available_models(store) == []  # these runs have no model; listing must not raise either way


def test_cli_runs_lists_every_run_and_says_why_each_damaged_one_is(damaged_store, runs_dir):
    _store, good, damaged = damaged_store
    rc, out = _lepton("runs", runs_dir=runs_dir)
    assert rc == 0, out
    assert "Traceback" not in out and "AttributeError" not in out
    for record in good:
        assert record.run_id in out
    for run_id, pattern in damaged.items():
        assert re.search(rf"damaged run {run_id}: {pattern}", out), out


def test_a_corrupted_config_is_a_damaged_record_not_changed_data(runs_dir):
    store = RunStore(runs_dir)
    record = _run(store, "victim")
    (record.path / "config.json").write_text('{"name": "victim", "data": {"datas', encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(DamagedRunError, match=r"damaged run record: config\.json is not valid JSON") as caught:
        lw.evaluate(record.run_id, runs_dir=runs_dir)
    assert "changed" not in str(caught.value)
    assert time.monotonic() - started < 20  # refused before any data is loaded (imports take seconds)
    with pytest.raises(DamagedRunError, match="damaged run record"):
        record.load_model()


def test_a_folder_without_a_run_record_is_not_a_run(runs_dir, tmp_path):
    store = RunStore(runs_dir)
    _run(store, "only")
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "model.keras").write_bytes(b"not a model")
    for target in (stray, "/etc", str(runs_dir.parent)):
        with pytest.raises(ValueError, match="not a run folder: it holds no run record"):
            lw.open_run(target, runs_dir=runs_dir)
    # An interrupted run's folder, named by path, is refused with that reason.
    partial = runs_dir / "20260101-000000-cut-abc123.partial"
    partial.mkdir()
    (partial / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="never finished"):
        lw.open_run(partial, runs_dir=runs_dir)


@pytest.mark.parametrize("name", ["", " ", "..", ".", "../only", "..%2f", "a/b", "/", "x\0y"])
def test_run_ids_never_escape_the_runs_folder(runs_dir, tmp_path, name):
    store = RunStore(runs_dir)
    _run(store, "only")
    with pytest.raises((FileNotFoundError, ValueError), match=r"not a run (id|folder)|no run matching"):
        store.open(name)


def test_a_run_folder_opens_by_path_even_outside_the_runs_folder(runs_dir, tmp_path):
    """Decided: a path that names a run folder (with run.json) opens wherever it is, e.g. a run copied from
    a colleague; only ids are confined to the runs folder."""
    record = _run(RunStore(runs_dir), "moved")
    copy = tmp_path / "elsewhere" / record.run_id
    shutil.copytree(record.path, copy)
    assert lw.open_run(copy, runs_dir=runs_dir).path == copy
    assert lw.open_run(record.run_id[:20], runs_dir=runs_dir).path == record.path


def test_cli_eval_of_a_plain_folder_says_it_is_not_a_run_without_loading_data(runs_dir):
    _run(RunStore(runs_dir), "only")
    started = time.monotonic()
    rc, out = _lepton("eval", "/etc", runs_dir=runs_dir)
    assert rc == 2 and "/etc is not a run folder" in out, out
    assert "no saved model" not in out and "Traceback" not in out
    assert time.monotonic() - started < 60


def test_cli_eval_of_a_damaged_run_names_the_damaged_file(runs_dir):
    record = _run(RunStore(runs_dir), "victim")
    (record.path / "config.json").write_text("[]", encoding="utf-8")
    rc, out = _lepton("eval", record.run_id, runs_dir=runs_dir)
    assert rc == 2 and "damaged run record: config.json holds a list" in out, out
    assert "changed since" not in out and "Traceback" not in out
    assert json.loads((record.path / "config.json").read_text()) == []  # nothing rewritten


def test_the_runs_step_lists_a_damaged_run_with_its_reason_and_refuses_to_reopen_it(damaged_store):
    from lepton_widgets.panels.runs import RunsPanel
    from lepton_widgets.state.runner import Runner
    from lepton_widgets.state.session import Session

    store, good, damaged = damaged_store
    session = Session()
    panel = RunsPanel(session, Runner(session, runs_dir=store.root))
    assert set(panel.run_ids) == {r.run_id for r in good} | set(damaged)
    assert "run.json holds a list" in panel.table.value and "metrics.json holds null" in panel.table.value
    broken = next(run_id for run_id, pattern in damaged.items() if "config" in pattern)
    panel.select.value = (broken,)  # its curves (none) are drawn without an error
    said = panel.reopen(broken)
    assert said is not None and "damaged run record: config.json" in said
    assert panel.reopen(good[0].run_id) is None and session.current_run == good[0].run_id


def test_predict_and_export_refuse_a_damaged_run_that_still_has_its_model(runs_dir, tmp_path):
    """Its model file is intact, but its class names (run.json) are not: no prediction with wrong labels."""
    import keras

    record = _run(RunStore(runs_dir), "model-kept")
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs))).save(
        record.path / "model.keras")
    (record.path / "run.json").write_text('["class_names", "lost"]', encoding="utf-8")
    picture = tmp_path / "x.png"
    picture.write_bytes(b"\x89PNG")
    with pytest.raises(DamagedRunError, match=r"damaged run record: run\.json holds a list"):
        lw.predict(record.run_id, [str(picture)], runs_dir=runs_dir)
    with pytest.raises(ValueError, match=r"is damaged|damaged run record"):
        lw.export(record.run_id, "keras", runs_dir=runs_dir)
    assert not (record.path / "exports").exists()
