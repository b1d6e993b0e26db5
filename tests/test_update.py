"""Incremental update (core/update/incremental.py, `lepton update`, the Update panel): real training on real digits.

One base run (digits 0-4, small CNN at 32 px) is trained once per module; the tests update it with the
other digits (same dataset: the version's config reproduces both splits), with a folder of real
Fashion-MNIST photos (another source), and with bad data. The parent run must stay byte-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config, wait_for
from data_fixtures import corrupt_jpeg_bytes, make_class_folders, tree_digest
from PIL import Image

from lepton_widgets.config import ConfigError, DataConfig, RunConfig
from lepton_widgets.core.data import DataError, prepare_data, split_record
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.runs.store import RunStore

OLD = ["0", "1", "2", "3", "4"]
NEW = ["5", "6", "7", "8", "9"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished run on digits 0-4 (test accuracy 0.95-1.0 with seeds 7, 1, 2) and its files' digest."""
    from lepton_widgets.core.tasks import run_experiment

    store = RunStore(tmp_path_factory.mktemp("update") / "runs")
    cfg = tiny_config(name="digits04", data={"classes": OLD}, train={"fine_tune_epochs": 8})
    record = run_experiment(cfg, store=store)
    assert record.status == "finished" and record.class_names == OLD
    return store, record, tree_digest(record.path)


def _info(record):
    from lepton_widgets.core.update.incremental import update_info

    return update_info(record)


# --- data config: classes ---------------------------------------------------------------------------


def test_classes_filter_keeps_rows_and_splits_of_the_kept_classes():
    every = prepare_data(DataConfig(dataset="digits", max_per_class=30), seed=3)
    some = prepare_data(DataConfig(dataset="digits", max_per_class=30, classes=["7", "2"]), seed=3)
    assert some.class_names == ["7", "2"]  # the order asked for
    assert set(some.table.frame["label"]) == {"7", "2"} and len(some.table) == 60
    full = split_record(every.table)
    assert all(full[sha] == split for sha, split in split_record(some.table).items())
    assert some.report.class_counts == {"7": 30, "2": 30}
    assert "keeping 2 of 10 classes" in some.report.summary()
    assert some.split("test").label_indices().tolist().count(0) == len(some.split("test")) // 2


def test_classes_are_validated_with_clear_messages():
    assert RunConfig.from_dict({"data": {"classes": [5, 6]}}).data.classes == ["5", "6"]
    with pytest.raises(ConfigError, match="non-empty list"):
        RunConfig.from_dict({"data": {"classes": []}})
    with pytest.raises(ConfigError, match="twice"):
        RunConfig.from_dict({"data": {"classes": ["a", "b", "a"]}})
    with pytest.raises(DataError, match=r"'cat' not found.*available classes: '0', '1'"):
        prepare_data(DataConfig(dataset="digits", classes=["cat", "1"]), seed=0)


def test_session_trait_mirrors_data_classes():
    from lepton_widgets.state.session import Session

    session = Session(dataset="digits")
    assert session.data_classes is None and session.to_config().data.classes is None
    session.data_classes = ["3", "4"]
    assert session.to_config().data.classes == ["3", "4"]
    session.load_config(session.to_config().replace(data__classes=None))
    assert session.data_classes is None


# --- the engine --------------------------------------------------------------------------------------


def test_expanded_classifier_keeps_the_old_predictions(base):
    from lepton_widgets.core.data import make_dataset
    from lepton_widgets.core.update.incremental import expand_classifier

    _store, record, _digest = base
    parent = record.load_model()
    images, _ = next(iter(make_dataset(prepare_data(record.config.data, 7).split("test"), 32, 16)))
    before = parent.predict(images, verbose=0)
    wider = expand_classifier(parent, 8, seed=7)
    after = wider.predict(images, verbose=0)
    assert after.shape == (16, 8)
    # Old logits are unchanged, so the old classes keep their relative probabilities.
    np.testing.assert_allclose(after[:, :5] / after[:, :5].sum(axis=1, keepdims=True), before, atol=1e-5)
    kernel = wider.get_layer("classifier").get_weights()[0]
    np.testing.assert_array_equal(kernel[:, :5], parent.get_layer("classifier").get_weights()[0])
    assert np.abs(kernel[:, 5:]).sum() > 0  # the new units are initialised, not zero
    assert wider.get_layer("backbone") is parent.get_layer("backbone")  # the network is kept, not rebuilt


