"""The Export step in a real browser: Voilà (started as ``lepton app`` starts it) serves a notebook with the
Export panel for a tiny run; Chromium presses Export, watches the per-format lines appear, presses a
Download button and saves the file through the link, which must hold the exported file byte for byte."""

from __future__ import annotations

import time

import nbformat
import pytest
from conftest import tiny_config

from lepton_widgets.core.runs.store import RunStore

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(500)]

NOTEBOOK = ("from lepton_widgets.state import Runner, Session\nfrom lepton_widgets.panels.export import ExportPanel\n"
            "session = Session()\npanel = ExportPanel(session, Runner(session))\n"
            "for name, box in panel.formats.items():\n    box.value = name in ('keras', 'tflite')\npanel")


def test_export_in_chromium_shows_each_format_and_downloads_the_file(tmp_path):
    from lepton_widgets.apps.browser import MISSING, chromium, chromium_path
    from lepton_widgets.apps.launch import VoilaServer
    from lepton_widgets.core.tasks import run_experiment

    if chromium_path() is None:
        pytest.fail(MISSING)  # never a skip: a missing browser would silently drop the check
    runs = tmp_path / "runs"
    record = run_experiment(tiny_config(name="download"), store=RunStore(runs))
    notebook = tmp_path / "export.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK)]
    nbformat.write(nb, notebook)
    with VoilaServer(notebook=notebook, env={"LEPTON_HOME": str(tmp_path / "home")}, runs_dir=runs,
                     log_path=tmp_path / "voila.log") as server, chromium(viewport=(1200, 1000)) as browser:
        page = browser.new_page()
        page.goto(server.url, wait_until="commit", timeout=60_000)
        page.wait_for_selector(".lepton-export-export-button", timeout=150_000)
        page.locator(".lepton-export-export-button").click()
        lines_seen = set()
        deadline = time.monotonic() + 240
        while "formats exported" not in page.locator(".lepton-export-message").inner_text():
            assert time.monotonic() < deadline, page.locator(".lepton-export-message").inner_text()
            lines_seen.add(page.locator(".lepton-export-steps").inner_text())
            time.sleep(0.1)
        assert "2 of 2 formats exported" in page.locator(".lepton-export-message").inner_text()
        assert len(lines_seen) >= 3, lines_seen  # the lines changed while it worked
        steps = page.locator(".lepton-export-steps").inner_text()
        assert "keras: verified" in steps and "tflite: verified" in steps, steps

        page.get_by_role("button", name="Download tflite").click()
        link = page.locator(".lepton-export-download a")
        link.wait_for(timeout=30_000)
        with page.expect_download() as download:
            link.click()
        saved = tmp_path / "saved.tflite"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "model.tflite"
        assert saved.read_bytes() == (record.path / "exports" / "tflite" / "model.tflite").read_bytes()
