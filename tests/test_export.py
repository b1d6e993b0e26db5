"""Verified export: every format reloads with its own runtime within its tolerance; safe model loading.

One tiny run (digits + small_cnn at 32 px, every augmentation switched on, so the exported graph must
leave the random layers out) is trained once for the module and exported once in every format. The
tests then reload the artefacts with the plain runtimes (not through our loaders), check the run folder
was not touched, and drive the CLI and the Export panel. The safe-loading tests build a hostile ``.keras``
whose Lambda layer would write a marker file when run.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config

from lepton_widgets.core.base.job import Job
from lepton_widgets.core.export.verify import export_model, export_run, inference_model, parse_formats
from lepton_widgets.core.export.formats import FORMATS, SPECS, Tolerance
from lepton_widgets.core.runs.store import RunRecord, RunStore
from lepton_widgets.core.export.safe_load import UnsafeModelError, check_model_file, load_user_model

AUGMENT = {"flip": "horizontal", "rotation": 0.1, "zoom": 0.1, "translation": 0.1, "contrast": 0.1,
           "brightness": 0.1}


def tree_hashes(root: Path, skip: str = "exports") -> dict[str, str]:
    """sha256 of every file under ``root`` except the ``skip`` folder: the run as it was written."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != skip}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> RunRecord:
    from lepton_widgets.core.tasks import run_experiment

    runs = tmp_path_factory.mktemp("export-runs")
    record = run_experiment(tiny_config(name="export", augment=AUGMENT), store=RunStore(runs))
    assert record.status == "finished"
    return record


@pytest.fixture(scope="module")
def exported(trained):
    before = tree_hashes(trained.path)
    report = export_run(trained, "all")
    return report, before


def test_every_format_reloads_within_its_tolerance_and_the_run_is_untouched(trained, exported):
    report, before = exported
    assert [r.format for r in report.results] == list(FORMATS)
    failed = {r.format: (r.status, r.reason) for r in report.results if not r.passed}
    assert not failed, failed
    for result in report.results:
        spec = SPECS[result.format]
        assert spec.tolerance.check(result.max_abs_diff, result.top1_agreement, result.decided_agreement), result
        assert result.n_checked == 64 and result.size_bytes > 0
        path = Path(result.path)
        assert path.exists() and path.parent == trained.path / "exports" / result.format
        published = json.loads((path.parent / "export.json").read_text())
        assert published["status"] == "passed" and published["meta"]["class_names"] == trained.class_names
    by_format = {r.format: r for r in report.results}
    for name in ("keras", "savedmodel", "tflite", "onnx"):  # float32 everywhere: essentially exact
        assert by_format[name].max_abs_diff <= 1e-4 and by_format[name].top1_agreement == 1.0
    # int8 really is quantised: smaller, and not bit-identical
    assert by_format["tflite-int8"].size_bytes < 0.5 * by_format["tflite"].size_bytes
    assert by_format["tflite-int8"].max_abs_diff > 1e-4
    assert tree_hashes(trained.path) == before, "exporting changed the run's own files"
    assert not [p for p in (trained.path / "exports").iterdir() if p.name.startswith(".")], "temp folders left"