def test_replay_buffer_is_seeded_and_class_stratified():
    from lepton_widgets.core.update.replay import replay_sample

    train = prepare_data(DataConfig(dataset="digits", max_per_class=30, classes=OLD), seed=7).split("train")
    first, again = replay_sample(train, 40, seed=7), replay_sample(train, 40, seed=7)
    assert first.frame["ref"].tolist() == again.frame["ref"].tolist()
    assert first.frame["label"].value_counts().to_dict() == {name: 8 for name in OLD}
    assert replay_sample(train, 40, seed=8).frame["ref"].tolist() != first.frame["ref"].tolist()
    assert len(replay_sample(train, 10_000, seed=7)) == len(train)
    assert len(replay_sample(train, 0, seed=7)) == 0


@pytest.mark.slow
def test_cli_update_with_replay_forgets_less_than_without(base, capsys):
    """Measured with this base and update (seeds 7, 1, 2; replay 100, 4 epochs): forgetting 0.20 / 0.05 /
    0.03 with replay against 1.00 / 0.95 / 1.00 without; new-data accuracy 0.88-1.00. With replay 50 it
    was 0.12 / 0.40 / 0.10, hence 100 here."""
    from lepton_widgets import api
    from lepton_widgets.cli import main

    store, record, digest = base
    code = main(["--runs-dir", str(store.root), "update", record.run_id, "digits", "--classes", ",".join(NEW),
                 "--replay", "100", "--epochs", "4", "--compare"])
    out = capsys.readouterr().out
    print(out)
    assert code == 0, out
    version = store.open(out.split("run ", 1)[1].split()[0])
    info = _info(version)
    with_replay, without = info["meter"], info["compare"]["meter"]
    print("meter with replay:", with_replay, "\nwithout:", without)
    assert with_replay["old_before"] == without["old_before"] >= 0.9
    assert without["forgetting"] >= 0.5  # without replay the old classes are largely forgotten...
    assert with_replay["forgetting"] <= without["forgetting"] - 0.3  # ...replay keeps most of them
    assert with_replay["new_after"] >= 0.7 and without["new_after"] >= 0.7  # chance is 0.1
    assert "forgetting meter:" in out and "without replay" in out and "replay reduced forgetting" in out

    # The new version: a normal, complete run whose config reproduces old + new data.
    assert info["version"] == 2 and info["parent"] == record.run_id and info["replay"]["used"] == 100
    assert info["replay"]["per_class"] == {name: 20 for name in OLD}
    assert version.class_names == OLD + NEW and info["classes"]["added"] == NEW
    assert info["config_reproduces_data"] and version.config.data.classes == OLD + NEW
    assert version.evaluation["n"] == with_replay["old_n"] + with_replay["new_n"] == 80
    assert version.load_model().output_shape == (None, 10)
    assert abs(api.evaluate(version).accuracy - version.metrics["accuracy"]) < 1e-9  # `lepton eval` agrees
    baseline = store.open(info["compare"]["run_id"])
    assert _info(baseline)["replay"]["used"] == 0 and _info(baseline)["version"] == 2
    assert tree_digest(record.path) == digest  # the parent is never modified


def _fashion_folder(root, per_class=20):
    """Real Fashion-MNIST photos (the committed sample) as PNG files, one folder per class."""
    prepared = prepare_data(DataConfig(dataset="fashion_mnist_sample", max_per_class=per_class,
                                       classes=["Bag", "Sandal"]), seed=0)
    arrays = prepared.table.arrays
    for i, row in prepared.table.frame.iterrows():
        folder = root / row["label"]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arrays[row["array_index"]]).save(folder / f"{i:03d}.png")
    return root


