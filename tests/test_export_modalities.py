"""Verified export of text and table runs: each published file reloads with its own plain runtime and
predicts what the run predicts on inputs the run never saw; formats that cannot hold the model are
reported ``unavailable`` with the reason and leave no folder.

Four tiny real runs share one store (trained once for the module): a GloVe text run (food_reviews, 40 per
class, 2 epochs), a MiniLM text run (20 per class, 16 word pieces, 1 epoch), a numeric table
(breast_cancer, 3 epochs) and a table with categorical columns (german_credit, 60 per class, 2 epochs).
Expected answers come from the runs' own engines (``predict_texts``, ``predict_frame``), never from the
export code; reloading uses Keras, ``tf.saved_model``, ``tf.lite.Interpreter`` and onnxruntime directly.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lepton_widgets.config import RunConfig
from lepton_widgets.core.export.verify import export_run
from lepton_widgets.core.export.formats import FORMATS
from lepton_widgets.core.runs.store import RunStore

#: Texts written for this test: not in food_reviews, so not in any split.
NEW_TEXTS = ["These cookies are stale and taste of cardboard.", "Absolutely delicious tea, I will buy it again!",
             "The coffee arrived late but it is rich and smooth.", "Zyxqv blorf!"]  # last: no known word


def tree_hashes(root: Path, skip: str = "exports") -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != skip}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> RunStore:
    return RunStore(tmp_path_factory.mktemp("export-modality-runs"))


def _train(store: RunStore, raw: dict):
    from lepton_widgets.core.tasks import run_experiment

    record = run_experiment(RunConfig.from_dict({"seed": 3, **raw}), store=store)
    assert record.status == "finished", record.status
    return record


@pytest.fixture(scope="module")
def glove(store):
    return _train(store, {"name": "glove", "data": {"dataset": "food_reviews", "max_per_class": 40},
                          "backbone": {"name": "glove_6b_50d", "sequence_length": 32},
                          "train": {"epochs": 2, "fine_tune_epochs": 0, "learning_rate": 1e-2}})


@pytest.fixture(scope="module")
def cancer(store):
    return _train(store, {"name": "cancer", "data": {"dataset": "breast_cancer", "max_per_class": None},
                          "train": {"epochs": 3, "batch_size": 32, "learning_rate": 3e-3}})


@pytest.fixture(scope="module")
def credit(store):
    return _train(store, {"name": "credit", "data": {"dataset": "german_credit", "max_per_class": 60},
                          "train": {"epochs": 2, "batch_size": 32}})


@pytest.fixture(scope="module")
def minilm(store):
    return _train(store, {"name": "minilm", "data": {"dataset": "food_reviews", "max_per_class": 20},
                          "backbone": {"sequence_length": 16},
                          "train": {"epochs": 1, "fine_tune_epochs": 0}})


def run_probabilities(frame: pd.DataFrame, class_names) -> np.ndarray:
    return frame[[f"p({name})" for name in class_names]].to_numpy(np.float32)


def new_cancer_rows(record) -> pd.DataFrame:
    """Rows nobody measured: each column's mean shifted by a seeded fraction of its spread, one value missing."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    rng = np.random.default_rng(11)
    rows = pd.DataFrame(frame.mean().to_numpy() + rng.normal(0, 1.5, (6, frame.shape[1])) * frame.std().to_numpy(),
                        columns=frame.columns)
    rows.iloc[0, 3] = np.nan  # a missing value: the model imputes it, every format must agree
    return rows


# --- text: GloVe ------------------------------------------------------------------------------------


