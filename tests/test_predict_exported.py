"""Predict takes runs and exported model files alike: ``lw.predict``, ``lepton predict`` and the Predict app.

One tiny digits run is trained and exported once for the module (``.keras``, SavedModel folder, float32
``.tflite``, ``.onnx``: the files our export writes and verifies). The reference answers come from the run
itself (``lw.predict(run, ...)``); each exported file, given by its path, must give the same classes.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_config
from PIL import Image

from lepton_widgets.core.runs.store import RunStore

FORMATS = ["keras", "savedmodel", "tflite", "onnx"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from lepton_widgets.core.tasks import run_experiment
    from lepton_widgets.core.export.verify import export_run

    runs = tmp_path_factory.mktemp("exported-runs")
    record = run_experiment(tiny_config(name="exported"), store=RunStore(runs))
    report = export_run(record, FORMATS, n_check=32)
    assert [r.status for r in report.results] == ["passed"] * len(FORMATS), report.frame()
    return record, {r.format: r.path for r in report.results}


@pytest.fixture(scope="module")
def pngs(exported, tmp_path_factory):
    """Six test-split digits as 8x8 grey PNG files, and a file that is not an image."""
    from lepton_widgets.core.data import prepare_data

    record, _ = exported
    test = prepare_data(record.config.data, record.config.seed).split("test")
    folder = tmp_path_factory.mktemp("pngs")
    files = []
    for i in range(0, 60, 10):
        path = folder / f"digit-{test.frame.loc[i, 'label']}-{i}.png"
        Image.fromarray(np.asarray(test.arrays[int(test.frame.loc[i, "array_index"])], np.uint8)).save(path)
        files.append(path)
    broken = folder / "broken.png"
    broken.write_text("not an image")
    return files, broken


def test_lw_predict_takes_each_exported_file_and_agrees_with_the_run(exported, pngs):
    import lepton_widgets as lw

    record, paths = exported
    files, broken = pngs
    reference = lw.predict(record, files)
    assert reference["error"].isna().all()
    for name, path in paths.items():
        frame = lw.predict(path, [*files, broken])  # a path to the file (or SavedModel folder) itself
        good = frame[frame["error"].isna()]
        assert good["label"].tolist() == reference["label"].tolist(), name
        np.testing.assert_allclose(good["confidence"], reference["confidence"], atol=1e-3, err_msg=name)
        bad = frame[frame["file"].str.endswith("broken.png")]
        assert len(bad) == 1 and bad["label"].isna().all() and "image" in bad["error"].iloc[0].lower(), name


def test_cli_predict_takes_an_exported_file(exported, pngs, capsys):
    from lepton_widgets.cli import main

    record, paths = exported
    files, _ = pngs
    import lepton_widgets as lw

    expected = lw.predict(record, files[:2])["label"].tolist()
    code = main(["--runs-dir", str(record.path.parent), "predict", str(paths["onnx"]), *map(str, files[:2])])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if ".png" in line]
    assert [row[1] for row in rows] == expected, out
    code = main(["--runs-dir", str(record.path.parent), "predict", str(paths["savedmodel"]), str(files[0])])
    assert code == 0 and files[0].name in capsys.readouterr().out


def test_a_path_that_is_neither_a_run_nor_a_model_says_so(exported, pngs, tmp_path):
    import lepton_widgets as lw

    record, _ = exported
    files, _ = pngs
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    with pytest.raises(ValueError, match="not a run.*model file"):
        lw.predict(stray, files[:1], runs_dir=record.path.parent)


def test_cli_predict_help_names_every_kind_of_input(capsys):
    from lepton_widgets.cli import main

    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in ("images", "sounds", "texts", "tables", ".tflite", ".onnx", "SavedModel"):
        assert word in text, text
    from lepton_widgets.cli import build_parser

    listed = " ".join(build_parser().format_help().split())  # the subcommand list says the same
    assert "predict image files" not in listed and "texts" in listed, listed
