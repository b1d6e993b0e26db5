"""The Predict panel for sounds, texts and tables, with real widgets on real tiny runs.

Three runs share one store (trained once for the module): a table (breast_cancer, a few epochs), a text
run (MiniLM on 40 food reviews per class, 32 word pieces, no fine-tuning) and a sound run (small_cnn on the
synthetic spoken keywords at 32 px). Expected answers come from the public engines (``predict_texts``,
``predict_frame``, and the run's own model on the run's own spectrograms through ``predict_table``), never
from the code under test. Uploads use the FileUpload value format of tests/test_predict_app.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_config

from lepton_widgets.config import RunConfig
from lepton_widgets.core.runs.store import RunStore

TEXTS = ["These cookies are stale and taste of cardboard.", "Absolutely delicious tea, I will buy it again!",
         "The coffee arrived late but it is rich and smooth."]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``{"tabular": record, "text": record, "audio": record}`` in one run store."""
    from lepton_widgets.core.tasks import run_experiment
    from lepton_widgets.core.tasks.tabular.run import run_tabular_experiment
    from lepton_widgets.core.tasks.text.run import run_text_experiment

    store = RunStore(tmp_path_factory.mktemp("modality-runs"))
    table = run_tabular_experiment(RunConfig.from_dict(
        {"name": "cancer", "seed": 0, "data": {"dataset": "breast_cancer", "max_per_class": None},
         "train": {"epochs": 3, "batch_size": 32, "learning_rate": 3e-3, "early_stopping_patience": 0}}), store=store)
    text = run_text_experiment(RunConfig.from_dict(
        {"name": "reviews", "seed": 0, "data": {"dataset": "food_reviews", "max_per_class": 40},
         "backbone": {"frozen_depth": 6},
         "train": {"epochs": 2, "fine_tune_epochs": 0, "batch_size": 32, "learning_rate": 1e-2,
                   "early_stopping_patience": 0}}), store=store, sequence_length=32)
    sound = run_experiment(tiny_config(name="keywords", data={"dataset": "spoken_keywords", "max_per_class": 10},
                                       train={"epochs": 1, "fine_tune_epochs": 2}), store=store)
    assert [r.status for r in (table, text, sound)] == ["finished"] * 3
    return {"tabular": table, "text": text, "audio": sound}


def upload_entry(path: Path, kind: str) -> dict:
    """One file as ipywidgets 8's FileUpload gives it to Python."""
    data = path.read_bytes()
    return {"name": path.name, "type": kind, "size": len(data), "content": memoryview(data),
            "last_modified": dt.datetime.now(dt.timezone.utc)}


def make_panel(runs_dir):
    from lepton_widgets.panels.predict import PredictPanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    runner = Runner(session, runs_dir=runs_dir)
    return PredictPanel(session, runner), session, runner


def choose(panel, record) -> None:
    panel.run.value = record.run_id  # one entry per run; its own model is the first (best) file
    assert panel.model.value == str(record.model_path), panel.model.options


def test_each_model_says_what_it_takes_and_the_panel_offers_that(runs):
    from lepton_widgets.core.predict.exported import open_model
    from lepton_widgets.core.tasks import task_for_model_file

    store_dir = runs["text"].path.parent
    panel, session, runner = make_panel(store_dir)
    labels = dict((value, label) for label, value in panel.run.options)
    assert labels[runs["text"].run_id].endswith("· texts")
    assert labels[runs["tabular"].run_id].endswith("· tables (.csv)")
    assert labels[runs["audio"].run_id].endswith("· sounds (.wav)")
    assert labels[runs["text"].run_id].startswith(f"reviews · {runs['text'].run_id}")  # the run's name first
    assert {m: task_for_model_file(r.model_path).name for m, r in runs.items()} == {m: m for m in runs}

    choose(panel, runs["text"])
    assert panel.modality == "text" and panel.text_box.layout.display is None
    assert panel.upload.layout.display == "none" and "one text per line" in panel.hint.value
    choose(panel, runs["tabular"])
    assert panel.text_box.layout.display == "none" and panel.upload.layout.display is None
    assert ".csv" in panel.upload.accept and not panel.upload.multiple and "CSV" in panel.hint.value
    choose(panel, runs["audio"])
    assert ".wav" in panel.upload.accept and panel.upload.multiple and panel.upload.description == "Upload sounds"

    with pytest.raises(ValueError, match="trained on texts, not images"):  # not fed images by mistake
        open_model(runs["text"].model_path)


