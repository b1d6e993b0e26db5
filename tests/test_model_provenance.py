"""Models load by provenance (issue 13, item 2): a user's model only as ``.keras`` through the safe loader;
SavedModel, TFLite and ONNX only when they are this installation's own, unchanged exports.

The hostile model is a real SavedModel whose graph writes a marker file: a resource initialiser that
``tf.saved_model.load`` runs while loading, and a ``serve`` function that writes another when called.
It is handed to every entry point (``lw.predict``, ``lepton predict``, the Predict app's "or a file"
box), bare, dressed up with a copied ``export.json``, and with a hand-written manifest of correct
checksums; each must refuse it with a message that says what to do instead, and no marker may appear.
A real export of a tiny run still opens, and one changed byte, one added file or a missing manifest in
that export is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config
from PIL import Image

from lepton_widgets.core.runs.store import RunStore

FORMATS = ["keras", "savedmodel", "tflite", "onnx"]
INSTEAD = "Load the model as a .keras file instead"


def hostile_savedmodel(folder: Path, marker: Path) -> Path:
    """A SavedModel that writes ``marker`` when loaded and ``marker.call`` when called; ``folder`` returned."""
    import tensorflow as tf

    class Initialised(tf.saved_model.experimental.TrackableResource):
        def _create_resource(self):
            return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[], shared_name="")

        def _initialize(self):  # saved as a graph function; tf.saved_model.load runs it
            tf.io.write_file(str(marker), "ran on load")
            return tf.raw_ops.AssignVariableOp(resource=self.resource_handle, value=1.0)

    module = tf.Module()
    module.resource = Initialised()

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
    def serve(x):
        tf.io.write_file(str(marker) + ".call", "ran on call")
        return tf.zeros([tf.shape(x)[0], 10]) + 0.1

    module.serve = serve
    tf.saved_model.save(module, str(folder))
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from lepton_widgets.core.tasks import run_experiment
    from lepton_widgets.core.export.verify import export_run

    runs = tmp_path_factory.mktemp("provenance-runs")
    record = run_experiment(tiny_config(name="provenance"), store=RunStore(runs))
    report = export_run(record, FORMATS, n_check=16)
    assert [r.status for r in report.results] == ["passed"] * len(FORMATS), report.frame()
    folder = tmp_path_factory.mktemp("digit")
    png = folder / "digit.png"
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(png)
    return record, {r.format: Path(r.path) for r in report.results}, png


@pytest.fixture
def hostile(exported, tmp_path):
    """Three disguises of the hostile SavedModel, and the marker it would write."""
    record, paths, _ = exported
    marker = tmp_path / "marker.txt"
    bare = hostile_savedmodel(tmp_path / "bare" / "saved_model", marker)
    dressed = hostile_savedmodel(tmp_path / "dressed" / "saved_model", marker)
    shutil.copy(paths["savedmodel"].parent / "export.json", dressed.parent / "export.json")
    forged = hostile_savedmodel(tmp_path / "forged" / "saved_model", marker)
    shutil.copy(paths["savedmodel"].parent / "export.json", forged.parent / "export.json")
    # A manifest with every checksum right and the real manifest's fields, signed with a key of its own.
    from lepton_widgets.core.export import manifest

    import lepton_widgets

    body = {"format": "savedmodel", "artefact": "saved_model", "run_id": record.run_id,
            "lepton_version": lepton_widgets.__version__, "files": manifest._hashes(forged.parent)}
    body["signature"] = manifest._sign(body, b"\x00" * 32)
    (forged.parent / manifest.MANIFEST_FILE).write_text(json.dumps(body))
    assert not marker.exists()
    return {"bare": bare, "dressed": dressed, "forged": forged}, marker


def no_marker(marker: Path) -> bool:
    return not marker.exists() and not Path(str(marker) + ".call").exists()


def test_api_and_cli_refuse_a_hostile_savedmodel_without_running_it(exported, hostile, capsys):
    import lepton_widgets as lw
    from lepton_widgets.cli import main

    record, _, png = exported
    models, marker = hostile
    for name, folder in models.items():
        with pytest.raises(ValueError) as refused:
            lw.predict(folder, [png], runs_dir=record.path.parent)
        assert no_marker(marker), f"the {name} SavedModel ran while being opened"
        message = str(refused.value)
        assert "only when they are its own verified exports" in message and INSTEAD in message, name

        code = main(["--runs-dir", str(record.path.parent), "predict", str(folder), str(png)])
        err = capsys.readouterr().err
        assert code == 2 and "lepton export" in err and "Traceback" not in err, (name, err)
        assert no_marker(marker), name
    bare = pytest.raises(ValueError, lw.predict, models["bare"], [png])
    assert "no export_manifest.json beside it" in str(bare.value)
    forged = pytest.raises(ValueError, lw.predict, models["forged"], [png])
    assert "not signed by this installation" in str(forged.value)


def test_the_predict_apps_file_box_refuses_it_with_a_sentence(exported, hostile):
    from lepton_widgets.panels.predict import PredictPanel
    from lepton_widgets.state import Runner, Session

    record, _, _ = exported
    models, marker = hostile
    session = Session()
    runner = Runner(session, runs_dir=record.path.parent)
    panel = PredictPanel(session, runner)
    before = panel.model.options
    for name, folder in models.items():
        panel.path.value = str(folder)
        panel.use_path.click()
        assert runner.wait(60) and session.status == "failed", name
        assert no_marker(marker) and panel.model.options == before, name
        assert "verified exports" in panel.message.value and "lepton export" in panel.message.value, name
        assert "Error" not in panel.message.value and "Traceback" not in panel.message.value


def test_own_exports_still_open_and_a_changed_one_is_refused(exported, tmp_path):
    import lepton_widgets as lw

    record, paths, png = exported
    reference = lw.predict(record, [png])["label"].tolist()
    for name in ("savedmodel", "tflite", "onnx", "keras"):
        assert lw.predict(paths[name], [png])["label"].tolist() == reference, name

    def copy(name: str) -> Path:  # a whole format folder copied elsewhere still opens (manifest inside)
        target = tmp_path / f"{name}-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(paths[name].parent, target)
        return target / paths[name].name

    moved = copy("tflite")
    assert lw.predict(moved, [png])["label"].tolist() == reference
    data = bytearray(moved.read_bytes())
    data[len(data) // 2] ^= 1  # one byte
    moved.write_bytes(bytes(data))
    error = str(pytest.raises(ValueError, lw.predict, moved, [png]).value)
    assert "changed since it was exported" in error and "model.tflite" in error and INSTEAD in error

    onnx = copy("onnx")
    (onnx.parent / "export_manifest.json").unlink()
    assert "no export_manifest.json" in str(pytest.raises(ValueError, lw.predict, onnx, [png]).value)

    saved = copy("savedmodel")
    (saved / "assets").mkdir(exist_ok=True)
    (saved / "assets" / "extra.txt").write_text("added")
    error = str(pytest.raises(ValueError, lw.predict, saved, [png]).value)
    assert "added: saved_model/assets/extra.txt" in error

    # A manifest moved onto another format's file does not vouch for it.
    tflite = copy("tflite")
    (tflite.parent / "model.onnx").write_bytes(paths["onnx"].read_bytes())
    assert "not opened" in str(pytest.raises(ValueError, lw.predict, tflite.parent / "model.onnx", [png]).value)


def test_anything_else_is_refused_with_what_to_do(tmp_path):
    import lepton_widgets as lw

    weights = tmp_path / "frozen.pb"
    weights.write_bytes(b"\x08\x01")
    error = str(pytest.raises(ValueError, lw.predict, weights, ["x.png"]).value)
    assert "not a run folder nor a model file" in error and ".keras" in error and "lepton export" in error
