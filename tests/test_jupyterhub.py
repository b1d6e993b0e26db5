"""deploy/jupyterhub: a real JupyterHub serving the workbench to two people, each in their own Chromium.

The hub is started as a person would start it (``jupyterhub -f deploy/jupyterhub/jupyterhub_config.py``), on
free ports, with its root in a temporary folder and the small setting of the browser tests (digits, small_cnn,
32 px). JupyterHub starts configurable-http-proxy, the idle culler and, when each person signs in, their own
Jupyter server with Voilà. A wrong password is refused first and starts nothing. Then Alice and Bob sign in with
the room's password in separate browser contexts (separate cookies, as on two laptops), land on the workbench's
Voilà page, and see its widgets and charts render, the charts' Plotly script served once from the shared cache.

Each already has one run in their folder (``<root>/users/<name>/runs``), made before the hub starts: Alice's page
lists hers and not Bob's, and Bob's the other way round, so the page's kernel reads the person's own runs
folder. The kernels' environments say the same (``LEPTON_RUNS``), and carry ``TF_CPP_MIN_LOG_LEVEL=3``. The idle
culler, a hub service, could list the servers with the permissions the config gives it.

Every process the hub started (proxy, culler, servers, kernels) carries a marker in its environment. Teardown
stops the hub with SIGTERM, as an operator would, and fails if anything carrying the marker outlived that (and
kills it), so a failing test leaves nothing behind either. Artefacts:
``test-artifacts/jupyterhub.log`` (the hub's, servers' and proxy's lines) and, on failure, ``jupyterhub-<name>.png``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest

from lepton_widgets.apps.browser import CHROMIUM_ARGS, MISSING, chromium_path, wait_for_figures, wait_for_workbench
from lepton_widgets.apps.launch import CELL_TIMEOUT_S, PLOTLY_LAB_EXTENSION, free_port, max_upload_bytes

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "room-password-for-tests"
USERS = ("alice", "bob")
SMALL = {"LEPTON_APP_DATASET": "digits", "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none",
         "LEPTON_APP_IMAGE_SIZE": "32"}
MARK = "LEPTON_TEST_HUB_MARK"  # a LEPTON_* name: the config passes it on to every server and kernel


def _need_tools() -> None:
    # Never a skip: a missing piece would silently drop the check.
    if chromium_path() is None:
        pytest.fail(MISSING)
    if shutil.which("configurable-http-proxy") is None:
        pytest.fail("configurable-http-proxy is missing: apt-get install nodejs npm && "
                    "npm install -g configurable-http-proxy (.ci/run does it)")
    for module in ("jupyterhub", "jupyterhub_idle_culler", "playwright.sync_api"):
        try:
            __import__(module)
        except ImportError:
            pytest.fail(f"{module} is missing: pip install -e '.[test]'")


def _marked(mark: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``MARK=mark`` (the hub's and all it started)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.Error, OSError):
            continue  # another user's process, or one that just ended
    return found


def _stop(hub: subprocess.Popen, mark: str) -> list[str]:
    """Stop the hub as an operator would (SIGTERM: it stops the servers, their kernels and the proxy) and return
    what outlived that by 20 s; whatever did is then killed, so nothing is left behind either way."""
    if hub.poll() is None:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
    deadline = time.monotonic() + 20  # kernels notice their server is gone within a few seconds
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = []
    for process in _marked(mark):
        with contextlib.suppress(psutil.Error):
            left.append(f"{process.pid} {' '.join(process.cmdline()[:4])}")
            process.kill()
    psutil.wait_procs(_marked(mark), timeout=5)
    return left


def _seed_run(home: Path, name: str) -> str:
    """One finished run in ``home/runs`` (the run store's own writer); its id."""
    from lepton_widgets.config import RunConfig
    from lepton_widgets.core.runs.store import RunStore

    return RunStore(home / "runs").create(RunConfig(name=name)).finalize("finished").run_id


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    _need_tools()
    root = tmp_path_factory.mktemp("hub")
    runs = {user: _seed_run(root / "users" / user, f"{user}-own-run") for user in USERS}
    mark = uuid.uuid4().hex
    port = free_port()
    env = {**os.environ, **SMALL, MARK: mark,
           "LEPTON_HUB_ROOT": str(root), "LEPTON_HUB_PASSWORD": PASSWORD, "LEPTON_HUB_PORT": str(port),
           "LEPTON_HUB_INTERNAL_PORT": str(free_port()), "LEPTON_HUB_PROXY_API_PORT": str(free_port()),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("LEPTON_HOME", "LEPTON_RUNS", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)  # the hub's own choice (its root's cache, each person's runs) is under test
    log_path = root / "jupyterhub.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=root, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({process.returncode}): {log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{url}/hub/login", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the hub did not answer: {log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield {"url": url, "root": root, "runs": runs, "mark": mark, "log": log_path}
    finally:
        left = _stop(process, mark)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(log_path, ARTIFACTS / "jupyterhub.log")  # the hub's, the servers' and the proxy's lines
        assert not left, f"processes outlived the hub's shutdown (killed now): {left}"


def _sign_in(page, url: str, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/hub/login", wait_until="domcontentloaded", timeout=30_000)
    page.fill("#username_input", user)
    page.fill("#password_input", password)
    # The hub then spawns the server and redirects to its default URL, the workbench's Voilà page.
    page.click("#login_submit", no_wait_after=True)


def test_two_people_get_their_own_workbench_and_runs(hub):
    from playwright.sync_api import sync_playwright

    pages = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            errors = {user: [] for user in USERS}
            for user in USERS:  # both sign in before either page is awaited: the two servers start together
                pages[user] = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                pages[user].on("pageerror", lambda error, user=user: errors[user].append(str(error)))
                if user == USERS[0]:  # a wrong password first: the hub must say no and start nothing
                    _sign_in(pages[user], hub["url"], user, password=PASSWORD[::-1])
                    pages[user].wait_for_selector(".login_error", timeout=30_000)
                    assert "/hub/login" in pages[user].url
                    servers = [p for p in _marked(hub["mark"]) if "jupyterhub.singleuser" in " ".join(p.cmdline())]
                    assert not servers, "a wrong password started a server"
                _sign_in(pages[user], hub["url"], user)
            for user, page in pages.items():
                try:
                    wait_for_workbench(page, timeout_s=120)
                    assert page.url.startswith(f"{hub['url']}/user/{user}/voila/render/workbench.ipynb"), page.url
                    wait_for_figures(page, timeout_s=90, settle_s=0.5)
                    # Plotly's script came once, from the shared cache through this person's server (the
                    # config's extra static path), not inside every chart.
                    scripts = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                                            ".filter(name => name.includes('/plotly-widget-'))")
                    assert scripts and all(f"/user/{user}/static/" in name for name in scripts), scripts
                    plotly_extension = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                                                     f".filter(name => name.includes('{PLOTLY_LAB_EXTENSION}'))")
                    assert not plotly_extension, plotly_extension
                    table = page.locator(".lepton-runs-table").first.text_content()
                    other = next(name for name in USERS if name != user)
                    assert hub["runs"][user] in table, f"{user}'s page does not list {user}'s run: {table[:300]}"
                    assert hub["runs"][other] not in table, f"{user}'s page lists {other}'s run"
                    assert not [e for e in errors[user] if "anywidget" in e], errors[user]
                except BaseException:
                    print(f"{user}'s page at {page.url}; its JavaScript errors: {errors[user][:5]}")
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / f"jupyterhub-{user}.png"))
                    raise
            # The kernels behind the open pages: one per person, with that person's runs folder and
            # TensorFlow kept quiet.
            kernels = [p for p in _marked(hub["mark"]) if "ipykernel_launcher" in " ".join(p.cmdline())]
            by_user = {p.environ().get("JUPYTERHUB_USER"): p.environ() for p in kernels}
            assert set(by_user) == set(USERS), f"kernels: {[p.cmdline() for p in kernels]}"
            for user, kernel_env in by_user.items():
                assert kernel_env["LEPTON_RUNS"] == str(hub["root"] / "users" / user / "runs")
                assert kernel_env["TF_CPP_MIN_LOG_LEVEL"] == "3"
            # The config copies three of `lepton app`'s settings rather than import the package (TensorFlow):
            # they must still agree with it.
            servers = [p.cmdline() for p in _marked(hub["mark"]) if "jupyterhub.singleuser" in p.cmdline()]
            assert len(servers) == len(USERS), servers
            for server in servers:
                assert f"--VoilaExecutor.timeout={CELL_TIMEOUT_S}" in server, server
                assert f"'websocket_max_message_size': {max_upload_bytes()}" in " ".join(server), server
                assert f"--VoilaConfiguration.extension_denylist=['{PLOTLY_LAB_EXTENSION}']" in server, server
        finally:
            browser.close()
    # The idle culler (a hub service) could list the servers with the scopes the config gives it.
    culler = [line for line in hub["log"].read_text(errors="replace").splitlines() if "(idle-culler@" in line]
    assert any(" 200 GET /hub/api/users" in line for line in culler), culler[-5:]
    assert not [line for line in culler if " 403 " in line], culler[-5:]
