"""``lepton app --room`` in a real browser: names keep runs apart, kernels go, the token and the memory guard hold.

One room server for the module (lepton_widgets.apps.room_server.RoomServer: the command ``lepton app --room``
runs, on a free port, one preheated kernel, idle kernels culled after a few seconds) with the small setting the
other browser tests use, and headless Chromium:

- a wrong or missing token gets no page and starts no kernel;
- a name keeps runs apart: Ann has a run in her folder already; Bob enters his name in the page and trains; his
  run lands in ``people/Bob/runs`` named "Bob", Ann's folder still holds only hers, and the teacher's page (the
  second notebook of the same server) lists both, each under its person;
- closing the teacher's tab frees its kernel at once (Voilà's close request is no longer refused for
  ``_xsrf``), and Bob's tab, dropped without its close request, has its kernel culled;
- a second server that believes each kernel needs more memory than the machine has starts none and says so in
  the page.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lepton_widgets.apps.browser import MISSING, chromium, chromium_path
from lepton_widgets.apps.room_server import RoomServer
from lepton_widgets.config import RunConfig
from lepton_widgets.core.runs.room import Room, safe_name
from lepton_widgets.core.runs.store import RunStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

APP_ENV = {
    "LEPTON_APP_DATASET": "digits", "LEPTON_APP_BACKBONE": "small_cnn", "LEPTON_APP_WEIGHTS": "none",
    "LEPTON_APP_IMAGE_SIZE": "32", "LEPTON_APP_EPOCHS": "1", "LEPTON_APP_FINE_TUNE_EPOCHS": "0",
    "LEPTON_APP_MAX_PER_CLASS": "20", "LEPTON_MODE": "basic", "LEPTON_LANG": "en",
}
CULL_S = 6


def _get(url: str) -> tuple[int, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=60) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def _wait(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    if chromium_path() is None:
        pytest.fail(MISSING)
    folder = tmp_path_factory.mktemp("room")
    server = RoomServer(folder, env=APP_ENV, log_path=folder / "voila.log", pool=1, cull_idle_s=CULL_S,
                        cull_interval_s=1, kernel_memory_mb=0)
    with server:
        _wait(lambda: len(server.kernel_pids()) == 1, 60, "the pool's kernel started")
        yield server


def test_a_wrong_or_missing_token_is_refused(room):
    wrong = room.workbench_url.replace(f"token={room.token}", "token=not-the-token-at-all")
    for url in (wrong, room.workbench_url.split("?")[0]):
        status, body = _get(url)
        assert status in (302, 401, 403), (url, status)
        assert "lepton-room" not in body and "jupyter-widgets" not in body, url
    assert len(room.kernel_pids()) == 1, "a refused request must not start a kernel"


def test_a_name_keeps_runs_apart_and_the_teacher_sees_everyone(room):
    ann_runs = Room(room.room.root).runs_dir("Ann")
    writer = RunStore(ann_runs).create(RunConfig(name="Ann"))
    writer.write_json("metrics.json", {"accuracy": 0.5})
    writer.finalize("finished")

    with chromium() as context:
        page = context.new_page()
        page.goto(room.workbench_url, timeout=300_000)
        page.wait_for_selector(".lepton-room-name input", timeout=300_000)
        assert not page.locator(".lepton-workbench").count(), "the workbench comes only after a name"
        page.fill(".lepton-room-name input", "Bob")
        page.click(".lepton-room-start")
        page.wait_for_selector(".lepton-room-ready .lepton-train-button", timeout=300_000)
        page.locator(".lepton-train-button").click()
        bob = RunStore(room.room.people_dir / safe_name("Bob") / "runs")
        runs = _wait(lambda: [r for r in bob.runs(include_incomplete=False) if r.status == "finished"], 400,
                     "Bob's run finished in his folder")
        assert [r.config.name for r in runs] == ["Bob"]
        assert [r.config.name for r in RunStore(ann_runs).runs()] == ["Ann"], "Bob's run went into Ann's folder"
        assert sorted(p.name for p in room.room.people_dir.iterdir()) == ["Ann", "Bob"]

        teacher = context.new_page()
        teacher.goto(room.teacher_url, timeout=300_000)
        board = teacher.wait_for_selector(".lepton-room-board table", timeout=300_000)
        rows = [r.split("\t") for r in board.inner_text().splitlines()[1:]]
        assert sorted((r[0], r[1]) for r in rows) == [("Ann", "Ann"), ("Bob", "Bob")], rows

        kernels = len(room.kernel_pids())
        teacher.close(run_before_unload=True)  # the page's close request: its kernel must go at once
        _wait(lambda: len(room.kernel_pids()) == kernels - 1, 10, "the closed teacher page's kernel shut down")
        assert "_xsrf" not in room.log_tail(100_000)

        # Bob's tab goes without its close request (a crashed browser, a lost network): culling must free it.
        page.close(run_before_unload=False)
        _wait(lambda: len(room.kernel_pids()) == 1, CULL_S + 20, "Bob's idle kernel was culled")
    assert "Culling kernel" in room.log_tail(100_000) or "culling" in room.log_tail(100_000).lower()


def test_the_memory_guard_refuses_a_kernel_in_plain_words(tmp_path):
    server = RoomServer(tmp_path / "room", env=APP_ENV, log_path=tmp_path / "voila.log", pool=1,
                        kernel_memory_mb=10**9)
    with server:
        time.sleep(2)  # the pool tries (and is refused) at start
        status, body = _get(server.workbench_url)
        assert status == 503, (status, body[:500])
        assert "short of memory" in body and "lepton-memory-refusal" in body
        assert server.kernel_pids() == [], "no kernel may start when it does not fit"


def test_the_room_opens_to_the_network_only_when_asked_and_always_with_a_token(tmp_path, capsys):
    import socket

    from lepton_widgets.apps.room_server import room_command
    from lepton_widgets.cli import main

    cmd, env, links = room_command(tmp_path / "room", 8900, token="a-secret-token", max_training=3)
    assert "--Voila.ip=127.0.0.1" in cmd and links["workbench"].startswith("http://127.0.0.1:8900/")
    assert env["LEPTON_QUEUE_DIR"] == str((tmp_path / "room" / "queue").resolve())
    assert env["LEPTON_TRAINING_SLOTS"] == "3"

    cmd, env, links = room_command(tmp_path / "room", 8900, ip="0.0.0.0", token="a-secret-token",
                                   allow_hosts=["lab.example"])
    hosts = {part.split("=", 1)[1] for part in cmd if part.startswith("--LeptonVoila.allowed_hosts=")}
    assert "--Voila.ip=0.0.0.0" in cmd
    assert {"lab.example", socket.gethostname().lower(), "127.0.0.1"} <= hosts, hosts
    assert "evil.example" not in hosts
    assert links["workbench"].endswith("?token=a-secret-token") and "127.0.0.1" not in links["workbench"]
    assert not any("a-secret-token" in part for part in cmd), "the token must not be on the command line"

    assert main(["app", "--ip", "0.0.0.0"]) == 2, "only a room may open the server to the network"
    assert "--room" in capsys.readouterr().err
