"""Headless Chromium on the served workbench, for the browser tests and the UI latency benchmark.

Playwright drives the system's Debian Chromium (``/usr/bin/chromium``): Playwright's own browser download
needs internet, which these machines do not have. Each launch gets a fresh profile, so no state leaks
from one test to the next.

Example:
    >>> with chromium() as browser:                       # doctest: +SKIP
    ...     page = browser.new_page()
    ...     page.goto("http://127.0.0.1:8866/?token=...")  # the URL `lepton app` prints (VoilaServer.url)
    ...     wait_for_workbench(page)
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MISSING = "Chromium is missing: apt-get install chromium (Debian's package; `playwright install` needs internet)"

# Number of data points drawn in the curves figure: Plotly draws one <path class="point"> per marker, and
# the line of each trace as a path whose "d" has one command per point. Markers are counted when present.
COUNT_POINTS_JS = """(selector) => {
    const root = document.querySelector(selector);
    if (!root) return -1;
    const markers = root.querySelectorAll('.scatterlayer .trace .points path');
    if (markers.length) return markers.length;
    let n = 0;
    for (const line of root.querySelectorAll('.scatterlayer .trace .js-line')) {
        const d = line.getAttribute('d') || '';
        n += (d.match(/[ML]/g) || []).length;
    }
    return n;
}"""


# Points per trace in the figure's own data (what Plotly holds, drawn or not): tells "never arrived" from
# "arrived but not drawn" when a test fails.
TRACE_LENGTHS_JS = """(selector) => {
    const root = document.querySelector(selector);
    const plot = root && (root.classList.contains('js-plotly-plot') ? root : root.querySelector('.js-plotly-plot'));
    return plot && plot.data ? plot.data.map(t => (t.x || []).length) : null;
}"""


def chromium_path() -> Optional[str]:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1400, 1000)) -> Iterator:
    """A headless Chromium browser context with a throw-away profile (Playwright sync API)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError(MISSING)
    profile = tempfile.mkdtemp(prefix="lepton-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def wait_for_workbench(page, timeout_s: float = 120.0) -> None:
    """Wait until the workbench's widgets are rendered (the kernel started and ran the notebook)."""
    page.wait_for_selector(".lepton-workbench", timeout=timeout_s * 1000)


def wait_for_figures(page, timeout_s: float = 60.0, settle_s: float = 2.5) -> None:
    """Wait until every Plotly figure on the page has drawn, then ``settle_s`` more.

    Each FigureWidget loads Plotly's 5 MB widget bundle on its own, and anywidget 0.11 gives a widget model
    2 s to start; one that misses it ignores every later update ("[anywidget] Failed to initialize model."
    in the console), so the figure stays as first drawn. Starting to click while the figures still load
    adds kernel work to a busy CPU; waiting here is what a person does anyway.
    """
    page.wait_for_function("""() => {
        const plots = [...document.querySelectorAll('.js-plotly-plot')];
        return plots.length > 0 && plots.every(p => p.querySelector('.main-svg'));
    }""", timeout=timeout_s * 1000)
    page.wait_for_timeout(settle_s * 1000)


def count_points(page, selector: str = ".lepton-curves") -> int:
    """Points drawn in the Plotly figure under ``selector`` (-1 when it is not on the page)."""
    return page.evaluate(COUNT_POINTS_JS, selector)


def trace_lengths(page, selector: str = ".lepton-curves") -> Optional[list[int]]:
    """Points per trace in the Plotly figure's data under ``selector`` (None when there is no figure)."""
    return page.evaluate(TRACE_LENGTHS_JS, selector)