@pytest.mark.slow
def test_update_from_a_folder_of_another_source_chains_versions(base, tmp_path):
    from lepton_widgets import api
    from lepton_widgets.core.update.incremental import update_run

    store, record, digest = base
    v2 = update_run(record, "digits", classes=["5", "6"], replay=60, epochs=2, store=store)
    folder = _fashion_folder(tmp_path / "new", per_class=40)
    folder_digest = tree_digest(folder)
    v3 = api.update(v2.run_id, str(folder), replay=60, epochs=3, runs_dir=store.root)
    info = _info(v3)
    assert v3.status == "finished"
    assert (_info(v2)["version"], info["version"]) == (2, 3)
    assert info["parent"] == v2.run_id and info["root"] == record.run_id
    assert v3.class_names == OLD + ["5", "6", "Bag", "Sandal"]
    assert not info["config_reproduces_data"]  # digits arrays + photo files: the config keeps the old data
    assert v3.config.data == v2.config.data and info["new_data"]["dataset"] == "folder"
    # Measured (seeds 7, 1, 2): 0.83 / 0.67 / 0.67 on the 12 new test photos; chance among 9 classes is 0.11.
    assert info["meter"]["new_after"] >= 0.5
    assert v3.evaluation["n"] == info["meter"]["old_n"] + info["meter"]["new_n"]
    # `lepton eval` scores the config's (old) data in the version's 9-class index space.
    old_eval = api.evaluate(v3)
    assert old_eval.class_names == v3.class_names and old_eval.n == info["meter"]["old_n"]
    assert abs(old_eval.accuracy - info["meter"]["old_after"]) < 1e-9
    predicted = api.predict(v3, [next((folder / "Bag").iterdir())])
    assert predicted.loc[0, "label"] in v3.class_names and predicted.loc[0, "error"] is None
    assert tree_digest(folder) == folder_digest and tree_digest(record.path) == digest


def test_bad_new_data_gives_clear_messages(base, tmp_path):
    from lepton_widgets.cli import main
    from lepton_widgets.core.update.incremental import plan_update, update_run

    store, record, digest = base
    runs_before = sorted(p.name for p in store.root.iterdir())
    with pytest.raises(ValueError, match="adds nothing.*classes \\(1, 2\\) are all known"):
        update_run(record, "digits", classes=["1", "2"], store=store)
    with pytest.raises(ConfigError, match="not a built-in dataset.*no such file or folder"):
        update_run(record, str(tmp_path / "missing"), store=store)

    folder = make_class_folders(tmp_path / "bad", {"cats": 6, "dogs": 6})
    (folder / "cats" / "broken.jpg").write_bytes(corrupt_jpeg_bytes(1))
    (folder / "empty").mkdir()
    folder_digest = tree_digest(folder)
    plan = plan_update(record, str(folder), store=store)
    warnings = " ".join(plan.warnings)
    assert "cats/broken.jpg" in warnings and "1 file(s) not used" in warnings
    assert "class empty has no usable images" in warnings
    assert plan.added == ["cats", "dogs"]

    (folder / "tiny").mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / "tiny" / f"{i}.png")
    with pytest.raises(DataError, match="'tiny' has 2"):
        plan_update(record, str(folder), store=store)

    code = main(["--runs-dir", str(store.root), "update", record.run_id, "digits", "--classes", "0,3"])
    assert code == 2

    import keras  # a finished run whose model is not a transfer model (say, a fused one) cannot be widened

    odd_store = RunStore(tmp_path / "odd-runs")
    writer = odd_store.create(record.config)
    writer.save_model(keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                                        keras.layers.Dense(5, activation="softmax", name="out")]))
    odd = writer.finalize("finished", class_names=OLD)
    with pytest.raises(ValueError, match="no backbone, head_dropout, classifier layer.*cannot be widened"):
        plan_update(odd, "digits", classes=NEW, store=odd_store)
    assert sorted(p.name for p in store.root.iterdir()) == runs_before  # bad data leaves no run behind
    assert tree_digest(record.path) == digest  # inputs are only read
    assert tree_digest(folder) == {**folder_digest, **{f"tiny/{i}.png": tree_digest(folder)[f"tiny/{i}.png"]
                                                       for i in range(2)}}


