"""The classroom view in a real browser: Voilà serving notebooks/workbench.ipynb with ``LEPTON_MODE=basic`` and
``LEPTON_LANG=zh`` (what ``lepton app --basic --lang zh`` sets), headless Chromium.

The page's visible text (``document.body.innerText``: hidden sections are left out) must hold no English word
beyond data names (the dataset's name and class names) and the names every language keeps
(tests/visible_text.py). Then the page's own language control switches it to English, and the English step
titles must be there. Screenshots of both go to docs/ (workbench_basic_zh.png, workbench_basic_en.png), the
pictures the README shows for the classroom view; the page's text goes to test-artifacts/ on failure.

The server is started like tests/test_browser.py starts it (lepton_widgets.apps.launch.VoilaServer on a free
port with the small setting), and stopped, kernels included, whatever happens.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from visible_text import english_words

from lepton_widgets.apps.browser import MISSING, chromium, chromium_path, wait_for_figures, wait_for_workbench
from lepton_widgets.apps.launch import VoilaServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs"
APP_ENV = {
    "LEPTON_APP_DATASET": "digits", "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none",
    "LEPTON_APP_IMAGE_SIZE": "32", "LEPTON_APP_EPOCHS": "2", "LEPTON_APP_MAX_PER_CLASS": "40",
    "LEPTON_MODE": "basic", "LEPTON_LANG": "zh",
}
#: Names, not words: the language control's own-name entry for English, and the identifiers a person also
#: types in code or a config (built-in datasets and kinds of data, networks, their block names, licence ids).
#: Every sentence around them must be Chinese.
ALLOWED = ["English", "block", "BSD", "Clause", "Apache", "MIT", "CC", "BY", "UCI"]


def identifiers() -> list[str]:
    """The registry names a page shows as they are: datasets, data kinds and backbones."""
    from lepton_widgets.core.backbones.registry import list_backbones
    from lepton_widgets.core.data.registry import list_datasets

    return [*list_datasets(include_user=False), *(spec.name for spec in list_backbones()),
            "folder", "wav_folder", "text_folder", "text_csv", "table_csv", "medmnist", "MedMNIST", "npz", "gtsrb",
            "GTSRB",
            # the weights sources a config names (backbone.weights), quoted in the sources table's reasons
            "offline", "imagenet", "none", "file"]


def _without_urls(text: str) -> str:
    import re

    return re.sub(r"https?://\S+|\b[\w.-]+\.(?:org|com|edu|io)(?:/\S*)?", " ", text)
BASIC_TITLES = ["Data", "Backbone", "Augment", "Train", "Evaluate"]


def _need_chromium() -> None:
    if chromium_path() is None:
        pytest.fail(MISSING)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the playwright Python package is missing: pip install -e '.[test]' (make setup)")


@pytest.fixture
def server(tmp_path, monkeypatch):
    _need_chromium()
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    ARTIFACTS.mkdir(exist_ok=True)
    env = {**APP_ENV, "LEPTON_HOME": str(tmp_path / "home")}
    log = tmp_path / "voila.log"
    with VoilaServer(notebook=ROOT / "notebooks" / "workbench.ipynb", env=env, runs_dir=tmp_path / "runs",
                     log_path=log) as served:
        yield served
    (ARTIFACTS / "voila-classroom.log").write_text(log.read_text(errors="replace") if log.exists() else "")


def _settle(page) -> None:
    """Wait for the five steps and their figures, then until the visible text stops changing."""
    page.wait_for_selector(".lepton-step-evaluate", timeout=120_000)
    wait_for_figures(page)
    last, stable_since = None, time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = page.evaluate("document.body.innerText")
        if text != last:
            last, stable_since = text, time.monotonic()
        elif time.monotonic() - stable_since > 2:
            return
        time.sleep(0.25)


def _screenshot(page, path: Path) -> None:
    """The whole workbench: the viewport is made as tall as the page first (Voilà scrolls in a container)."""
    height = int(page.evaluate("document.querySelector('.lepton-workbench').scrollHeight")) + 80
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 8000)})
    page.locator(".lepton-workbench").screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_the_basic_chinese_classroom_view_has_no_english_and_switches_to_english(server):
    DOCS.mkdir(exist_ok=True)
    with chromium(viewport=(1400, 1000)) as browser:
        page = browser.new_page()
        try:
            page.goto(server.url, wait_until="commit", timeout=60_000)
            wait_for_workbench(page, timeout_s=240)
            _settle(page)

            # Only the five basic steps are on the page.
            shown = page.evaluate("""() => [...document.querySelectorAll('.lepton-step')]
                .filter(s => s.offsetParent !== null)
                .map(s => [...s.classList].find(c => c.startsWith('lepton-step-')))""")
            assert shown == ["lepton-step-data", "lepton-step-backbone", "lepton-step-augment", "lepton-step-train",
                             "lepton-step-evaluate", "lepton-step-glossary"], shown

            text = page.evaluate("document.body.innerText")
            (ARTIFACTS / "classroom-zh.txt").write_text(text)
            left = english_words(_without_urls(text), allowed=ALLOWED + identifiers())
            _screenshot(page, DOCS / "workbench_basic_zh.png")
            assert "数据" in text and "训练" in text

            # The page's own language control: English, same kernel, same Session.
            page.locator(".lepton-language select").select_option(label="English")
            page.wait_for_function("() => document.body.innerText.toLowerCase().includes('show advanced steps')",
                                   timeout=60_000)
            _settle(page)
            english = page.evaluate("document.body.innerText")
            (ARTIFACTS / "classroom-en.txt").write_text(english)
            _screenshot(page, DOCS / "workbench_basic_en.png")
            for number, title in enumerate(BASIC_TITLES, start=1):
                # Step labels are shown in capitals (CSS), which innerText reports: compare case-blind.
                assert f"step {number} of 5 · {title}".lower() in english.lower(), title
            assert "数据" not in english
            # Checked last, so that both pictures and both texts are there to look at when it fails.
            assert not left, (f"{len(left)} English words left in the Chinese basic page: {sorted(set(left))}; "
                              f"the text is in test-artifacts/classroom-zh.txt")
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "classroom-failure.png"))
            raise