def test_texts_one_per_line_get_the_engines_answers(runs):
    from lepton_widgets.core.tasks.text.predict import predict_texts

    record = runs["text"]
    panel, session, runner = make_panel(record.path.parent)
    choose(panel, record)

    panel.texts.value = "  \n\n   \n"
    panel.predict_button.click()
    assert "Type at least one text" in panel.message.value
    assert session.status == "idle" and panel.texts.value == "  \n\n   \n"  # no job, nothing cleared

    typed = "\n".join(["", TEXTS[0], "   ", f"  {TEXTS[1]}  ", TEXTS[2], ""])
    panel.texts.value = typed
    panel.predict_button.click()
    assert runner.wait(120) and session.status == "finished", session.last_error
    assert panel.texts.value == typed

    expected = predict_texts(record, TEXTS)  # a fresh load of the run's model and tokeniser
    assert [p.text for p in panel.predictions] == TEXTS
    for prediction, (_, row) in zip(panel.predictions, expected.iterrows()):
        assert prediction.label == row["label"]
        assert prediction.confidence == pytest.approx(row["confidence"], abs=1e-5)
        assert dict(prediction.top) == pytest.approx({c: row[f"p({c})"] for c in record.class_names}, abs=1e-5)
    rows = panel.results.children[0].children
    assert len(rows) == 3 and all("lepton-predict-text-row" in r._dom_classes for r in rows)
    assert html.escape(TEXTS[1]) in rows[1].children[0].value
    bars = rows[0].children[1].value
    assert bars.count("lepton-predict-bar") == 2 and f"{expected['confidence'][0]:.1%}" in bars
    assert "3 texts predicted" in panel.message.value


def test_a_csv_is_predicted_row_by_row_and_saved_in_the_run_folder(runs, tmp_path):
    from sklearn.datasets import load_breast_cancer

    from lepton_widgets.core.tasks.tabular.predict import predict_frame

    record = runs["tabular"]
    rows = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).iloc[::40].reset_index(drop=True)
    user_csv = tmp_path / "patients.csv"
    rows.to_csv(user_csv, index=False)
    before = sha(user_csv)

    panel, session, runner = make_panel(record.path.parent)
    choose(panel, record)
    panel.upload.value = (upload_entry(user_csv, "text/csv"),)
    assert panel.upload.value == ()
    assert runner.wait(120) and session.status == "finished", session.last_error

    expected = predict_frame(record, user_csv)  # the engine, from the user's file, with a fresh model
    result = panel.table_result
    assert result.frame["label"].tolist() == expected["label"].tolist() and len(expected) == len(rows) == 15
    np.testing.assert_allclose(result.frame["confidence"], expected["confidence"], atol=1e-6)
    # The full predictions are a new file in the run folder, never beside the user's file.
    assert result.saved.parent == record.path / "predicted" and sorted(tmp_path.iterdir()) == [user_csv]
    saved = pd.read_csv(result.saved)
    assert saved["row"].tolist() == list(range(1, 16)) and saved["label"].tolist() == expected["label"].tolist()
    np.testing.assert_allclose(saved["p(benign)"], expected["p(benign)"], atol=1e-6)
    np.testing.assert_allclose(saved["mean radius"], rows["mean radius"])  # the user's columns come along
    preview, saved_line = panel.results.children[0].children
    assert preview.value.count("</tr>") == 1 + 10  # header + the first 10 rows
    assert f"{expected['confidence'][0]:.3f}" in preview.value and "first 10 of 15 rows" in preview.value
    assert html.escape(str(result.saved)) in saved_line.value and "download=" in saved_line.value
    assert "15 rows of <code>patients.csv</code> predicted" in panel.message.value

    # A CSV without a column the model needs: the message names it; nothing new is saved.
    missing = tmp_path / "no-radius.csv"
    rows.drop(columns=["mean radius"]).to_csv(missing, index=False)
    panel.upload.value = (upload_entry(missing, "text/csv"),)
    assert runner.wait(120) and session.status == "failed"
    assert "lacks 1 column" in panel.message.value and "&#x27;mean radius&#x27;" in panel.message.value
    assert "DataError" not in panel.message.value
    assert list((record.path / "predicted").iterdir()) == [result.saved]
    assert sha(user_csv) == before


