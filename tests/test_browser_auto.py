"""The Auto step end to end in a real browser: Voilà serving the workbench, headless Chromium, from upload to
model card.

A person uploads a zip of digit pictures (class folders, a few in the wrong folder), sets a three-minute budget
and the "Fast" goal, and presses Start. The stage list fills in stage by stage and the leaderboard gets its
rows while Auto works; at the end the page shows the likely mislabelled pictures as thumbnails, the chosen
model's card, and "Open in the expert steps" puts the chosen run into the other steps (the Data step's
dataset and the Train step's run name follow). No traceback or log line reaches the page.

The server is test_browser.py's (the shipped notebook with TensorFlow's start-up noise injected, a small
``LEPTON_APP_*`` setting, stopped with its kernels whatever happens). The picture of the step is saved as
``test-artifacts/auto.png``, and its top down to the start of the model card as ``auto-summary.png`` (the
README's ``docs/auto.png`` is a copy of it).
"""

from __future__ import annotations

import io
import re
import time
import zipfile

import numpy as np
import pytest
from PIL import Image
from test_browser import ARTIFACTS, NOISE, _text, _wait_until, server  # noqa: F401 - server is a fixture

from lepton_widgets.apps.browser import chromium, wait_for_figures, wait_for_workbench
from lepton_widgets.core.auto.stages import STAGE_ORDER

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def _digits_zip(path, per_class: int = 25, flipped: int = 6, seed: int = 0) -> set[str]:
    """Real digits (scikit-learn) as PNGs in class folders inside a zip, ``flipped`` of them in a wrong folder;
    returns the wrong ones' file names."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(digits.target == c), per_class, replace=False)
                             for c in range(10)])
    wrong = set(rng.choice(chosen, flipped, replace=False).tolist())
    with zipfile.ZipFile(path, "w") as archive:
        for index in chosen:
            label = int(digits.target[index])
            folder = (label + 3) % 10 if index in wrong else label
            image = Image.fromarray((digits.images[index] * 255 / 16).astype(np.uint8)).resize((32, 32),
                                                                                               Image.NEAREST)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            archive.writestr(f"digits/{folder}/d{index}.png", buffer.getvalue())
    return {f"d{index}.png" for index in wrong}


def test_the_auto_step_in_chromium_from_upload_to_model_card(server, tmp_path):
    upload = tmp_path / "my_digits.zip"
    _digits_zip(upload)
    with chromium(viewport=(1400, 1000)) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            _story(page, server, upload)
            assert not errors, f"JavaScript errors in the page: {errors[:3]}"
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / "auto-failure.png"))
            raise


def _story(page, server, upload) -> None:
    page.goto(server.url, wait_until="commit", timeout=60_000)
    wait_for_workbench(page, timeout_s=150)
    wait_for_figures(page)
    assert page.locator(".lepton-step").first.get_attribute("class").count("lepton-step-auto") == 1, \
        "Auto is the first step"

    # 1. Upload the zip in the Auto step.
    with page.expect_file_chooser() as chooser:
        page.locator(".lepton-auto-upload").click()
    chooser.value.set_files(str(upload))
    _wait_until(lambda: "my_digits" in _text(page, ".lepton-auto-upload-message"), 60,
                what="the upload to reach the kernel")
    # The Data step follows: its dataset is now the uploaded zip.
    _wait_until(lambda: page.locator(".lepton-dataset-select select").input_value().startswith("zip"), 20,
                what="the Data step to show the upload")

    # 2. Three minutes, the Fast goal, Start.
    handle = page.locator(".lepton-auto-budget .noUi-handle")
    handle.focus()
    for _ in range(2):
        page.keyboard.press("ArrowLeft")
    _wait_until(lambda: float(handle.get_attribute("aria-valuenow")) == 3, 10, what="the budget slider")
    page.locator(".lepton-auto-goal button", has_text="Fast").click()
    _wait_until(lambda: "fast model" in _text(page, ".lepton-auto-goal-note"), 10, what="the goal's description")
    page.locator(".lepton-auto-start").click()

    # 3. While Auto works: stages end one by one, the leaderboard gets rows.
    stage_rows = page.locator(".lepton-auto-stages tr.lepton-auto-stage")
    seen, started = [], time.monotonic()
    while time.monotonic() - started < 420:
        ended = page.locator(".lepton-auto-stages tr.lepton-auto-stage-done, "
                             ".lepton-auto-stages tr.lepton-auto-stage-skipped").count()
        rows = page.locator(".lepton-auto-leaderboard tr.lepton-auto-row").count()
        status = _text(page, ".lepton-auto-status")
        seen.append((round(time.monotonic() - started), ended, rows, status[:80]))
        if re.search(r"Auto (finished|stopped|could not)", status):
            break
        time.sleep(0.5)
    assert "Auto finished" in status, f"Auto did not finish: {status!r}; seen {seen[::10]}"
    assert len({ended for _, ended, _, _ in seen}) >= 3, f"the stage list did not fill in live: {seen[::10]}"
    assert stage_rows.count() == len(STAGE_ORDER)
    assert page.locator(".lepton-auto-stages tr.lepton-auto-stage-done").count() >= 4
    assert page.locator(".lepton-auto-stages tr.lepton-auto-stage-failed").count() == 0
    assert "Checking the data" in _text(page, ".lepton-auto-stages")

    # 4. The leaderboard, with Auto's choice marked.
    rows = page.locator(".lepton-auto-leaderboard tr.lepton-auto-row")
    assert rows.count() >= 1
    assert page.locator(".lepton-auto-leaderboard tr.lepton-auto-row-chosen").count() == 1
    assert "chosen" in page.locator(".lepton-auto-leaderboard tr.lepton-auto-row-chosen").inner_text()
    page.wait_for_selector(".lepton-auto-leaderboard-figure .main-svg", timeout=30_000)

    # 5. The pictures that look mislabelled, as thumbnails, with what they look like.
    issues = page.locator(".lepton-auto-issue")
    assert issues.count() >= 1, _text(page, ".lepton-auto-issues")
    assert page.locator(".lepton-auto-issue img").count() == issues.count()
    assert "looks like" in issues.first.inner_text()
    assert page.locator(".lepton-auto-exclude").is_visible() and page.locator(".lepton-auto-keep").is_visible()

    # 6. The model card.
    card = _text(page, ".lepton-auto-card")
    assert "Model card" in card and "How Auto chose this model" in card, card[:1500]
    assert page.locator(".lepton-auto-card table").count() >= 1  # its Markdown tables are tables

    # No TensorFlow / absl lines, warnings or tracebacks in what the user reads.
    leaked = NOISE.findall(page.inner_text("body"))
    assert not leaked, f"log noise in the page: {leaked[:5]}"

    _screenshot_step(page)

    # 7. Open in the expert steps: the Train step's run name becomes the chosen run's.
    page.locator(".lepton-auto-open").click()
    _wait_until(lambda: "Opened" in _text(page, ".lepton-auto-open-message"), 30, what="the chosen run to open")
    _wait_until(lambda: page.locator(".lepton-run-name input").input_value().startswith("auto "), 20,
                what="the Train step to show the chosen run's name")


def _screenshot_step(page) -> None:
    """The Auto step (``test-artifacts/auto.png``) and its top down to the start of the model card
    (``auto-summary.png``, the README's ``docs/auto.png``). The viewport is made as tall as the step first, since
    Voilà's page scrolls inside its own container."""
    step = page.locator(".lepton-step-auto")
    height = int(step.evaluate("e => e.scrollHeight")) + 200
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 8000)})
    step.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    step.screenshot(path=str(ARTIFACTS / "auto.png"))
    assert (ARTIFACTS / "auto.png").stat().st_size > 10_000
    top, card = step.bounding_box(), page.locator(".lepton-auto-card").bounding_box()
    bottom = card["y"] + min(card["height"], 520)
    page.screenshot(path=str(ARTIFACTS / "auto-summary.png"),
                    clip={"x": top["x"], "y": top["y"], "width": top["width"], "height": bottom - top["y"]})