def test_glove_run_exports_keras_and_savedmodel_and_says_why_not_tflite_or_onnx(glove):
    import keras
    import tensorflow as tf

    from lepton_widgets.core.tasks.text.data import prepare_texts
    from lepton_widgets.core.tasks.text.predict import predict_texts

    before = tree_hashes(glove.path)
    report = export_run(glove, "all")
    by_format = {r.format: r for r in report.results}
    assert [r.format for r in report.results] == list(FORMATS)
    assert by_format["keras"].passed and by_format["savedmodel"].passed, report.frame()
    n_test = len(prepare_texts(glove.config.data, glove.config.seed).split("test")[1])
    for name in ("keras", "savedmodel"):
        result = by_format[name]
        assert result.max_abs_diff <= 1e-5 and result.top1_agreement == 1.0
        assert result.n_checked == n_test > 0  # the whole test split (fewer than 64 texts)
    for name in ("tflite", "tflite-f16", "tflite-int8", "onnx"):
        result = by_format[name]
        assert result.status == "unavailable" and result.path is None, (name, result.status, result.reason)
        assert "TextVectorization" in result.reason and "StaticRegexReplace" in result.reason
        assert not (report.out_dir / name).exists()
    assert "TFLite's built-in op set lacks" in by_format["tflite"].reason
    assert "tf2onnx" in by_format["onnx"].reason
    assert not [p for p in report.out_dir.iterdir() if p.name.startswith(".")], "temp folders left"
    assert tree_hashes(glove.path) == before, "exporting changed the run's own files"

    meta = json.loads((report.out_dir / "keras" / "export.json").read_text())["meta"]
    assert meta["modality"] == "text" and meta["sequence_length"] == 32 and "image_size" not in meta
    assert meta["input"].startswith("raw UTF-8 strings") and meta["class_names"] == glove.class_names

    # Fresh reloads with the plain runtimes, on texts from outside the data set.
    expected = run_probabilities(predict_texts(glove, NEW_TEXTS), glove.class_names)
    reloaded = keras.saving.load_model(by_format["keras"].path, safe_mode=True)
    saved = tf.saved_model.load(by_format["savedmodel"].path)
    strings = tf.constant(NEW_TEXTS)
    np.testing.assert_allclose(reloaded.predict(strings, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(saved.serve(strings).numpy(), expected, atol=1e-5)
    signature = saved.signatures["serving_default"]
    assert signature.structured_input_signature[1]["text"].dtype == tf.string

    card = json.loads(report.card_json.read_text())
    assert card["modality"] == "text" and card["input"] == meta["input"] and card["image_size"] is None
    assert card["backbone"]["encoder"] == "glove_6b_50d" and card["backbone"]["sequence_length"] == 32
    assert card["intended_use"].startswith("Classify texts")
    limits = " ".join(card["limits"])
    assert "texts are cut to 32 words" in limits and "px" not in limits and "other languages" in limits
    markdown = report.card_md.read_text()
    assert "**Modality.** text." in markdown and "| onnx | unavailable |" in markdown

    # The Predict app lists the run's own model for texts (with its tokenizer or vocabulary), not the exports.
    from lepton_widgets.core.predict.exported import available_models

    listed = [c for c in available_models(RunStore(glove.path.parent)) if c.run_id == glove.run_id]
    assert [(c.format, c.modality) for c in listed] == [("keras", "text")]
    assert listed[0].path == str(glove.model_path)


# --- text: MiniLM -----------------------------------------------------------------------------------


def test_minilm_export_carries_its_tokenizer_and_works_without_the_run(minilm, tmp_path):
    import keras
    import keras_hub

    from lepton_widgets.core.tasks.text.encoder import tokenize
    from lepton_widgets.core.tasks.text.predict import predict_texts

    report = export_run(minilm, "keras", out=tmp_path / "dist")
    [result] = report.results
    assert result.passed and result.max_abs_diff <= 1e-5, (result.status, result.reason)
    folder = tmp_path / "dist" / "keras"
    meta = json.loads((folder / "export.json").read_text())["meta"]
    assert meta["sequence_length"] == 16 and meta["tokenizer"]["vocabulary"] == "tokenizer/vocabulary.txt"
    vocabulary = folder / meta["tokenizer"]["vocabulary"]
    assert vocabulary.read_bytes() == (minilm.path / "tokenizer" / "vocabulary.txt").read_bytes()
    assert "token_ids" in meta["input"] and "(N, 16)" in meta["input"]

    # Only the export folder: its tokeniser, its length, its model.
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(vocabulary), lowercase=meta["tokenizer"]["lowercase"],
                                               strip_accents=meta["tokenizer"]["strip_accents"])
    inputs, _ = tokenize(tokenizer, NEW_TEXTS, meta["sequence_length"])
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    expected = run_probabilities(predict_texts(minilm, NEW_TEXTS), minilm.class_names)
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected, atol=1e-5)
    card = json.loads(report.card_json.read_text())
    assert card["tokenizer"]["vocabulary"] == "tokenizer/vocabulary.txt" and card["modality"] == "text"
    assert "word pieces" in " ".join(card["limits"])


