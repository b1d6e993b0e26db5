"""The frozen-blocks slider says what the text says: its number is the count of frozen blocks (0..N, N =
all frozen), in Python and in a real browser.

In Chromium, a slider first drawn with a placeholder range (0..1, while the blocks are counted in a
thread) and then re-ranged to MobileNetV2's 19 blocks kept the old range for its keys: End jumped to 1
while the text said "all 19 blocks frozen". The browser test presses the keys a person would.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest

from lepton_widgets.state import Session


def _numbers(text: str) -> tuple[int, int]:
    """(frozen, total) as the count line words it."""
    if match := re.search(r"all (\d+) blocks frozen", text):
        return int(match.group(1)), int(match.group(1))
    if match := re.search(r"no block frozen: all (\d+) blocks", text):
        return 0, int(match.group(1))
    match = re.search(r"first (\d+) of (\d+) blocks frozen", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


def test_slider_text_and_session_agree_when_either_side_moves():
    from lepton_widgets.panels.freeze import FreezePanel

    session = Session(dataset="digits", backbone="small_cnn", weights="none", image_size=32)
    panel = FreezePanel(session)
    assert panel.wait(120)
    n = panel.summary.n_blocks
    assert (panel.slider.min, panel.slider.max) == (0, n) and not panel.slider.disabled
    for depth, setting in ((0, 0), (1, 1), (n - 1, n - 1), (n, None)):
        panel.slider.value = depth  # a person moves the slider
        assert session.frozen_depth == setting
        assert _numbers(panel.count.value) == (depth, n), panel.count.value
    session.frozen_depth = 2  # code (a loaded config) moves the session
    assert panel.slider.value == 2 and _numbers(panel.count.value) == (2, n)
    session.frozen_depth = None
    assert panel.slider.value == n and _numbers(panel.count.value) == (n, n)
    assert f"the last {n - 1} (" in _count_after(panel, 1)  # the trainable blocks are counted too
    assert "fine-tune" in _count_after(panel, n - 1) and ".." not in _count_after(panel, n - 1).split(";")[1][:40]

    # Another backbone, another block count: a slider made with its own range, never re-ranged.
    first = panel.slider
    session.frozen_depth = None
    with session.hold_trait_notifications():
        session.backbone, session.weights, session.image_size = "mobilenet_v2", "offline", 32
    assert panel.wait(180) and panel.summary.n_blocks == 19
    assert panel.slider is not first and panel.slider_box.children == (panel.slider,)
    assert (panel.slider.min, panel.slider.max, panel.slider.value) == (0, 19, 19)
    assert _numbers(panel.count.value) == (19, 19) and session.frozen_depth is None
    panel.slider.value = 17
    assert session.frozen_depth == 17 and _numbers(panel.count.value) == (17, 19)
    first.value = 1  # the replaced slider is gone from the page and moves nothing
    assert session.frozen_depth == 17


def _count_after(panel, depth: int) -> str:
    panel.slider.value = depth
    return panel.count.value


NOTEBOOK = ("from lepton_widgets.state import Session\nfrom lepton_widgets.panels.freeze import FreezePanel\n"
            "session = Session(dataset='digits', backbone='mobilenet_v2', weights='offline', image_size=96)\n"
            "FreezePanel(session)")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(400)
def test_slider_keys_in_chromium_move_over_every_block_and_match_the_text(tmp_path):
    from lepton_widgets.apps.browser import MISSING, chromium, chromium_path
    from lepton_widgets.apps.launch import VoilaServer

    if chromium_path() is None:
        pytest.fail(MISSING)  # never a skip: a missing browser would silently drop the check
    notebook = tmp_path / "freeze.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK)]
    nbformat.write(nb, notebook)
    with VoilaServer(notebook=notebook, env={"LEPTON_HOME": str(tmp_path / "home")},
                     log_path=tmp_path / "voila.log") as server, chromium(viewport=(1200, 900)) as browser:
        page = browser.new_page()
        page.goto(server.url, wait_until="commit", timeout=60_000)
        page.wait_for_selector(".lepton-frozen-depth .noUi-handle", timeout=150_000)
        deadline = time.monotonic() + 120
        while page.locator(".lepton-frozen-depth [disabled]").count() or "Trainable parameters:</b> unknown" in \
                page.content() or "19" not in (page.locator(".lepton-trainable-count").inner_text() or ""):
            assert time.monotonic() < deadline, "the block count never arrived"
            time.sleep(0.2)

        def shown(expected: int) -> tuple[int, int, int]:
            """(handle position, readout number, frozen blocks in the text): polled until all three are
            ``expected`` (a key press round-trips to the kernel and back) or 15 s have passed."""
            deadline = time.monotonic() + 15
            while True:
                handle = page.locator(".lepton-frozen-depth .noUi-handle")
                readout = page.locator(".lepton-frozen-depth .widget-readout").inner_text()
                frozen, total = _numbers(page.locator(".lepton-trainable-count").inner_text())
                state = (round(float(handle.get_attribute("aria-valuenow"))), int(readout), frozen)
                if state == (expected,) * 3 or time.monotonic() > deadline:
                    assert total == 19
                    return state
                time.sleep(0.2)

        assert shown(19) == (19, 19, 19)  # all frozen, and it says so
        page.locator(".lepton-frozen-depth .noUi-handle").focus()
        page.keyboard.press("ArrowLeft")
        assert shown(18) == (18, 18, 18)
        page.keyboard.press("Home")
        assert shown(0) == (0, 0, 0)
        page.keyboard.press("End")
        assert shown(19) == (19, 19, 19)