def test_stopped_update_leaves_no_finished_version(base):
    import threading

    from lepton_widgets.core.update.incremental import parent_version, update_info, update_run

    store, record, _digest = base
    stop = threading.Event()
    kinds = []

    def sink(event):
        kinds.append(event.kind)
        if event.kind == "phase_started":
            stop.set()  # Stop pressed as training begins: the first batch end raises Cancelled

    result = update_run(record, "digits", classes=["9"], replay=20, epochs=3, store=store,
                        job=Job(sink=sink, stop_event=stop))
    assert result.status == "cancelled" and "run_cancelled" in kinds
    assert not result.model_path.exists() and not (result.path / "update.json").exists()
    assert "epoch_ended" not in kinds
    assert update_info(result) == {} and update_info(record) == {} and parent_version(record) == 1


@pytest.mark.slow
def test_update_respects_the_frozen_depth_and_keeps_pretrained_batchnorm(tmp_path):
    """MobileNetV2 with offline ImageNet weights, its last 2 of 19 blocks trainable: the update may change
    those blocks and the head, never a frozen block or a BatchNorm statistic."""
    import keras

    from lepton_widgets.core.tasks import run_experiment
    from lepton_widgets.core.tasks.image.model import attach
    from lepton_widgets.core.update.incremental import update_run

    store = RunStore(tmp_path / "runs")
    cfg = RunConfig.from_dict({
        "name": "mnv2", "seed": 3, "data": {"dataset": "digits", "max_per_class": 20, "classes": ["0", "1", "2"]},
        "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": 32, "frozen_depth": 17},
        "train": {"epochs": 1, "fine_tune_epochs": 0, "batch_size": 16, "early_stopping_patience": 0}})
    parent = run_experiment(cfg, store=store)
    version = update_run(parent, "digits", classes=["3", "4"], replay=15, epochs=2, learning_rate=1e-2,
                         store=store)
    assert version.status == "finished" and version.class_names == ["0", "1", "2", "3", "4"]
    before, after = attach(parent.load_model(), cfg), attach(version.load_model(), cfg)
    assert after.frozen_depth == 17

    def weights(tm, name):
        return tm.backbone.get_layer(name).get_weights()

    changed = []
    for index, (block, names) in enumerate(before.blocks.items()):
        for name in names:
            same = all(np.array_equal(a, b) for a, b in zip(weights(before, name), weights(after, name)))
            if isinstance(before.backbone.get_layer(name), keras.layers.BatchNormalization) or index < 17:
                assert same, f"{name} ({block}) changed although it is frozen"
            elif not same:
                changed.append(name)
    assert changed, "no trainable block changed: the update did not train the unfrozen blocks"