# --- tables -----------------------------------------------------------------------------------------


def test_numeric_table_exports_in_every_float_format_and_each_reloads_with_its_runtime(cancer):
    import keras
    import onnxruntime
    import tensorflow as tf

    from lepton_widgets.core.tasks.tabular.predict import load_tabular_run, predict_frame

    report = export_run(cancer, "all", n_check=32)
    failed = {r.format: (r.status, r.reason) for r in report.results if not r.passed}
    assert list(failed) == ["tflite-int8"] and failed["tflite-int8"][0] == "unavailable", failed
    assert "missing number (NaN)" in failed["tflite-int8"][1] and not (report.out_dir / "tflite-int8").exists()
    by_format = {r.format: r for r in report.results}
    for name in ("keras", "savedmodel", "tflite", "onnx"):
        # 32 test rows + 8 of them again with one value blanked (the imputation is checked too)
        assert by_format[name].max_abs_diff <= 1e-4 and by_format[name].n_checked == 40, by_format[name]

    rows = new_cancer_rows(cancer)
    expected = run_probabilities(predict_frame(cancer, rows), cancer.class_names)
    _, schema = load_tabular_run(cancer)
    columns = schema.model_inputs(rows)  # the documented input: one (N, 1) float32 column per feature
    meta = json.loads(Path(by_format["onnx"].path).with_name("export.json").read_text())["meta"]
    assert meta["modality"] == "tabular" and meta["target"] == "diagnosis" and meta["missing_value_probes"] == 8
    assert {spec["input"] for spec in meta["columns"].values()} == set(columns)

    outputs = {"keras": keras.saving.load_model(by_format["keras"].path, safe_mode=True).predict(
        {k: tf.constant(v) for k, v in columns.items()}, verbose=0)}
    saved = tf.saved_model.load(by_format["savedmodel"].path)
    outputs["savedmodel"] = saved.serve({k: tf.constant(v) for k, v in columns.items()}).numpy()
    session = onnxruntime.InferenceSession(by_format["onnx"].path, providers=["CPUExecutionProvider"])
    outputs["onnx"] = session.run(None, {node.name: columns[node.name] for node in session.get_inputs()})[0]
    for name in ("tflite", "tflite-f16"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated": TF 2.21 still ships it
            runner = tf.lite.Interpreter(model_path=by_format[name].path).get_signature_runner()
        outputs[name] = next(iter(runner(**columns).values()))
    assert np.isnan(rows.iloc[0, 3])
    for name, probabilities in outputs.items():
        np.testing.assert_allclose(probabilities, expected, atol=2e-2 if name == "tflite-f16" else 1e-4, err_msg=name)
        assert (probabilities.argmax(1) == expected.argmax(1)).all(), name
    card = json.loads(report.card_json.read_text())
    assert card["modality"] == "tabular" and len(card["columns"]) == 30 and card["intended_use"].startswith(
        "Classify rows")


def test_categorical_table_goes_to_tflite_with_strings_and_onnx_is_unavailable(credit, tmp_path):
    import tensorflow as tf

    from lepton_widgets.core.tasks.tabular.data import prepare_table
    from lepton_widgets.core.tasks.tabular.predict import load_tabular_run, predict_frame

    report = export_run(credit, "tflite,onnx", out=tmp_path / "credit")
    tflite, onnx = report.results
    assert tflite.passed and tflite.max_abs_diff <= 1e-4, (tflite.status, tflite.reason)
    assert onnx.status == "unavailable" and "StringLookup" in onnx.reason and "'purpose'" in onnx.reason
    assert not (tmp_path / "credit" / "onnx").exists()

    # Rows the model never saw: test rows with one category it has no slot for and one accented value.
    _, rows = prepare_table(credit.config.data, credit.config.seed).split("test")
    rows = rows.head(5).copy()
    rows.loc[0, "purpose"] = "a purpose nobody wrote down"
    rows.loc[1, "job"] = "ingénieure"
    expected = run_probabilities(predict_frame(credit, rows), credit.class_names)
    _, schema = load_tabular_run(credit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner = tf.lite.Interpreter(model_path=tflite.path).get_signature_runner()
    feed = {name: (np.char.encode(values.astype(str), "utf-8") if values.dtype.kind == "U" else values)
            for name, values in schema.model_inputs(rows).items()}
    np.testing.assert_allclose(next(iter(runner(**feed).values())), expected, atol=1e-4)


# --- the command line and the Export panel ----------------------------------------------------------


def test_cli_exports_a_table_and_fails_on_a_format_a_text_model_cannot_take(cancer, glove, tmp_path, capsys):
    from lepton_widgets.cli import main

    runs = str(cancer.path.parent)
    code = main(["--runs-dir", runs, "export", cancer.run_id, "--format", "keras", "--out",
                 str(tmp_path / "cli"), "--check-images", "8"])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    lines = {line.split()[0]: line for line in printed.out.splitlines() if line.split()}
    assert "pass" in lines["keras"] and "onnx" not in lines
    assert (tmp_path / "cli" / "keras" / "model.keras").exists()
    assert f"model card: {tmp_path / 'cli' / 'model_card.md'}" in printed.out

    code = main(["--runs-dir", runs, "export", glove.run_id, "--format", "onnx", "--out", str(tmp_path / "g")])
    printed = capsys.readouterr().out
    assert code == 1 and "unavailable" in printed and "TextVectorization" in printed
    assert not (tmp_path / "g" / "onnx").exists()


def test_export_panel_offers_only_the_formats_a_run_can_take(glove, cancer, tmp_path):
    from lepton_widgets.panels.export import ExportPanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    runner = Runner(session, runs_dir=glove.path.parent)
    panel = ExportPanel(session, runner)
    panel.run.value = cancer.run_id  # numeric table: everything but int8 offered
    assert list(panel.not_offered) == ["tflite-int8"] and "TFLite int8" in panel.formats_note.value
    assert [name for name, box in panel.formats.items() if box.disabled] == ["tflite-int8"]
    panel.run.value = glove.run_id
    assert set(panel.not_offered) == {"tflite", "tflite-f16", "tflite-int8", "onnx"}
    for name in panel.not_offered:
        assert panel.formats[name].disabled and not panel.formats[name].value
        assert "TextVectorization" in panel.formats[name].tooltip
    assert "Not offered for this text run" in panel.formats_note.value and "tf2onnx" in panel.formats_note.value
    assert panel.chosen_formats() == ["keras", "savedmodel"]
    panel.formats["savedmodel"].value = False
    panel.out.value = str(tmp_path / "panel")
    panel.export_button.click()
    assert runner.wait(300) and session.status == "finished", session.last_error
    assert [(r.format, r.status) for r in panel.results] == [("keras", "passed")]
    assert str(tmp_path / "panel" / "keras" / "model.keras") in panel.table.value
    assert "1 of 1 formats exported" in panel.message.value and "**Modality.** text." in panel.card.value

    panel.run.value = cancer.run_id  # back to a run that takes them: offered (and ticked) again
    assert not panel.formats["onnx"].disabled and panel.formats["onnx"].value
    assert "TextVectorization" not in panel.formats_note.value and "missing number" in panel.formats_note.value
