"""The engine's and the session's messages in Chinese: real data and a real (tiny) training run produce them.

What a person reads in the workbench comes from here: the Runner's status line, the data report (its summary,
the reasons files were skipped, the small-data warnings) and the errors raised for bad input. With
``set_language("zh")`` they must be Chinese, with only data-derived names (class and file names) and kept
names (PNG, JPEG...) in Latin letters; in English they read as before.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config
from PIL import Image
from visible_text import english_words

from lepton_widgets.config import DataConfig
from lepton_widgets.core.base.events import EpochEnded, PhaseStarted, Progress
from lepton_widgets.core.data import prepare_data
from lepton_widgets.core.data.table import STATUS_SKIPPED, DataError, status_label
from lepton_widgets.i18n import set_language
from lepton_widgets.state import Runner, Session

#: Format names kept in every language (the reason lists the formats Lepton reads).
FORMATS = ["BMP", "GIF", "WEBP"]


def _picture_folder(root, counts: dict[str, int], broken: str = ""):
    """One subfolder of distinct random 16x16 PNGs per class; ``broken`` adds a file that is not an image."""
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{i}.png")
    if broken:
        (root / broken).write_bytes(b"this is not a picture at all" * 8)
    return root


def test_small_data_warning_is_chinese_and_keeps_the_class_name():
    set_language("zh")
    prepared = prepare_data(DataConfig(dataset="digits", max_per_class=4, classes=["3", "8"]), seed=1)
    report = prepared.report
    tiny = [w for w in report.warnings if "3" in w and "太小" in w]
    assert tiny, report.warnings
    assert "4" in tiny[0] and "5" in tiny[0], tiny[0]  # 4 usable; add at least min_class_size (5)
    assert english_words(tiny[0], allowed=["3"]) == [], tiny[0]
    summary = report.summary()
    assert "每类" in summary and "可用样本" in summary, summary
    assert english_words(summary) == [], summary


def test_small_data_warning_reads_english_in_english():
    prepared = prepare_data(DataConfig(dataset="digits", max_per_class=4, classes=["3", "8"]), seed=1)
    tiny = [w for w in prepared.report.warnings if w.startswith("class 3 is tiny")]
    assert tiny and "add at least 5 per class so the model can learn it" in tiny[0], prepared.report.warnings
    assert "samples usable in 2 classes" in prepared.report.summary().splitlines()[0]


def test_a_file_that_is_not_a_picture_gets_a_chinese_skip_reason(tmp_path):
    set_language("zh")
    root = _picture_folder(tmp_path / "pets", {"cat": 4, "dog": 4}, broken="cat/broken.png")
    prepared = prepare_data(DataConfig(dataset="folder", path=str(root)), seed=1)
    frame = prepared.report.frame
    row = frame[frame["ref"].astype(str).str.contains("broken")].iloc[0]
    assert row["status"] == STATUS_SKIPPED  # the key stays what code compares against ...
    assert status_label(row["status"]) == "已跳过"  # ... and people read a label
    assert "不是图片" in row["reason"], row["reason"]
    assert english_words(row["reason"], allowed=FORMATS) == [], row["reason"]
    first_line = prepared.report.summary().splitlines()[0]
    assert english_words(first_line) == [] and "1" in first_line, first_line


def test_a_class_too_small_to_split_is_a_chinese_error_naming_it(tmp_path):
    set_language("zh")
    root = _picture_folder(tmp_path / "pets", {"cat": 5, "dog": 2})
    with pytest.raises(DataError) as raised:
        prepare_data(DataConfig(dataset="folder", path=str(root)), seed=1)
    message = str(raised.value)
    assert "“dog”" in message and "至少需要 3 个" in message, message
    assert english_words(message, allowed=["dog"]) == [], message


def test_the_same_bad_folder_reads_english_in_english(tmp_path):
    root = _picture_folder(tmp_path / "pets", {"cat": 4, "dog": 4}, broken="cat/broken.png")
    frame = prepare_data(DataConfig(dataset="folder", path=str(root)), seed=1).report.frame
    reason = frame[frame["ref"].astype(str).str.contains("broken")].iloc[0]["reason"]
    assert reason == "not an image (not JPEG, PNG, BMP, GIF or WEBP data)"


def test_the_status_line_of_a_real_training_run_is_chinese(runs_dir):
    set_language("zh")
    session = Session()
    session.load_config(tiny_config(data={"max_per_class": 10}, train={"epochs": 1, "fine_tune_epochs": 1}))
    messages: list[str] = []
    session.observe(lambda change: messages.append(change["new"]), "message")
    runner = Runner(session, runs_dir=runs_dir)
    runner.train()
    assert runner.wait(timeout=300)
    assert session.status == "finished", (session.last_error, session.last_traceback)
    messages = [m for m in messages if m]
    assert any(m.startswith("第 ") and "轮" in m for m in messages), messages  # "第 1/2 轮（训练新的分类头）"
    assert any("可训练参数" in m for m in messages), messages
    assert session.message.startswith("测试准确率"), session.message
    leftover = {m: english_words(m) for m in messages if english_words(m)}
    assert not leftover, leftover


def test_the_status_line_reads_english_in_english(runs_dir):
    """The same engine events in English (a real run in English is tests/test_state.py's)."""
    session = Session()
    runner = Runner(session, runs_dir=runs_dir)
    session.status = "running"
    runner.on_event(PhaseStarted(phase="head", epochs=2, trainable_params=1290, cached_features=True))
    assert session.message == "training the new head: 2 epochs, 1,290 trainable parameters on cached features"
    runner.on_event(Progress(task="extract features (train)", done=3, total=9))
    assert session.message == "extracting features (train): 3/9"
    runner.on_event(EpochEnded(phase="fine_tune", epoch=2, epochs=3, metrics={"loss": 0.5}))
    assert session.message == "epoch 2/3 (fine-tuning)"
    set_language("zh")
    runner.on_event(Progress(task="extract features (train)", done=3, total=9))
    assert session.message == "提取特征（训练集）：3/9", session.message


def test_auto_doctor_small_data_and_balance_sentences_are_chinese():
    """What the Auto panel shows of the data doctor: a class with too few examples held out, uneven classes."""
    from lepton_widgets.core.auto.doctor import imbalance_decision, small_data_warnings

    set_language("zh")
    counts = {"Trouser": {"train": 20, "val": 5, "test": 5}, "Bag": {"train": 4, "val": 1, "test": 1}}
    found = small_data_warnings(counts)
    bag = [line for line in found if "Bag" in line]
    assert bag and "只有 6 个样本" in bag[0] and "多加一些 Bag 的样本" in bag[0], found
    ratio, weight, why = imbalance_decision({"Trouser": 30, "Bag": 6})
    assert weight == "balanced" and "Trouser" in why and "Bag" in why, why
    for line in found + [why]:
        assert english_words(line, allowed=["Trouser", "Bag"]) == [], line
    set_language("en")
    assert small_data_warnings(counts)[0].startswith("Bag has only 6 examples")