def test_artefacts_reload_with_the_plain_runtimes(trained, exported):
    """Independently of lepton's loaders: each runtime on its own, against the run's saved model."""
    import keras
    import onnxruntime
    import tensorflow as tf

    from lepton_widgets.core.data import make_dataset, prepare_data

    report, _ = exported
    prepared = prepare_data(trained.config.data, trained.config.seed)
    images = np.concatenate(list(make_dataset(prepared.split("test"), 32, 80, with_labels=False)))
    model = trained.load_model()
    assert "augmentation" in [layer.name for layer in model.layers]
    expected = model.predict(images, verbose=0)

    reloaded = keras.saving.load_model(report.result("keras").path, safe_mode=True)
    assert "augmentation" not in [layer.name for layer in reloaded.layers]  # inference graph, same weights
    saved = tf.saved_model.load(report.result("savedmodel").path)  # keep a reference: it owns the variables
    outputs = {"keras": reloaded.predict(images, verbose=0), "savedmodel": saved.serve(images).numpy()}
    session = onnxruntime.InferenceSession(report.result("onnx").path, providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "image" and session.get_inputs()[0].shape[1:] == [32, 32, 3]
    outputs["onnx"] = session.run(None, {"image": images})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated": TF 2.21 still ships it
        interpreter = tf.lite.Interpreter(model_path=report.result("tflite").path)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
    interpreter.invoke()
    outputs["tflite"] = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    for name, probabilities in outputs.items():
        assert np.abs(probabilities - expected).max() <= 1e-4, name
        assert (probabilities.argmax(1) == expected.argmax(1)).all(), name


def test_the_model_card_states_data_backbone_metrics_parity_limits_and_versions(trained, exported):
    report, _ = exported
    card = json.loads(report.card_json.read_text())
    assert card["class_names"] == trained.class_names and card["image_size"] == 32
    assert card["data"]["dataset"] == "digits" and sum(card["data"]["counts"]["test"].values()) == 80
    assert card["backbone"] == {"name": "small_cnn", "weights": "none", "frozen_depth": 0, "image_size": 32,
                                "head_units": 0}
    assert card["metrics"]["accuracy"] == pytest.approx(trained.metrics["accuracy"])
    assert {"macro_f1", "ece"} <= set(card["metrics"])
    assert [row["format"] for row in card["exports"]] == list(FORMATS)
    assert all(row["status"] == "passed" and row["max_abs_diff"] is not None for row in card["exports"])
    limits = " ".join(card["limits"])
    assert "Trained on 340 images" in limits and "32x32 px" in limits and "from scratch" in limits
    assert "Not validated for" in limits and "tflite-int8 (8-bit) agrees" in limits
    assert card["environment"]["packages"]["tensorflow"] and card["environment"]["packages"]["onnxruntime"]
    markdown = report.card_md.read_text()
    for text in ("## Data", "## Metrics", "## Exports", "## Limits", "| tflite-int8 | passed |", "keras 3."):
        assert text in markdown, text


def test_an_export_outside_its_tolerance_is_reported_and_not_published(trained, tmp_path):
    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    strict = {"tflite-int8": Tolerance(max_abs_diff=1e-9)}  # int8 can never be this close
    [result] = export_model(trained.load_model(), ["tflite-int8"], tmp_path, images=images,
                            representative=images, tolerances=strict)
    assert result.status == "failed" and not result.passed and result.path is None
    assert "outside the tolerance (max abs diff <= 1e-09)" in result.reason and "not published" in result.reason
    assert list(tmp_path.iterdir()) == []  # neither the artefact nor its temp folder is left


def test_onnx_without_its_packages_says_why_instead_of_crashing(trained, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as on a machine without the export extra
    images = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    results = export_model(trained.load_model(), ["keras", "onnx"], tmp_path, images=images)
    by_format = {r.format: r for r in results}
    assert by_format["keras"].passed
    onnx = by_format["onnx"]
    assert onnx.status == "unavailable" and onnx.path is None
    assert onnx.reason.startswith("ONNX export is not available here because tf2onnx is not installed")
    assert "pip install" in onnx.reason and not (tmp_path / "onnx").exists()


def test_int8_without_calibration_images_is_unavailable(trained, tmp_path):
    images = np.zeros((2, 32, 32, 3), "float32")
    [result] = export_model(trained.load_model(), "tflite-int8", tmp_path, images=images)
    assert result.status == "unavailable" and "representative training images" in result.reason


def test_inference_model_drops_augmentation_and_shares_weights(trained):
    model = trained.load_model()
    lean = inference_model(model)
    assert [layer.name for layer in lean.layers if "augment" in layer.name] == []
    assert lean.get_layer("classifier") is model.get_layer("classifier")  # same layer object, same weights
    images = np.random.default_rng(2).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    assert np.abs(lean.predict(images, verbose=0) - model.predict(images, verbose=0)).max() == 0.0
    assert inference_model(lean) is lean


def test_bad_formats_and_unfinished_runs_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown export format pdf; choose from keras, savedmodel"):
        parse_formats("keras,pdf")
    assert parse_formats(["onnx", "tflite-int8,keras"]) == ["keras", "tflite-int8", "onnx"]
    store = RunStore(tmp_path / "runs")
    cancelled = store.create(tiny_config(name="stopped")).finalize("cancelled")
    with pytest.raises(ValueError, match="is cancelled: only a finished run with a saved model can be exported"):
        export_run(cancelled, "keras")


# --- the command line --------------------------------------------------------------------------


def test_cli_exports_the_asked_formats_and_prints_the_parity_table(trained, tmp_path, capsys):
    from lepton_widgets.cli import main

    out = tmp_path / "dist"
    code = main(["--runs-dir", str(trained.path.parent), "export", trained.run_id[:17], "--format", "keras",
                 "--format", "tflite-int8", "--out", str(out), "--check-images", "16"])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    lines = {line.split()[0]: line for line in printed.out.splitlines() if line.split()}
    assert "pass" in lines["keras"] and "pass" in lines["tflite-int8"] and "savedmodel" not in lines
    assert (out / "keras" / "model.keras").exists() and (out / "tflite-int8" / "model_int8.tflite").exists()
    assert f"model card: {out / 'model_card.md'}" in printed.out

    assert main(["--runs-dir", str(trained.path.parent), "export", trained.run_id, "--format", "gif"]) == 2
    assert "unknown export format gif" in capsys.readouterr().err


def test_cli_fails_when_a_format_asked_for_by_name_cannot_be_made(trained, tmp_path, capsys, monkeypatch):
    from lepton_widgets.cli import main

    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    code = main(["--runs-dir", str(trained.path.parent), "export", trained.run_id, "--format", "onnx",
                 "--out", str(tmp_path / "o"), "--check-images", "4"])
    printed = capsys.readouterr().out
    assert code == 1 and "unavailable" in printed and "tf2onnx is not installed" in printed


# --- the Export panel --------------------------------------------------------------------------


def test_export_panel_exports_in_the_worker_and_shows_each_format(trained, tmp_path, monkeypatch):
    from lepton_widgets.panels.export import ExportPanel
    from lepton_widgets.state import Runner, Session

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # ONNX unavailable: the panel must say why
    session = Session()
    runner = Runner(session, runs_dir=trained.path.parent)
    panel = ExportPanel(session, runner)
    assert panel.run.value == trained.run_id and not panel.export_button.disabled
    for name, box in panel.formats.items():
        box.value = name in ("keras", "onnx")
    panel.out.value = str(tmp_path / "panel-out")
    panel.export_button.click()
    assert runner.wait(300) and session.status == "finished", session.last_error
    assert [r.format for r in panel.results] == ["keras", "onnx"]
    table = panel.table.value
    assert "lepton-export-passed" in table and "lepton-export-unavailable" in table
    assert "not available here" in table and "tf2onnx is not installed" in table
    assert str(tmp_path / "panel-out" / "keras" / "model.keras") in table
    assert "model_card.md" in panel.card.value and "## Limits" in panel.card.value
    assert "1 of 2 formats exported" in panel.message.value

    for box in panel.formats.values():
        box.value = False
    assert panel.export_button.disabled


# --- safe loading ------------------------------------------------------------------------------


def hostile_model(path: Path, marker: Path) -> Path:
    """A .keras file whose Lambda layer writes ``marker`` whenever its code runs."""
    import keras

    code = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]"
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Lambda(eval(code), name="evil")(inputs)))
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran it once; loading must not
    return path


