"""The task registry is the one place that says what kind of data a dataset, a stored run or a model holds
(issue 14): real registered datasets, a real picture run, a real GloVe text run and their saved models."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import tiny_config
from lepton_widgets.config import RunConfig
from lepton_widgets.core.data.registry import get_dataset, list_datasets
from lepton_widgets.core.export.inputs import format_support
from lepton_widgets.core.predict.any_modality import open_target, predict_inputs
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.tasks import (all_tasks, run_experiment, task_for_dataset, task_for_model,
                                       task_for_model_file, task_for_run, task_named)
from lepton_widgets.core.tasks.text.glove import GLOVE_BACKBONE

#: A fast GloVe run (tests/test_text_glove.py trains the full one): 40 reviews per class, one epoch.
TINY_GLOVE = {"name": "glove", "seed": 7, "data": {"dataset": "food_reviews", "max_per_class": 40},
              "backbone": {"name": GLOVE_BACKBONE, "sequence_length": 32},
              "train": {"epochs": 1, "batch_size": 16, "early_stopping_patience": 0}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("task-runs"))


@pytest.fixture(scope="module")
def picture_run(store):
    return run_experiment(tiny_config(train={"epochs": 1, "fine_tune_epochs": 0}), store=store)


@pytest.fixture(scope="module")
def glove_run(store):
    return run_experiment(RunConfig.from_dict(TINY_GLOVE), store=store)


def test_every_registered_dataset_maps_to_the_task_its_spec_names():
    names = list_datasets()
    assert len(names) >= 10
    assert {name: task_for_dataset(name).name for name in names} == {name: get_dataset(name).modality
                                                                    for name in names}
    assert {task_for_dataset(name).name for name in names} == {"image", "audio", "text", "tabular"}
    for task in all_tasks():  # the per-kind listing agrees with the registry, and misses none
        assert all(task_for_dataset(name) is task for name in list_datasets(modality=task.name))
    assert sorted(n for t in all_tasks() for n in list_datasets(modality=t.name)) == names


def test_a_stored_picture_run_is_the_picture_task_even_without_a_recorded_modality(picture_run, tmp_path):
    assert picture_run.status == "finished"
    assert task_for_run(picture_run) is task_named("image") is picture_run.task
    assert picture_run.row()["backbone"] == "small_cnn"  # a picture run lists its own backbone
    older = tmp_path / picture_run.path.name  # a run from before run.json named its modality
    shutil.copytree(picture_run.path, older)
    info = json.loads((older / "run.json").read_text(encoding="utf-8"))
    info.pop("modality", None)
    (older / "run.json").write_text(json.dumps(info), encoding="utf-8")
    assert task_for_run(RunRecord(older)).name == "image"
    info["modality"] = "text"  # what the record names wins over its dataset
    (older / "run.json").write_text(json.dumps(info), encoding="utf-8")
    assert task_for_run(RunRecord(older)).name == "text"


def test_the_registry_tells_a_picture_model_from_a_glove_model(picture_run, glove_run):
    assert glove_run.status == "finished" and task_for_run(glove_run).name == "text"
    assert task_for_model(picture_run.load_model()).name == "image"
    assert task_for_model(glove_run.load_model()).name == "text"
    assert task_for_model_file(glove_run.model_path).name == "text"
    assert task_for_model_file(picture_run.model_path).name == "image"
    assert glove_run.row()["backbone"] == GLOVE_BACKBONE


def test_a_glove_run_predicts_and_exports_through_its_task(glove_run):
    model = open_target(glove_run)  # the text task opens the run folder's model with its vocabulary
    assert model.modality == "text" and model.class_names == glove_run.class_names
    rows = predict_inputs(model, ["Lovely fresh tea, I will buy it again.", "Stale, bitter and overpriced."])
    assert len(rows) == 2 and set(rows["label"]) <= set(glove_run.class_names) and rows["error"].isna().all()
    # a GloVe model reads strings with TensorFlow string ops that TFLite and ONNX lack: the task says so
    assert sorted(format_support(glove_run)) == ["onnx", "tflite", "tflite-f16", "tflite-int8"]
    with pytest.raises(ValueError, match="not images"):  # the picture opener refuses it, naming what it takes
        from lepton_widgets.core.predict.exported import open_model

        open_model(glove_run.model_path)


def test_refusals_name_the_data_a_step_works_on_and_the_data_refused():
    assert task_named("image").refusal("gradcam") is None
    assert task_named("tabular").refusal("gradcam") == ("Grad-CAM is available for pictures and sounds; this run "
                                                        "was trained on tables.")
    with pytest.raises(ValueError, match=r"^run 42: Grad-CAM is available for pictures and sounds; this run was "
                                         r"trained on texts\.$"):
        task_named("text").require("gradcam", "run 42")
    with pytest.raises(KeyError, match="unknown step"):
        task_named("text").refusal("juggling")
