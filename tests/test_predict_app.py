"""The Predict app with real widgets: choose an export, upload real PNG bytes, read predictions and Grad-CAM.

A tiny digits run is trained and exported (keras, tflite-int8, onnx) once for the module. The expected
answers come from the run's own saved model through the public API (``lepton_widgets.predict``), not from
the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import make_notebooks_module, tiny_config
from tf_noise import GENUINE, INJECT, leaked, noisy_copy
from nbclient import NotebookClient
from PIL import Image

from lepton_widgets.core.runs.store import RunStore

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "predict.ipynb"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from lepton_widgets.core.tasks import run_experiment
    from lepton_widgets.core.export.verify import export_run

    runs = tmp_path_factory.mktemp("predict-runs")
    record = run_experiment(tiny_config(name="predict", augment={"flip": "horizontal"}), store=RunStore(runs))
    report = export_run(record, ["keras", "tflite-int8", "onnx"], n_check=32)
    assert all(r.passed for r in report.results), report.frame()
    return record, report


@pytest.fixture(scope="module")
def digit_pngs(exported, tmp_path_factory):
    """Four test-split digits as PNG files and bytes (8x8 grey, as a user would have them)."""
    from lepton_widgets.core.data import prepare_data

    record, _ = exported
    test = prepare_data(record.config.data, record.config.seed).split("test")
    folder = tmp_path_factory.mktemp("pngs")
    files = []
    for i in (0, 20, 40, 60):
        pixels = test.arrays[int(test.frame.loc[i, "array_index"])]
        path = folder / f"digit-{test.frame.loc[i, 'label']}-{i}.png"
        Image.fromarray(np.asarray(pixels, np.uint8)).save(path)
        files.append(path)
    return files


def upload_entry(path: Path, content: bytes | None = None) -> dict:
    data = path.read_bytes() if content is None else content
    return {"name": path.name, "type": "image/png", "size": len(data), "content": memoryview(data),
            "last_modified": dt.datetime.now(dt.timezone.utc)}


def expected_answers(record, files) -> list[tuple[str, float]]:
    import lepton_widgets as lw

    frame = lw.predict(record, files)
    return list(zip(frame["label"], frame["confidence"]))


def make_panel(runs_dir):
    from lepton_widgets.panels.predict import PredictPanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    runner = Runner(session, runs_dir=runs_dir)
    return PredictPanel(session, runner), session, runner


def choose(panel, ending: str) -> None:
    matches = [value for _, value in panel.model.options if value.endswith(ending)]
    assert len(matches) == 1, panel.model.options
    panel.model.value = matches[0]


def test_keras_export_predicts_uploaded_pngs_with_confidence_and_gradcam(exported, digit_pngs):
    record, report = exported
    panel, session, runner = make_panel(record.path.parent)
    labels = [label for label, _ in panel.model.options]
    assert any("keras export" in label for label in labels) and any("tflite-int8 export" in label for label in labels)
    assert any("trained model (.keras)" in label for label in labels)
    choose(panel, "exports/keras/model.keras")

    notes = Path(digit_pngs[0]).with_name("notes.txt")
    notes.write_bytes(b"not an image at all")
    panel.upload.value = tuple(upload_entry(p) for p in [*digit_pngs, notes])
    assert panel.upload.value == ()  # taken, and cleared so the same files can be uploaded again
    assert runner.wait(120) and session.status == "finished", session.last_error

    predictions = panel.predictions
    assert [p.name for p in predictions] == [p.name for p in digit_pngs] + ["notes.txt"]
    expected = expected_answers(record, digit_pngs)
    for prediction, (label, confidence) in zip(predictions, expected):
        assert prediction.error is None and prediction.label == label
        assert prediction.confidence == pytest.approx(confidence, abs=1e-5)
        confidences = [c for _, c in prediction.top]
        assert len(prediction.top) == 3 and confidences == sorted(confidences, reverse=True)
        assert prediction.image.shape == (32, 32, 3) and prediction.overlay.shape == (32, 32, 3)
        assert not np.array_equal(prediction.image, prediction.overlay)  # the heatmap is drawn on it
    assert predictions[-1].error and predictions[-1].top == []

    cards = panel.results.children
    assert len(cards) == 5 and all("lepton-predict-item" in c._dom_classes for c in cards)
    gradcams = [img for card in cards[:4] for box in card.children if hasattr(box, "children")
                for img in box.children if "lepton-gradcam" in img._dom_classes]
    assert len(gradcams) == 4 and all(img.value[:4] == b"\x89PNG" for img in gradcams)
    bars = cards[0].children[-1].value
    assert bars.count("lepton-predict-bar") == 3 and f"{expected[0][1]:.1%}" in bars
    assert "Not predicted" in cards[-1].children[-1].value
    assert panel.note.value == ""  # Keras: Grad-CAM is there, nothing to explain
    assert "4 of 5 images predicted" in panel.message.value


def test_tflite_and_onnx_exports_predict_and_say_why_there_is_no_gradcam(exported, digit_pngs):
    record, _ = exported
    panel, session, runner = make_panel(record.path.parent)
    expected = expected_answers(record, digit_pngs)

    choose(panel, "exports/onnx/model.onnx")
    panel.upload.value = tuple(upload_entry(p) for p in digit_pngs)
    assert runner.wait(120) and session.status == "finished", session.last_error
    assert [(p.label, round(p.confidence, 4)) for p in panel.predictions] == \
        [(label, round(confidence, 4)) for label, confidence in expected]
    assert all(p.overlay is None for p in panel.predictions)
    assert "No Grad-CAM for onnx files" in panel.note.value

    choose(panel, "exports/tflite-int8/model_int8.tflite")
    panel.upload.value = tuple(upload_entry(p) for p in digit_pngs)
    assert runner.wait(120) and session.status == "finished", session.last_error
    assert len(panel.predictions) == 4 and all(p.error is None for p in panel.predictions)
    agree = sum(prediction.label == label for prediction, (label, _) in zip(panel.predictions, expected))
    assert agree >= 3  # 8-bit: near-ties may flip (the export's own check held 90% on decided images)
    assert all(0.0 <= p.confidence <= 1.0 and p.label in record.class_names for p in panel.predictions)
    assert "No Grad-CAM for tflite files" in panel.note.value
    assert not any("lepton-gradcam" in img._dom_classes for card in panel.results.children
                   for box in card.children if hasattr(box, "children") for img in box.children)


def test_a_hostile_keras_file_given_by_path_is_refused_and_never_runs(exported, tmp_path):
    import keras

    record, _ = exported
    marker = tmp_path / "marker.txt"
    code = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]"
    inputs = keras.Input((32, 32, 3))
    hostile = keras.Model(inputs, keras.layers.Lambda(eval(code), name="evil")(inputs))
    path = tmp_path / "free-model.keras"
    hostile.save(path)
    marker.unlink(missing_ok=True)

    panel, session, runner = make_panel(record.path.parent)
    before = panel.model.options
    panel.path.value = str(path)
    panel.use_path.click()
    assert runner.wait(60) and session.status == "failed"
    assert "refused because it contains a Lambda layer" in panel.message.value
    assert "UnsafeModelError" not in panel.message.value  # a sentence for people, not a class name
    assert not marker.exists() and panel.model.options == before

    # A proper .keras file from elsewhere is opened and offered.
    good = tmp_path / "good.keras"
    good.write_bytes(Path(record.path / "exports" / "keras" / "model.keras").read_bytes())
    panel.path.value = str(good)
    panel.use_path.click()
    assert runner.wait(60) and session.status == "finished", session.last_error
    assert panel.model.value == str(good) and panel.model.label == "file · good.keras"
    assert "10 classes" in panel.message.value


def test_an_empty_store_says_what_to_do(tmp_path):
    panel, _, _ = make_panel(tmp_path / "no-runs")
    assert panel.model.options == () and panel.upload.disabled
    assert "No exported model yet" in panel.message.value and "lepton export" in panel.message.value


def test_the_notebook_is_what_make_notebooks_writes():
    make_notebooks = make_notebooks_module()
    written = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in written.cells] == \
        [(c.cell_type, c.source) for c in make_notebooks.PREDICT]
    assert 2 <= len(written.cells) <= 4 and "build_predict_app" in written.cells[-1].source


@pytest.mark.slow
def test_predict_notebook_runs_headless_and_lists_the_exports(exported, tmp_path, monkeypatch):
    record, _ = exported
    monkeypatch.setenv("LEPTON_RUNS", str(record.path.parent))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the notebook must quieten TensorFlow itself
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Make TensorFlow's import print the start-up lines an AVX-512 machine prints, on any CPU (tests/tf_noise.py).
    notebook.cells.insert(0, nbformat.v4.new_code_cell(INJECT))
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json\nprint('CHECK ' + json.dumps({'models': [label for label, _ in app.panel.model.options],\n"
        "    'status': app.session.status}))"))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells[:-1] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len([o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]) == 1
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert stderr == GENUINE + "\n", stderr[:2000]  # the genuine line between the two copies gets through
    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.get("name") == "stdout")
    state = json.loads(printed.split("CHECK ", 1)[1])
    assert len(state["models"]) == 4 and state["status"] == "idle"  # 3 exports + the run's own model


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(600)
def test_predict_app_in_chromium_uploads_images_and_shows_answers_with_gradcam(exported, digit_pngs, tmp_path,
                                                                          monkeypatch):
    """Voilà serves notebooks/predict.ipynb; headless Chromium picks the keras export and uploads two PNGs."""
    from lepton_widgets.apps.browser import MISSING, chromium, chromium_path
    from lepton_widgets.apps.launch import VoilaServer

    if chromium_path() is None:
        pytest.fail(MISSING)  # never a skip: a missing browser would silently drop the end-to-end check
    record, _ = exported
    expected = expected_answers(record, digit_pngs[:2])
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    log = tmp_path / "voila.log"
    # The shipped notebook after a cell that prints TensorFlow's AVX-512 start-up lines (tests/tf_noise.py),
    # in a kernel that forwards file-descriptor output to the page as a user's does (ipykernel does not
    # when it sees PYTEST_CURRENT_TEST).
    served = noisy_copy(NOTEBOOK, tmp_path / "notebook")
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    with VoilaServer(notebook=served, env={"LEPTON_HOME": str(tmp_path / "home")}, runs_dir=record.path.parent,
                     log_path=log) as server, chromium(viewport=(1200, 900)) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(server.url, wait_until="commit", timeout=60_000)
            page.wait_for_selector(".lepton-predict-app", timeout=150_000)
            select = page.locator(".lepton-predict-model select")
            options = select.evaluate("s => [...s.options].map(o => o.value)")
            select.select_option(next(value for value in options if "keras export" in value))
            with page.expect_file_chooser() as chooser:
                page.locator(".lepton-predict-upload").click()
            chooser.value.set_files([str(path) for path in digit_pngs[:2]])
            page.wait_for_function("document.querySelectorAll('.lepton-predict-item').length == 2", timeout=120_000)
            items = page.locator(".lepton-predict-item")
            for i, (label, confidence) in enumerate(expected):
                text = items.nth(i).inner_text()
                assert digit_pngs[i].name in text and f"{confidence:.1%}" in text, text
                assert items.nth(i).locator("img.lepton-gradcam").count() == 1
            page_text = page.locator(".lepton-predict-app").inner_text()
            assert "cuda" not in page_text.lower() and "Traceback" not in page_text, page_text[:2000]
            whole_page = page.inner_text("body")
            assert leaked(whole_page) == [] and GENUINE in whole_page, whole_page[:2000]
            assert not errors, f"JavaScript errors in the page: {errors[:3]}"
            page.locator(".lepton-predict-app").screenshot(path=str(artifacts / "predict.png"))
        except BaseException:
            page.screenshot(path=str(artifacts / "predict-failure.png"))
            (artifacts / "predict-voila.log").write_text(log.read_text(errors="replace") if log.exists() else "")
            raise


def test_the_app_lists_one_entry_per_run_by_name_and_opens_on_its_own_model(exported, digit_pngs, tmp_path):
    """One entry per run (name first), its files as a second choice, best first: the run's own model with
    Grad-CAM, never the ONNX export. An exported file given by path is opened with its own runtime."""
    import shutil

    from lepton_widgets.core.tasks import run_experiment

    record, _ = exported
    runs = tmp_path / "runs"
    shutil.copytree(record.path, runs / record.path.name)
    second = run_experiment(tiny_config(name="second"), store=RunStore(runs))  # newer, no exports
    panel, session, runner = make_panel(runs)

    assert [value for _, value in panel.run.options] == [second.run_id, record.run_id]  # newest first
    labels = [label for label, _ in panel.run.options]
    assert labels[0].startswith(f"second · {second.run_id}") and labels[1].startswith(f"predict · {record.run_id}")
    assert panel.model.value == str(second.model_path) and len(panel.model.options) == 1

    panel.run.value = record.run_id
    shown = [label for label, _ in panel.model.options]
    assert len(shown) == 4 and shown[0] == "trained model (.keras) · Grad-CAM", shown
    assert shown[1].startswith("keras export") and shown[1].endswith("· Grad-CAM")
    assert all(label.endswith("no Grad-CAM") for label in shown[2:]), shown
    assert panel.model.value == str(runs / record.path.name / "model.keras")  # the best one, not the ONNX
    panel.upload.value = tuple(upload_entry(p) for p in digit_pngs[:2])
    assert runner.wait(120) and session.status == "finished", session.last_error
    assert all(p.overlay is not None for p in panel.predictions) and panel.note.value == ""
    expected = expected_answers(record, digit_pngs[:2])
    assert [p.label for p in panel.predictions] == [label for label, _ in expected]

    # An exported file from elsewhere, given by its path: opened with the TFLite interpreter.
    outside = tmp_path / "elsewhere" / "tflite-int8"
    shutil.copytree(record.path / "exports" / "tflite-int8", outside)
    tflite = next(outside.glob("*.tflite"))
    assert "tflite" in panel.path.placeholder and "onnx" in panel.path.placeholder
    panel.path.value = str(tflite)
    panel.use_path.click()
    assert runner.wait(60) and session.status == "finished", session.last_error
    assert panel.model.value == str(tflite)
    panel.upload.value = tuple(upload_entry(p) for p in digit_pngs[:2])
    assert runner.wait(120) and session.status == "finished", session.last_error
    assert all(p.error is None and p.label in record.class_names for p in panel.predictions)
    assert "No Grad-CAM for tflite files" in panel.note.value
