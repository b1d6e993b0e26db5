"""The Export step says the engine's reasons (a format not offered, not made, failed) in Chinese, while the
engine keeps them in English (they go into the English model card), and English stays exactly as written."""

import re

from lepton_widgets.core.export.formats import ONNX_INSTALL
from lepton_widgets.core.tasks.tabular.export import TABLE_INT8, TABLE_ONNX
from lepton_widgets.core.tasks.text.export import GLOVE_ONNX, GLOVE_TFLITE
from lepton_widgets.i18n import set_language
from lepton_widgets.panels.export.files import reason_text, step_text

REASONS = [
    TABLE_INT8, TABLE_ONNX.format(columns="'sex', 'smoker'"), GLOVE_TFLITE, GLOVE_ONNX,
    f"ONNX export is not available here because tf2onnx, onnx are not installed; install with: {ONNX_INSTALL}",
    f"onnxruntime is not installed, so the ONNX file cannot be run here; {ONNX_INSTALL}",
    "reloaded with TFLite, it is outside the tolerance (max abs diff <= 1e-05, top-1 agreement >= 0.8 overall): "
    "max abs diff 0.3, top-1 agreement 75.0% (90.0% on the 9 decided images); not published",
    "reloaded with TFLite, it is outside the tolerance (max abs diff <= 1e-05): max abs diff 0.3, top-1 "
    "agreement 75.0%; not published",
    "TFLite int8 could not be made here: ValueError: boom",
]


def test_english_reasons_stay_as_the_engine_wrote_them():
    for reason in REASONS + ["a reason nobody knows"]:
        assert reason_text(reason) == reason


def test_chinese_reasons_keep_the_values_and_lose_the_english_sentences():
    set_language("zh")
    for reason in REASONS:
        said = reason_text(reason)
        assert said != reason and re.search(r"[\u4e00-\u9fff]", said), reason
    assert "'sex', 'smoker'" in reason_text(REASONS[1])
    assert "90.0%" in reason_text(REASONS[6]) and "最大差异 <= 1e-05" in reason_text(REASONS[6])
    assert reason_text("a reason nobody knows") == "a reason nobody knows"


def test_the_progress_line_of_a_failed_format_reads_in_chinese():
    class Event:
        step, status, reason = "done", "unavailable", REASONS[5]

    set_language("zh")
    line = step_text(Event())
    assert "没有安装 onnxruntime" in line and "onnxruntime is not installed" not in line