def test_a_hostile_keras_file_with_a_lambda_is_refused_and_its_code_never_runs(tmp_path):
    import keras

    marker = tmp_path / "marker.txt"
    path = hostile_model(tmp_path / "hostile.keras", marker)
    with pytest.raises(UnsafeModelError, match="refused because it contains a Lambda layer \\('evil'\\)"):
        load_user_model(path)
    assert not marker.exists()
    # The marker does detect execution: an unsafe load runs the lambda.
    keras.saving.load_model(path, safe_mode=False)
    assert marker.read_text() == "ran"


def test_keras_safe_mode_is_the_backstop_behind_the_config_scan(tmp_path, monkeypatch):
    from lepton_widgets.core.export import safe_load

    marker = tmp_path / "marker.txt"
    path = hostile_model(tmp_path / "hostile.keras", marker)
    monkeypatch.setattr(safe_load, "REFUSED_CLASSES", {})  # scan off: Keras itself must refuse
    with pytest.raises(UnsafeModelError, match="Keras refused to load it in safe mode"):
        load_user_model(path)
    assert not marker.exists()


def test_h5_pickles_and_doctored_configs_are_refused_with_the_reason(trained, tmp_path):
    import keras

    legacy = tmp_path / "keras_model.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(legacy)
    with pytest.raises(UnsafeModelError, match="legacy HDF5 model.*Teachable Machine.*model.save\\('model.keras'\\)"):
        load_user_model(legacy)
    disguised = tmp_path / "disguised.keras"
    disguised.write_bytes(legacy.read_bytes())  # the content decides, not the name
    with pytest.raises(UnsafeModelError, match="legacy HDF5"):
        load_user_model(disguised)

    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(UnsafeModelError, match="this is a Python pickle"):
        load_user_model(pickled)
    torch_like = tmp_path / "model.keras"
    with zipfile.ZipFile(torch_like, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps([1]))
    with pytest.raises(UnsafeModelError, match="the zip holds pickled data \\(archive/data.pkl\\)"):
        load_user_model(torch_like)

    good = trained.model_path.read_bytes()
    for module, name, expected in (("keras.utils", "get_file", "from module 'keras.utils'"),
                                   ("os", "system", "from module 'os'")):
        doctored = tmp_path / f"doctored-{name}.keras"
        with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(doctored, "w") as target:
            for item in source.infolist():
                data = source.read(item.filename)
                if item.filename == "config.json":
                    config = json.loads(data)
                    config["config"]["layers"][-1]["config"]["activation"] = {
                        "module": module, "class_name": "function", "config": name, "registered_name": "function"}
                    data = json.dumps(config).encode()
                target.writestr(item, data)
        with pytest.raises(UnsafeModelError, match=expected):
            check_model_file(doctored)

    with pytest.raises(FileNotFoundError):
        load_user_model(tmp_path / "missing.keras")
    assert load_user_model(trained.model_path).output_shape == (None, 10)  # a real lepton model loads


