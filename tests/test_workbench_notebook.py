"""notebooks/workbench.ipynb runs headless (nbclient) in a small setting and displays the whole workbench.

Also checks the notebook is what notebooks/make_notebooks.py writes, and the pieces of the app that need
no kernel: the LEPTON_APP_* overrides and the Voilà command line of ``lepton app``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from conftest import make_notebooks_module
from tf_noise import GENUINE, INJECT
from nbclient import NotebookClient

from lepton_widgets.apps.launch import HOST, max_upload_bytes, voila_command
from lepton_widgets.apps.workbench import settings_from_env

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "workbench.ipynb"
SMOKE_ENV = {"LEPTON_APP_DATASET": "digits", "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none",
             "LEPTON_APP_IMAGE_SIZE": "32", "LEPTON_APP_EPOCHS": "2"}
# The workbench may gain steps (a search step, ...); these must be there, in this order.
PANELS = {"AutoPanel", "DatasetPanel", "BackbonePanel", "FreezePanel", "AugmentPanel", "TrainPanel", "EvaluatePanel",
          "RunsPanel", "FusionPanel", "UpdatePanel", "ExportPanel", "CodePanel"}
STEPS = ["Auto", "Data", "Backbone", "Augment", "Train", "Evaluate", "Runs", "Fuse", "Update", "Export",
         "Show code"]


@pytest.mark.slow
def test_workbench_notebook_displays_every_panel_without_errors(tmp_path, monkeypatch):
    for name, value in SMOKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEPTON_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LEPTON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the notebook must quieten TensorFlow itself
    # ipykernel stops forwarding file-descriptor output (where TensorFlow's C++ lines go) when it sees this
    # variable; without it the kernel shows what Voilà or JupyterLab would show.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Make TensorFlow's import print the start-up lines an AVX-512 machine prints, on any CPU (tests/tf_noise.py).
    notebook.cells.insert(0, nbformat.v4.new_code_cell(INJECT))
    check = nbformat.v4.new_code_cell(
        "import json\n"
        "print('CHECK ' + json.dumps({'panels': sorted(app.panels), 'dataset': app.session.dataset,\n"
        "    'backbone': app.session.backbone, 'epochs': app.session.epochs, 'status': app.session.status,\n"
        "    'steps': app.step_titles}))")
    notebook.cells.append(check)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    outputs = [o for cell in notebook.cells[:-1] if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # Exactly one rich output: the workbench's root widget, and nothing on stderr (TensorFlow start-up lines).
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1, outputs
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert stderr == GENUINE + "\n", stderr[:2000]  # the genuine line between the two copies gets through

    printed = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.get("name") == "stdout")
    state = json.loads(printed.split("CHECK ", 1)[1])
    assert PANELS <= set(state["panels"]), state["panels"]
    assert (state["dataset"], state["backbone"], state["epochs"], state["status"]) == ("digits", "small_cnn", 2,
                                                                                      "idle")
    assert [step for step in state["steps"] if step in STEPS] == STEPS, state["steps"]
    assert state["steps"][0] == "Auto" and state["steps"][-1] == "Show code"
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "a cell trained"


def test_the_notebook_is_what_make_notebooks_writes():
    make_notebooks = make_notebooks_module()
    written = nbformat.read(NOTEBOOK, as_version=4)
    assert [(c.cell_type, c.source) for c in written.cells] == \
        [(c.cell_type, c.source) for c in make_notebooks.WORKBENCH]
    assert 2 <= len(written.cells) <= 4
    first = written.cells[0].source
    assert "TF_CPP_MIN_LOG_LEVEL" in first and "import lepton_widgets" not in first


def test_env_overrides_are_parsed_and_named_when_wrong():
    assert settings_from_env(SMOKE_ENV) == {"dataset": "digits", "backbone": "small_cnn", "weights": "none",
                                            "image_size": 32, "epochs": 2}
    assert settings_from_env({}) == {}
    with pytest.raises(ValueError, match="LEPTON_APP_EPOCHS"):
        settings_from_env({"LEPTON_APP_EPOCHS": "two"})


def test_voila_command_binds_localhost_and_raises_the_upload_limit(tmp_path):
    cmd, env = voila_command(port=8900, runs_dir=tmp_path / "runs", env={"LEPTON_MAX_UPLOAD_MB": "250"})
    assert f"--Voila.ip={HOST}" in cmd and HOST == "127.0.0.1"
    assert not any("0.0.0.0" in part for part in cmd)
    assert "--port=8900" in cmd and "--no-browser" in cmd
    assert "--Voila.tornado_settings={'websocket_max_message_size': %d}" % (251 * 2**20) in cmd
    assert any(part.startswith("--VoilaExecutor.timeout=") for part in cmd)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert env["LEPTON_RUNS"] == str((tmp_path / "runs").resolve())
    assert max_upload_bytes({}) == 101 * 2**20
    assert max_upload_bytes({"LEPTON_MAX_UPLOAD_MB": "nonsense"}) == 101 * 2**20


class _FakePanel:
    """Stands in for a real panel: composition needs only ``widget``, and the shared session/runner."""

    def __init__(self, session, runner):
        import ipywidgets as w

        self.session, self.runner = session, runner
        self.widget = w.Label(type(self).__name__)


class _OtherPanel(_FakePanel):
    pass


class _CodeLikePanel(_FakePanel):
    pass


def test_workbench_composes_panels_around_one_session_with_env_defaults(tmp_path, monkeypatch):
    import ipywidgets as w

    from lepton_widgets.apps.workbench import Workbench
    from lepton_widgets.core.base.events import EpochEnded

    monkeypatch.setenv("LEPTON_APP_DATASET", "digits")
    monkeypatch.setenv("LEPTON_APP_EPOCHS", "3")
    monkeypatch.setenv("LEPTON_BENCH_EVENTS", str(tmp_path / "epochs.jsonl"))
    app = Workbench(steps=[("Data", [_FakePanel]), ("Backbone", [_OtherPanel]), ("Show code", [_CodeLikePanel])],
                    runs_dir=tmp_path / "runs", dataset="fashion_mnist")
    assert (app.session.dataset, app.session.epochs) == ("fashion_mnist", 3)  # keyword beats env beats default
    assert {p.session for p in app.panels.values()} == {app.session}
    assert {p.runner for p in app.panels.values()} == {app.runner}
    _header, *sections = app.widget.children
    assert sections[0]._dom_classes[-1] == "lepton-step-data"
    assert isinstance(sections[-1], w.Accordion) and sections[-1].selected_index is None  # Show code folded
    assert "Step 2 of 2" in sections[1].children[0].value

    app.session.message, app.session.status = "epoch 2/3 (head)", "running"
    assert "running" in app.status_line.value and "epoch 2/3" in app.status_line.value

    app.runner.on_event(EpochEnded(run_id="r1", phase="head", epoch=1, epochs=3, metrics={"loss": 1.0}))
    line = json.loads((tmp_path / "epochs.jsonl").read_text().splitlines()[0])
    assert line["epoch"] == 1 and line["run_id"] == "r1" and line["time"] > 0
    assert app.session.history == [{"epoch": 1, "phase": "head", "loss": 1.0}]  # still reaches the Session


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.slow
def test_lepton_app_serves_plotlys_script_from_the_cache_and_writes_nothing_next_to_the_notebook(tmp_path):
    """An installed package's folder may be read-only: the 5 MB widget script is served from $LEPTON_HOME."""
    import importlib.util
    import stat
    import urllib.request

    from lepton_widgets.apps.launch import VoilaServer
    from lepton_widgets.panels.figures import ESM_URL_ENV

    folder = tmp_path / "installed" / "notebooks"  # a copy of the package's notebooks folder, made read-only
    folder.mkdir(parents=True)
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        (folder / notebook.name).write_bytes(notebook.read_bytes())
    for path in folder.iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    before = _snapshot(folder)
    home = tmp_path / "home"
    bundle = Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "widgetbundle.js"
    try:
        with VoilaServer(notebook=folder / "workbench.ipynb", env={"LEPTON_HOME": str(home)},
                         runs_dir=tmp_path / "runs", log_path=tmp_path / "voila.log") as server:
            script_url = server.env.get(ESM_URL_ENV)
            assert script_url and script_url.startswith(server.base_url), server.cmd
            with urllib.request.urlopen(script_url, timeout=30) as response:
                assert response.status == 200
                assert response.read() == bundle.read_bytes()
    finally:
        folder.chmod(stat.S_IRWXU)  # so that pytest can clean tmp_path up
    assert _snapshot(folder) == before, "lepton app wrote into the notebooks folder"
    assert [p.name for p in home.rglob("plotly-widget-*.js")], "the script is not in the cache folder"