def test_wav_uploads_get_the_runs_own_answers_and_bad_files_a_reason(runs, tmp_path):
    from lepton_widgets.core.data import prepare_data
    from lepton_widgets.core.data.audio import source_wav
    from lepton_widgets.core.evaluation import predict_table

    record = runs["audio"]
    prepared = prepare_data(record.config.data, record.config.seed)
    test = prepared.split("test")
    picked = test.frame.iloc[:4]
    wavs = [source_wav(prepared.table, ref) for ref in picked["ref"]]
    hashes = [sha(p) for p in wavs]
    # The run's own model on the run's own spectrograms of those clips, through the evaluation engine.
    subset = type(test)(picked.reset_index(drop=True), test.class_names, test.arrays, test.modality, test.source)
    expected = predict_table(record.load_model(), subset, record.config.backbone.image_size)
    assert np.ptp(expected.max(axis=1)) > 1e-4  # the clips get different answers: the comparison can fail

    fake = tmp_path / "notes.wav"
    fake.write_bytes(b"these are my notes, not a sound")
    panel, session, runner = make_panel(record.path.parent)
    choose(panel, record)
    panel.upload.value = tuple(upload_entry(p, "audio/wav") for p in [*wavs, fake])
    assert runner.wait(120) and session.status == "finished", session.last_error

    predictions = panel.predictions
    assert [p.name for p in predictions] == [p.name for p in wavs] + ["notes.wav"]
    for prediction, probabilities in zip(predictions, expected):
        order = np.argsort(probabilities)[::-1][:3]
        assert [name for name, _ in prediction.top] == [record.class_names[i] for i in order]
        np.testing.assert_allclose([c for _, c in prediction.top], probabilities[order], atol=1e-5)
        assert prediction.spectrogram.shape == (64, 98) and prediction.image.shape == (32, 32, 3)
    assert predictions[-1].error == "not a WAV file (no RIFF/WAVE header)" and predictions[-1].top == []

    cards = panel.results.children
    assert len(cards) == 5 and all("lepton-predict-item" in c._dom_classes for c in cards)
    first = cards[0].children
    pictures = first[1].children
    assert "lepton-spectrogram" in pictures[0]._dom_classes and pictures[0].value[:4] == b"\x89PNG"
    players = [c for c in first if type(c).__name__ == "Audio"]
    assert len(players) == 1 and players[0].value == wavs[0].read_bytes() and players[0].format == "wav"
    assert first[-1].value.count("lepton-predict-bar") == 3
    assert "Not predicted: not a WAV file" in cards[-1].children[-1].value
    assert "4 of 5 sounds predicted" in panel.message.value
    assert [sha(p) for p in wavs] == hashes  # the dataset's own files were only read

    # the API answers the same for WAV files (a sound run is not asked to read them as images)
    from lepton_widgets import api

    frame = api.predict(record, [*wavs, fake])
    assert frame["label"].tolist()[:4] == [record.class_names[i] for i in expected.argmax(axis=1)]
    np.testing.assert_allclose(frame["confidence"].tolist()[:4], expected.max(axis=1), atol=1e-5)
    assert frame["error"].tolist()[-1] == "not a WAV file (no RIFF/WAVE header)"


def test_lw_predict_and_lepton_predict_take_texts_and_tables(runs, tmp_path, capsys):
    """``lepton predict`` says it takes texts and tables, so it does: the engines' answers, one row each."""
    from sklearn.datasets import load_breast_cancer

    import lepton_widgets as lw
    from lepton_widgets.cli import main
    from lepton_widgets.core.tasks.tabular.predict import predict_frame
    from lepton_widgets.core.tasks.text.predict import predict_texts

    text_run, table_run = runs["text"], runs["tabular"]
    expected = predict_texts(text_run, TEXTS)
    typed = lw.predict(text_run, TEXTS)
    assert typed["label"].tolist() == expected["label"].tolist() and typed["error"].isna().all()
    np.testing.assert_allclose(typed["confidence"], expected["confidence"], atol=1e-5)
    lines = tmp_path / "reviews.txt"
    lines.write_text("\n".join([TEXTS[0], "", TEXTS[2]]) + "\n", encoding="utf-8")
    from_file = lw.predict(text_run.run_id, [lines], runs_dir=text_run.path.parent)
    assert from_file["file"].tolist() == [f"{lines}:1", f"{lines}:2"]
    assert from_file["label"].tolist() == [expected["label"][0], expected["label"][2]]

    rows = load_breast_cancer(as_frame=True).frame.drop(columns=["target"]).iloc[::100].reset_index(drop=True)
    csv = tmp_path / "patients.csv"
    rows.to_csv(csv, index=False)
    table = lw.predict(table_run, [csv, tmp_path / "missing.csv"])
    reference = predict_frame(table_run, csv)
    good = table[table["error"].isna()]
    assert good["label"].tolist() == reference["label"].tolist() and len(good) == len(rows) == 6
    assert good["file"].tolist()[0] == f"{csv}:row 1"
    assert table["error"].iloc[-1] and "missing.csv" in table["error"].iloc[-1]

    code = main(["--runs-dir", str(text_run.path.parent), "predict", text_run.run_id, TEXTS[1]])
    out = capsys.readouterr().out
    assert code == 0 and expected["label"][1] in out.split(), out
    code = main(["--runs-dir", str(table_run.path.parent), "predict", table_run.run_id, str(csv)])
    out = capsys.readouterr().out
    assert code == 0 and out.count("patients.csv:row") == 6, out
