"""The workbench end to end in a real browser: Voilà serving notebooks/workbench.ipynb, headless Chromium.

One page load (each starts a kernel that imports TensorFlow) drives the whole story a person would
click through: pick the digits dataset, unfreeze two blocks with the keyboard on the frozen-depth slider,
press Train, watch the loss curve gain points while it trains, see the confusion matrix when it ends.
The run folder is then checked for the choices made in the page, so the clicks demonstrably reached the
engine. Then a three-trial search runs in the Search step and its trials table fills in trial by trial.
Last, a 12 MB upload checks the launcher's raised websocket limit (Tornado's default of 10 MiB would close
the connection without a word).

The server is started with ``lepton_widgets.apps.launch`` (the code behind ``lepton app``) on a free
port of 127.0.0.1 with a small setting from ``LEPTON_APP_*`` (small_cnn, 32 px), and is stopped, kernels
included, whatever happens. Artefacts land in ``test-artifacts/`` (git-ignored): ``workbench.png``,
``tuner.png`` (the README's pictures come from these) and, on failure, ``workbench-failure.png`` and
``voila.log``.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from tf_noise import GENUINE, noisy_copy

from lepton_widgets.apps.browser import (
    MISSING,
    chromium,
    chromium_path,
    count_points,
    trace_lengths,
    wait_for_figures,
    wait_for_workbench,
)
from lepton_widgets.apps.launch import VoilaServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
APP_ENV = {
    # The dataset stays at its default (Fashion-MNIST): the test has to choose digits in the page.
    "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none", "LEPTON_APP_IMAGE_SIZE": "32",
    "LEPTON_APP_EPOCHS": "2", "LEPTON_APP_FINE_TUNE_EPOCHS": "4", "LEPTON_APP_MAX_PER_CLASS": "40",
    "LEPTON_APP_BATCH_SIZE": "16",
    # Every block frozen at the start, as the story needs: with random weights the default is none frozen.
    "LEPTON_APP_FROZEN_DEPTH": "4",
}
# What TensorFlow, absl or a traceback look like when they leak into the page.
NOISE = re.compile(r"absl::|cudart_stub|cuda drivers|cpu_feature_guard|oneDNN|^[IWEF]\d{4} \d\d:|"
                   r"tensorflow/(core|compiler)|Traceback \(most recent call last\)|UserWarning", re.MULTILINE)


def _need_chromium() -> None:
    if chromium_path() is None:
        pytest.fail(MISSING)  # never a skip: a missing browser would silently drop the end-to-end check
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the playwright Python package is missing: pip install -e '.[test]' (make setup)")


def _text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def _wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    if not predicate():
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def server(tmp_path, monkeypatch):
    _need_chromium()
    # ipykernel stops forwarding file-descriptor output (TensorFlow's C++ lines) to the page when it sees
    # this variable; without it the kernel shows what a user's page would show.
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    ARTIFACTS.mkdir(exist_ok=True)
    runs = tmp_path / "runs"
    env = {**APP_ENV, "LEPTON_HOME": str(tmp_path / "home"), "LEPTON_MAX_UPLOAD_MB": "20"}
    log = tmp_path / "voila.log"
    # The shipped notebook, after a cell that makes TensorFlow's import print the start-up lines an AVX-512
    # machine prints (tests/tf_noise.py), so the page is checked for them on any CPU.
    served_notebook = noisy_copy(ROOT / "notebooks" / "workbench.ipynb", tmp_path / "notebook")
    with VoilaServer(notebook=served_notebook, env=env, runs_dir=runs, log_path=log) as served:
        served.runs = runs
        yield served
    (ARTIFACTS / "voila.log").write_text(log.read_text(errors="replace") if log.exists() else "")


def test_workbench_in_chromium_trains_live_and_shows_the_confusion_matrix(server, tmp_path):
    with chromium(viewport=(1400, 1000)) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        server.page_errors = errors  # quoted in failure messages: they usually say why a widget went quiet
        try:
            _story(page, server, tmp_path)
            assert not errors, f"JavaScript errors in the page: {errors[:3]}"
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "workbench-failure.png"))
            raise


def _story(page, server, tmp_path) -> None:
    # The page's HTML streams while the notebook runs (a new kernel imports TensorFlow): do not wait for
    # its load event, wait for the widgets.
    page.goto(server.url, wait_until="commit", timeout=60_000)
    wait_for_workbench(page, timeout_s=150)
    wait_for_figures(page)
    anywidget = [e for e in server.page_errors if "anywidget" in e]
    assert not anywidget, f"a Plotly figure failed to start and will never update: {anywidget}"
    # Charts are drawn by the anywidget script alone: Plotly's 4.8 MB lab extension is not fetched.
    fetched = page.evaluate("performance.getEntriesByType('resource').map(r => r.name)")
    assert fetched and not [name for name in fetched if "jupyterlab-plotly" in name], \
        [name for name in fetched if "plotly" in name]

    # 1. Data: the digits option of the dataset dropdown.
    # (ipywidgets' <option> values are the labels, e.g. "digits (image, real)")
    select = page.locator(".lepton-dataset-select select")
    options = select.evaluate("s => [...s.options].map(o => o.value)")
    select.select_option(next(value for value in options if value.startswith("digits")))
    _wait_until(lambda: "digits" in _text(page, ".lepton-dataset-info").lower(), 20, what="the digits card")

    # 2. Backbone: two steps left on the frozen-depth slider's handle = blocks 3 and 4 fine-tune.
    handle = page.locator(".lepton-frozen-depth .noUi-handle")
    _wait_until(lambda: page.locator(".lepton-frozen-depth [disabled]").count() == 0
                and handle.get_attribute("aria-valuenow") is not None, 60, what="the freeze summary")
    all_frozen = float(handle.get_attribute("aria-valuenow"))
    count_before = _text(page, ".lepton-trainable-count")
    handle.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    _wait_until(lambda: float(handle.get_attribute("aria-valuenow")) == all_frozen - 2, 10, what="the slider")
    _wait_until(lambda: _text(page, ".lepton-trainable-count") != count_before, 20,
                what="the trainable count to follow the slider")
    trainable = int(page.locator(".lepton-trainable-number").inner_text().replace(",", ""))
    assert trainable > int(re.search(r"([\d,]+) of", count_before).group(1).replace(",", ""))

    # 3. Train, and watch the loss curve grow while the status says it is still working.
    assert count_points(page) == 0
    page.locator(".lepton-train-button").click()
    samples = []  # (seconds since click, points drawn, status text, points per trace in Plotly's data)
    started = time.monotonic()
    while time.monotonic() - started < 150:
        status = _text(page, ".lepton-status")
        samples.append((time.monotonic() - started, count_points(page), status, trace_lengths(page)))
        if re.search(r"\b(finished|failed|cancelled)\b", status):
            break
        time.sleep(0.1)
    status = samples[-1][2]
    assert "finished" in status, f"training did not finish: {status!r}; {_text(page, '.lepton-error')!r}"
    final = count_points(page)
    growing = sorted({n for _, n, s, _ in samples if 0 < n < final and "finished" not in s})
    # A FigureWidget whose anywidget model missed its 2 s start-up deadline ("[anywidget] Failed to initialize
    # model.") drops every later update: the figure stays as first drawn. The page errors say so.
    assert final >= 4 * 3, (f"expected points for several epochs, got {final}; page errors: "
                            f"{server.page_errors[:3]}; samples: {samples[::5]}")
    assert len(growing) >= 2, f"the curve did not grow live, point counts seen while training: {samples[::5]}"

    # 4. Evaluate: the confusion heatmap is drawn with one row per digit.
    page.wait_for_selector(".lepton-confusion .heatmaplayer image", timeout=30_000)
    rows = page.locator(".lepton-confusion .yaxislayer-above .ytick text")
    assert rows.count() == 10, f"{rows.count()} rows in the confusion matrix"

    # The run the engine stored is the one set up in the page.
    runs = [p for p in server.runs.iterdir() if p.is_dir() and not p.name.endswith(".partial")]
    assert len(runs) == 1, runs
    config = json.loads((runs[0] / "config.json").read_text())
    assert config["data"]["dataset"] == "digits"
    assert config["backbone"]["frozen_depth"] == int(all_frozen) - 2
    assert (runs[0] / "run.json").exists()

    # No TensorFlow / absl start-up lines, warnings or tracebacks in what the user reads.
    text = page.inner_text("body")
    leaked = NOISE.findall(text)
    assert not leaked, f"log noise in the page: {leaked[:5]}"
    assert GENUINE in text, "the injected start-up lines never ran, or a genuine stderr line was dropped"

    _screenshot(page, ARTIFACTS / "workbench.png")

    # 5. Search: three KerasTuner trials, shown trial by trial, then the picture of the step for the README.
    max_trials = page.locator(".lepton-tuner-max-trials input")
    max_trials.fill("3")
    max_trials.press("Enter")  # a text box sends its value on Enter or blur
    page.locator(".lepton-tuner-start").click()
    # Until the click reaches the kernel, the status still says how the training run ended ("finished").
    _wait_until(lambda: re.search(r"\b(preparing|running)\b", _text(page, ".lepton-tuner-status")), 30,
                what="the search to start")
    rows_seen = []
    started = time.monotonic()
    while time.monotonic() - started < 240:
        status = _text(page, ".lepton-tuner-status")
        rows_seen.append(page.locator(".lepton-trials-table tr.lepton-trial-row").count())
        if re.search(r"\b(finished|failed|cancelled)\b", status):
            break
        time.sleep(0.2)
    assert "finished" in status, f"the search did not finish: {status!r}; {_text(page, '.lepton-error')!r}"
    assert page.locator(".lepton-trials-table tr.lepton-trial-row").count() == 3
    assert len(set(rows_seen)) >= 2, f"the trials table did not fill in trial by trial: {rows_seen[::10]}"
    page.wait_for_selector(".lepton-parallel .main-svg", timeout=30_000)
    page.wait_for_selector(".lepton-best-curve .main-svg", timeout=30_000)
    page.wait_for_timeout(1500)  # let the last figure finish drawing
    page.locator(".lepton-step-search").screenshot(path=str(ARTIFACTS / "tuner.png"))

    # 6. The launcher's websocket limit: a 12 MB upload (> Tornado's 10 MiB default) arrives whole.
    big = tmp_path / "big_upload.zip"
    with zipfile.ZipFile(big, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("noise/noise.bin", os.urandom(12 * 2**20))
    with page.expect_file_chooser() as chooser:
        page.locator(".lepton-upload").click()
    chooser.value.set_files(str(big))
    _wait_until(lambda: "big_upload" in _text(page, ".lepton-upload-message"), 60,
                what="the upload to reach the kernel")
    assert "12.0 MB" in _text(page, ".lepton-upload-message"), _text(page, ".lepton-upload-message")


def _screenshot(page, path: Path) -> None:
    """The whole workbench (``path``), and beside it a summary of the header, Train and Evaluate steps
    (``<stem>-summary.png``, the picture for the README). The viewport is made as tall as the page first:
    Voilà's page scrolls inside its own container, so a full-page screenshot would show one screen only."""
    from PIL import Image

    height = int(page.evaluate("document.querySelector('.lepton-workbench').scrollHeight")) + 80
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 8000)})
    page.locator(".lepton-workbench").screenshot(path=str(path))
    parts = []
    for selector in (".lepton-app-header", ".lepton-step-train", ".lepton-step-evaluate"):
        part = path.with_name(f"{path.stem}-part.png")
        page.locator(selector).first.screenshot(path=str(part))
        parts.append(Image.open(part).convert("RGB"))
        part.unlink()
    summary = Image.new("RGB", (max(p.width for p in parts), sum(p.height for p in parts)), "white")
    top = 0
    for part in parts:
        summary.paste(part, (0, top))
        top += part.height
    summary.save(path.with_name(f"{path.stem}-summary.png"))
    assert path.stat().st_size > 10_000