# --- the panel ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_panel_update_button_makes_a_version_and_draws_the_meter(base):
    from lepton_widgets.panels.update import UpdatePanel
    from lepton_widgets.state import Runner, Session

    store, record, digest = base
    session = Session()
    panel = UpdatePanel(session, Runner(session, runs_dir=store.root))
    panel.run_choice.value = record.run_id
    panel.data_choice.value = "digits"
    assert panel.classes.value == ",".join(NEW)  # pre-filled: the classes the run does not know yet
    assert panel.path.layout.display == "none"
    panel.classes.value = "7,8"
    panel.replay.value = 40
    panel.epochs.value = 2
    panel.compare.value = True
    panel.check_button.click()  # Update waits until the new data has been checked and shown
    assert panel.wait(60) and not panel.update_button.disabled, panel.error.value
    panel.update_button.click()
    assert panel.runner.wait(timeout=600)
    assert session.status == "finished", session.last_error
    version = store.open(panel.version_id)
    assert session.current_run == version.run_id and version.class_names == OLD + ["7", "8"]
    assert version.run_id in panel.result.value and "Version 2" in panel.result.value
    fig = panel.meter
    assert panel.meter_box.children == (fig,)
    assert [trace.name for trace in fig.data] == ["replay 40", "no replay"]
    meter = _info(version)["meter"]
    assert list(fig.data[0].y) == [meter["old_before"], meter["old_after"], meter["new_after"]]
    assert list(fig.data[0].x) == ["old data: before", "old data: after", "new data: after"]
    assert version.run_id in [value for _label, value in panel.run_choice.options]  # the list refreshed
    assert panel.run_choice.value == record.run_id and panel.classes.value == "7,8"  # ...keeping the choices
    assert tree_digest(record.path) == digest

    # Stop: press it once the update trains; the run is kept as cancelled, with no model.
    panel.run_choice.value = record.run_id
    panel.classes.value = "9"
    panel.compare.value = False
    panel.epochs.value = 50
    panel.check_button.click()
    assert panel.wait(60) and not panel.update_button.disabled, panel.error.value
    panel.update_button.click()
    assert wait_for(lambda: session.status == "running", timeout=300)
    assert not panel.stop_button.disabled
    panel.stop_button.click()
    assert panel.runner.wait(timeout=300)
    assert session.status == "cancelled" and "no new version" in session.message
    assert not store.open(session.current_run).model_path.exists()
    assert panel.meter is fig  # the last version's meter stays


def test_panel_says_what_is_wrong_before_starting(base, tmp_path):
    from lepton_widgets.panels.update import UpdatePanel
    from lepton_widgets.state import Runner, Session

    store, record, _digest = base
    session = Session()
    panel = UpdatePanel(session, Runner(session, runs_dir=store.root))
    panel.run_choice.value = record.run_id
    panel.data_choice.value = "path"
    assert panel.path.layout.display is None
    panel.path.value = str(tmp_path / "nowhere")
    panel.check_button.click()
    assert panel.wait(60) and panel.update_button.disabled
    assert "cannot check" in panel.error.value and "no such file or folder" in panel.error.value
    assert not panel.runner.busy and session.status == "idle"

    empty = UpdatePanel(Session(), Runner(Session(), runs_dir=tmp_path / "no-runs"))
    assert empty.update_button.disabled and "train one first" in empty.hint.value



def test_update_button_waits_until_the_new_data_is_checked(base, tmp_path):
    """The Update button stays disabled until the chosen run and new data were checked and shown; any
    change to the choice disables it again, so an update never trains on data the person did not see."""
    from lepton_widgets.panels.update import PATH_CHOICE, UpdatePanel
    from lepton_widgets.state import Runner, Session

    store, record, _digest = base
    session = Session()
    panel = UpdatePanel(session, Runner(session, runs_dir=store.root))
    panel.run_choice.value = record.run_id
    panel.data_choice.value = "digits"
    assert panel.run_choice.label.startswith(f"digits04 · {record.run_id}")  # the run's name first
    assert panel.update_button.disabled and not panel.check_button.disabled
    panel.check_button.click()
    assert panel.wait(60)
    shown = panel.checked.value
    assert "5, 6, 7, 8, 9" in shown and "adds 5 classes" in shown, shown
    assert not panel.update_button.disabled
    panel.classes.value = "7"  # another choice: checked again before it can be used
    assert panel.update_button.disabled and panel.checked.value == ""
    panel.update_button.click()  # a click that reaches the kernel anyway starts nothing
    assert not panel.runner.busy and "check the new data first" in panel.error.value.lower()
    panel.check_button.click()
    assert panel.wait(60) and not panel.update_button.disabled and "adds 1 class" in panel.checked.value

    panel.data_choice.value = PATH_CHOICE
    panel.path.value = str(tmp_path / "nowhere")
    assert panel.update_button.disabled
    panel.check_button.click()
    assert panel.wait(60)
    assert "no such file or folder" in panel.error.value and panel.update_button.disabled
    assert not panel.runner.busy and session.status == "idle"