# --- a real pretrained backbone ----------------------------------------------------------------


@pytest.mark.slow
def test_mobilenet_v2_with_offline_weights_exports_in_every_format(tmp_path):
    from lepton_widgets.core.tasks import run_experiment

    # Head only, on cached features (fast), but trained enough that most check images are clear decisions:
    # int8's agreement is then measured on something.
    cfg = tiny_config(name="mnv2-export", data={"max_per_class": 30},
                      backbone={"name": "mobilenet_v2", "weights": "offline", "image_size": 32, "frozen_depth": None},
                      train={"epochs": 6, "fine_tune_epochs": 0, "learning_rate": 0.01}, augment={"flip": "horizontal"})
    record = run_experiment(cfg, store=RunStore(tmp_path / "runs"))
    report = export_run(record, "all", n_check=24)
    failed = {r.format: (r.status, r.reason) for r in report.results if not r.passed}
    assert not failed, failed
    int8 = report.result("tflite-int8")
    assert int8.size_bytes < 0.4 * report.result("tflite").size_bytes
    assert int8.n_decided >= 8 and int8.decided_agreement >= 0.9, int8
    assert report.result("onnx").max_abs_diff <= 1e-4  # the Normalization layer went in as constants


# --- progress per format, and downloads ----------------------------------------------------------


def test_export_reports_each_format_as_it_is_written_reloaded_and_verified(trained, tmp_path):
    from lepton_widgets.core.base.events import ListSink

    sink = ListSink()
    report = export_run(trained, ["keras", "tflite"], out=tmp_path / "steps", n_check=16, job=Job(sink=sink))
    steps = [(e.format, e.step) for e in sink.events if e.kind == "export_step"]
    assert steps == [(name, step) for name in ("keras", "tflite") for step in ("write", "reload", "check", "done")]
    done = [e for e in sink.events if e.kind == "export_step" and e.step == "done"]
    assert [(e.status, e.index, e.total) for e in done] == [("passed", 0, 2), ("passed", 1, 2)]
    assert [e.status for e in done] == [r.status for r in report.results] and all(e.seconds > 0 for e in done)


def test_export_panel_shows_progress_per_format_and_offers_downloads(trained, tmp_path):
    import base64
    import io
    import re
    import zipfile

    from lepton_widgets.panels.export import ExportPanel
    from lepton_widgets.state import Runner, Session

    session = Session()
    runner = Runner(session, runs_dir=trained.path.parent)
    panel = ExportPanel(session, runner)
    assert panel.run.label.startswith(f"export · {trained.run_id}")  # the run's name first
    for name, box in panel.formats.items():
        box.value = name in ("keras", "savedmodel", "tflite")
    panel.out.value = str(tmp_path / "out")
    seen_values, seen_lines = [], []
    panel.progress.observe(lambda change: seen_values.append(change["new"]), "value")
    panel.steps.observe(lambda change: seen_lines.append(change["new"]), "value")
    panel.export_button.click()
    assert runner.wait(300) and session.status == "finished", session.last_error

    assert panel.progress.value == panel.progress.max > 0
    assert len(set(seen_values)) >= 6 and seen_values == sorted(seen_values)  # it moved, step by step
    assert any("savedmodel" in line and "reloading" in line and "tflite" not in line for line in seen_lines)
    final = panel.steps.value
    assert all(f"{name}</b>: verified" in final for name in ("keras", "savedmodel", "tflite")), final

    # Downloads: a button per verified file; a click makes a link that carries the file itself.
    assert sorted(panel.download_buttons) == ["keras", "savedmodel", "tflite"]
    panel.download_buttons["keras"].click()
    link = panel.download_link.value
    assert "download='model.keras'" in link
    data = re.search(r"href='data:[^;]+;base64,([^']+)'", link).group(1)
    assert base64.b64decode(data) == (tmp_path / "out" / "keras" / "model.keras").read_bytes()
    panel.download_buttons["savedmodel"].click()  # a folder: one zip holding it
    link = panel.download_link.value
    assert ".zip'" in link
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(re.search(r"base64,([^']+)'", link).group(1))))
    assert any(name.endswith("saved_model.pb") for name in archive.namelist())
    assert str(tmp_path / "out") not in link  # a link, not a server path
