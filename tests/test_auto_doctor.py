"""The data doctor on real frozen features: MobileNetV2 (offline ImageNet weights) features of Fashion-MNIST.

Labels are flipped on purpose with a fixed seed and must come out near the top of cleanlab's list; the class
weights follow the imbalance of real data written as an image folder; the learning curve predicts more with
more examples; the report survives JSON; a tiny class gets a warning in words.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lepton_widgets.config import RunConfig
from lepton_widgets.core.auto.data_need import DataNeed, estimate_data_need
from lepton_widgets.core.auto.doctor import DoctorReport, examine
from lepton_widgets.core.auto.label_issues import find_label_issues
from lepton_widgets.core.base.events import Cancelled, ListSink
from lepton_widgets.core.base.job import Job
from lepton_widgets.core.tasks.registry import task_for_config

SIZE = 64


def _config(**data) -> RunConfig:
    return RunConfig.from_dict({"seed": 0, "data": data,
                                "backbone": {"name": "mobilenet_v2", "weights": "offline", "image_size": SIZE}})


def _prepared_and_features(cfg: RunConfig):
    kit = task_for_config(cfg).auto_kit()
    prepared = kit.prepare(cfg)
    return prepared, kit.features(cfg, prepared)


@pytest.fixture(scope="module")
def fashion():
    """Fashion-MNIST, 30 per class: 300 images, features of the 260 train and val rows."""
    return _prepared_and_features(_config(dataset="fashion_mnist", max_per_class=30))


@pytest.fixture(scope="module")
def uneven(tmp_path_factory, fashion):
    """A folder of real Fashion-MNIST pictures: 30 T-shirts, 30 trousers and only 6 bags."""
    prepared, _ = fashion
    table = prepared.table
    root = tmp_path_factory.mktemp("uneven")
    for name, count in (("T-shirt", 30), ("Trouser", 30), ("Bag", 6)):
        source = {"T-shirt": "T-shirt/top"}.get(name, name)
        rows = table.frame[table.frame["label"] == source].head(count)
        (root / name).mkdir()
        for i, index in enumerate(rows["array_index"]):
            Image.fromarray(table.arrays[index]).save(root / name / f"{i:02d}.png")
    return _prepared_and_features(_config(dataset="folder", path=str(root), max_per_class=None))


def test_injected_mislabels_are_flagged_near_the_top(fashion):
    _, features = fashion
    rng = np.random.default_rng(7)
    train_rows = np.flatnonzero(features.split == "train")
    flipped = rng.choice(train_rows, 10, replace=False)
    labels = features.y.copy()
    labels[flipped] = (labels[flipped] + rng.integers(1, 10, len(flipped))) % 10
    issues = find_label_issues(features.x, labels, seed=0)
    short_list = issues.indices[:2 * len(flipped)].tolist()
    found = [int(i) for i in flipped if i in short_list]
    assert len(found) >= 7, (found, short_list)
    # Each flagged row says what it looks like instead: for a flipped row, mostly its true class.
    first = {int(i): int(s) for i, s in zip(issues.indices, issues.suggested)}
    assert sum(first[i] == features.y[i] for i in found) >= len(found) // 2
    assert all(labels[i] != first[i] for i in first)
    assert issues.pred_probs.shape == (len(labels), 10)


def test_examine_reports_in_words_with_progress_and_json_round_trip(fashion):
    prepared, features = fashion
    sink = ListSink()
    report = examine(prepared, features, seed=0, job=Job(sink=sink))
    assert report.class_weight == "none"
    assert report.counts["Bag"] == {"train": 22, "val": 4, "test": 4}
    progress = [(e.done, e.total) for e in sink.events if getattr(e, "task", "") == "data doctor"]
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)
    # The list names real rows: their ids are the table's sample ids, their given class the table's label.
    by_id = prepared.table.frame.set_index("sha256")["label"]
    assert report.label_issues and all(by_id[item["id"]] == item["given"] for item in report.label_issues)
    assert all(item["given"] != item["suggested"] for item in report.label_issues)
    text = report.sentences()
    assert text[0].startswith("300 examples in 10 classes")
    assert any("about even" in line for line in text)
    assert any("look mislabelled" in line for line in text)
    assert not any("sample" in line.lower() for line in text[:4])  # "examples", not jargon

    stored = json.loads(json.dumps(report.to_dict()))
    again = DoctorReport.from_dict(stored)
    assert again.to_dict() == report.to_dict()
    assert again.sentences() == text
    assert again.data_need.predicted_accuracy(40) == pytest.approx(report.data_need.predicted_accuracy(40))


def test_examine_stops_when_asked(fashion):
    prepared, features = fashion
    job = Job()
    job.stop()
    with pytest.raises(Cancelled):
        examine(prepared, features, job=job)


def test_uneven_classes_get_weights_and_a_tiny_class_a_warning(uneven):
    prepared, features = uneven
    report = examine(prepared, features, seed=0)
    assert report.imbalance_ratio == pytest.approx(5.0)
    assert report.class_weight == "balanced"
    text = " ".join(report.sentences())
    assert "Bag has only 6 examples" in text
    assert "uneven" in text and "more weight" in text
    assert any("set aside to test the finished model" in line for line in report.small_data)


def test_data_need_predicts_more_with_more_examples(fashion):
    _, features = fashion
    need = estimate_data_need(features, seed=0)
    assert need.reason == ""
    assert need.predicted_accuracy(200) > need.predicted_accuracy(20) > need.predicted_accuracy(5)
    # The curve's points are measured: accuracy on held-out rows grows from the smallest subset to the largest.
    assert need.points[-1][1] > need.points[0][1]
    assert set(need.more_needed) <= set(features.class_names) and need.more_needed
    assert all(count >= 0 for count in need.more_needed.values())
    assert DataNeed.from_dict(json.loads(json.dumps(need.to_dict()))).to_dict() == need.to_dict()
    assert any("more examples" in line for line in need.sentences())


def test_too_few_examples_say_so_in_words(fashion):
    _, features = fashion
    keep = np.r_[np.flatnonzero(features.y == 0)[:1], np.flatnonzero(features.y == 1)[:8]]
    issues = find_label_issues(features.x[keep], features.y[keep], class_names=features.class_names)
    assert len(issues) == 0 and "T-shirt/top" in issues.reason and "single example" in issues.reason
    need = estimate_data_need(features.x[keep], features.y[keep], class_names=features.class_names)
    assert "unknown" in need.sentences()[0]
    with pytest.raises(ValueError):
        need.predicted_accuracy(10)
