"""The server behind ``lepton app`` obeys only its user: a token, a Host allow-list and Origin checks.

Issue 13, item 1: a web page the user visits must not be able to drive the workbench. Before the fix, a
client sending ``Host: evil.example`` and ``Origin: http://evil.example`` with no token could open the
kernel websocket and change widgets. Here a real Voilà server (apps/launch.py's ``VoilaServer``, the code
behind ``lepton app``) serves a tiny notebook: a text box whose value an observer copies, upper-cased, into
a label. Raw HTTP requests (``http.client``, which sends whatever ``Host`` it is given) and a real
websocket client (``websocket-client``, a jupyter_server dependency) try the page and the kernel websocket
with a foreign ``Host``, a foreign ``Origin``, no token and a wrong token: each is refused. With the token
on 127.0.0.1 the page renders, a kernel starts, and a widget message round-trips through it.
"""

from __future__ import annotations

import http.client
import json
import re
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import nbformat
import pytest
import websocket  # websocket-client

from lepton_widgets.apps.launch import VoilaServer

pytestmark = pytest.mark.timeout(300)

EVIL = "evil.example"
CELL = """\
import ipywidgets as w
from IPython.display import display
box = w.Text(value='', description='name')
echo = w.Label(value='')
box.observe(lambda change: setattr(echo, 'value', change['new'].upper()), 'value')
print(f'BOX={box.model_id} ECHO={echo.model_id}')
display(w.VBox([box, echo]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("security")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "tiny.ipynb")
    with VoilaServer(notebook=folder / "tiny.ipynb", env={"LEPTON_HOME": str(folder / "home")},
                     runs_dir=folder / "runs", log_path=folder / "voila.log") as served:
        served.folder = folder
        yield served


def _parts(server) -> tuple[str, str]:
    """(host:port, token) of the URL the server prints."""
    split = urlsplit(server.url)
    token = dict(p.split("=", 1) for p in split.query.split("&") if "=" in p).get("token", "")
    return split.netloc, token


def _get(server, path: str, headers: dict | None = None) -> tuple[int, dict, str]:
    netloc, _ = _parts(server)
    host, port = netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        connection.request("GET", path, headers={"Host": netloc, **(headers or {})})
        response = connection.getresponse()
        headers = dict(response.getheaders())
        # Every cookie, in the order set (a dict keeps only the last): the login cookie, then Voilà's _xsrf one.
        headers["Set-Cookie"] = "\n".join(response.headers.get_all("Set-Cookie") or [])
        return response.status, headers, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _page(server, headers: dict | None = None, token: str | None = None) -> tuple[int, dict, str]:
    _, real = _parts(server)
    token = real if token is None else token
    return _get(server, f"/?token={token}" if token else "/", headers)


def _rendered(body: str) -> bool:
    """The notebook ran for this request: its output (the widget ids) is in the page."""
    return "BOX=" in body


def _kernel_and_ids(server) -> tuple[str, str, str]:
    """Load the page as its user: (kernel id, text box model id, label model id)."""
    status, _, body = _page(server)
    assert status == 200 and _rendered(body), (status, body[:500], server.log_tail())
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
    ids = re.search(r"BOX=([0-9a-f]+) ECHO=([0-9a-f]+)", body)
    return kernel, ids.group(1), ids.group(2)


def _ws_url(server, kernel: str, token: str | None) -> str:
    netloc, _ = _parts(server)
    query = f"?token={token}" if token else ""
    return f"ws://{netloc}/api/kernels/{kernel}/channels{query}"


def _message(msg_type: str, content: dict, channel: str = "shell") -> dict:
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": uuid.uuid4().hex,
                       "username": "test", "date": datetime.now(timezone.utc).isoformat(), "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []}


def _refused_websocket(url: str, **kwargs) -> int:
    """The HTTP status with which the websocket handshake was refused; fails if it opened."""
    try:
        connection = websocket.create_connection(url, timeout=30, **kwargs)
    except websocket.WebSocketBadStatusException as error:
        return error.status_code
    connection.close()
    raise AssertionError(f"the kernel websocket opened for {kwargs or 'a client without a token'}")


# --- the page -------------------------------------------------------------------------------------------------

def test_the_printed_url_carries_a_random_token(server):
    _, token = _parts(server)
    assert len(token) >= 32, server.url
    other = VoilaServer(notebook=server.folder / "tiny.ipynb", env={"LEPTON_HOME": str(server.folder / "home")})
    assert _parts(other)[1] not in ("", token), "each start must get a token of its own"
    assert token not in " ".join(server.cmd), "the token must not be visible in the process list"


def test_the_page_without_a_token_or_with_a_wrong_one_is_refused(server):
    for token in ("", "wrong" * 8):
        status, headers, body = _page(server, token=token)
        assert not _rendered(body), f"token {token!r}: the notebook ran for a client without the token"
        # Jupyter's answer: a redirect to the login form that asks for the token, or a plain refusal.
        assert status in (302, 403), (token, status)
        if status == 302:
            assert "/login" in headers.get("Location", ""), headers


def test_the_page_with_a_foreign_host_is_refused_even_with_the_token(server):
    for host in (EVIL, f"{EVIL}:{urlsplit(server.url).port}", "127.0.0.1.nip.io"):
        status, _, body = _page(server, headers={"Host": host})
        assert status == 403 and not _rendered(body), (host, status)


def test_the_page_with_a_foreign_origin_is_refused_even_with_the_token(server):
    for origin in (f"http://{EVIL}", "null", f"http://localhost:{urlsplit(server.url).port + 1}"):
        status, _, body = _page(server, headers={"Origin": origin})
        assert status == 403 and not _rendered(body), (origin, status)


def test_static_files_check_the_host_too(server):
    status, _, _ = _get(server, "/voila/static/voila.js", headers={"Host": EVIL})
    assert status == 403
    status, _, _ = _get(server, "/voila/static/voila.js")
    assert status == 200


# --- the kernel websocket -------------------------------------------------------------------------------------

def test_the_kernel_websocket_refuses_a_missing_or_wrong_token_a_foreign_host_and_a_foreign_origin(server):
    kernel, _, _ = _kernel_and_ids(server)
    netloc, token = _parts(server)
    assert _refused_websocket(_ws_url(server, kernel, None)) == 403
    assert _refused_websocket(_ws_url(server, kernel, "wrong" * 8)) == 403
    assert _refused_websocket(_ws_url(server, kernel, None), host=EVIL, origin=f"http://{EVIL}") == 403
    # Holding the token is not enough from somewhere else: DNS rebinding, or another site's page.
    assert _refused_websocket(_ws_url(server, kernel, token), host=EVIL) == 403
    assert _refused_websocket(_ws_url(server, kernel, token), origin=f"http://{EVIL}") == 403
    assert _refused_websocket(_ws_url(server, kernel, token), host=EVIL, origin=f"http://{EVIL}") == 403


def test_the_login_cookie_from_the_page_does_not_open_the_websocket_for_another_origin(server):
    """A browser sends the cookie with any request to 127.0.0.1; the Origin says which page asked."""
    _, token = _parts(server)
    status, headers, body = _page(server)
    assert status == 200 and _rendered(body)
    cookie = headers.get("Set-Cookie", "").split(";", 1)[0]
    assert cookie.startswith("username-"), headers
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
    assert _refused_websocket(_ws_url(server, kernel, None), cookie=cookie, origin=f"http://{EVIL}") == 403
    # The same cookie from the page's own origin opens it: that is how Voilà's page connects.
    netloc, _ = _parts(server)
    connection = websocket.create_connection(_ws_url(server, kernel, None), cookie=cookie,
                                             origin=f"http://{netloc}", timeout=30)
    connection.close()


def test_with_the_token_on_localhost_a_widget_message_round_trips_through_the_kernel(server):
    kernel, box, echo = _kernel_and_ids(server)
    netloc, token = _parts(server)
    connection = websocket.create_connection(_ws_url(server, kernel, token), origin=f"http://{netloc}",
                                             timeout=60)
    try:
        info = _message("kernel_info_request", {})
        connection.send(json.dumps(info))
        update = _message("comm_msg", {"comm_id": box, "data": {"method": "update", "state": {"value": "hello"},
                                                                 "buffer_paths": []}})
        connection.send(json.dumps(update))
        got_info = got_echo = False
        for _ in range(200):
            reply = json.loads(connection.recv())
            kind = reply.get("msg_type") or reply["header"]["msg_type"]
            if kind == "kernel_info_reply" and reply["parent_header"].get("msg_id") == info["header"]["msg_id"]:
                got_info = True
            if kind == "comm_msg" and reply["content"].get("comm_id") == echo:
                got_echo = reply["content"]["data"].get("state", {}).get("value") == "HELLO" or got_echo
            if got_info and got_echo:
                break
        assert got_info, "no kernel_info_reply"
        assert got_echo, "the label never received the upper-cased text: the widget message did not round-trip"
    finally:
        connection.close()


# --- `lepton app`: the printed URL, --token, $LEPTON_APP_TOKEN, --allow-host -----------------------------------

def test_lepton_app_prints_a_url_with_a_token_that_opens_the_page_and_nothing_else_does(server, tmp_path):
    import os
    import subprocess
    import sys
    import time

    from lepton_widgets.apps.launch import free_port

    port = free_port()
    env = {**os.environ, "LEPTON_HOME": str(server.folder / "home")}
    env.pop("LEPTON_APP_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from lepton_widgets.cli import main; sys.exit(main())",
         "--runs-dir", str(tmp_path / "runs"), "app", "--port", str(port),
         "--notebook", str(server.folder / "tiny.ipynb")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        line = process.stdout.readline()
        printed = re.search(r"http://127\.0\.0\.1:\d+/\?token=[0-9a-f]+", line)
        assert printed and len(urlsplit(printed.group(0)).query) == len("token=") + 48, line
        printed_server = type("Printed", (), {"url": printed.group(0)})()
        for _ in range(300):  # the server needs a few seconds to listen
            try:
                status, _, body = _page(printed_server)
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200 and _rendered(body), status
        assert _page(printed_server, token="")[0] == 302
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def test_the_token_comes_from_the_option_else_the_environment_else_is_new_and_must_be_sane(tmp_path, capsys):
    from lepton_widgets.apps.launch import TOKEN_ENV, free_port, voila_command
    from lepton_widgets.cli import main

    home = {"LEPTON_HOME": str(tmp_path / "home")}
    assert voila_command(env={**home, TOKEN_ENV: "from-the-env-1"})[1][TOKEN_ENV] == "from-the-env-1"
    assert voila_command(env={**home, TOKEN_ENV: "from-the-env-1"}, token="given-token-2")[1][TOKEN_ENV] \
        == "given-token-2"
    first, second = (voila_command(env=home)[1][TOKEN_ENV] for _ in range(2))
    assert len(first) == 48 and first != second
    port = str(free_port())  # free, so that only the option can be what is refused
    for bad in ("short", "has space in it", "with&amp=and"):
        assert main(["app", "--token", bad, "--port", port]) == 2
        assert "the token must be at least 8 characters" in capsys.readouterr().err
    assert main(["app", "--allow-host", "http://evil.example/", "--port", port]) == 2
    assert "is not a host name or address" in capsys.readouterr().err


def test_allow_host_adds_a_name_and_the_defaults_stay(tmp_path, server):
    with VoilaServer(notebook=server.folder / "tiny.ipynb", env={"LEPTON_HOME": str(server.folder / "home")},
                     runs_dir=tmp_path / "runs", log_path=tmp_path / "voila.log",
                     allow_hosts=["Workbench.LAN"]) as other:
        port = urlsplit(other.url).port
        assert _get(other, "/voila/static/voila.js", headers={"Host": f"workbench.lan:{port}"})[0] == 200
        assert _get(other, "/voila/static/voila.js", headers={"Host": f"[::1]:{port}"})[0] == 200
        assert _get(other, "/voila/static/voila.js", headers={"Host": f"localhost:{port}"})[0] == 200
        assert _get(other, "/voila/static/voila.js", headers={"Host": f"{EVIL}:{port}"})[0] == 403


# --- the page's own websocket in a real browser ---------------------------------------------------------------

@pytest.mark.browser
def test_in_chromium_the_page_opened_with_the_token_drives_its_widgets_and_the_login_form_takes_the_token(server):
    """Voilà's page script connects its websocket without the token in the URL: the login cookie that the
    first load with ``?token=`` set carries it (and passes the Origin check, being the page's own)."""
    from lepton_widgets.apps.browser import MISSING, chromium, chromium_path

    if chromium_path() is None:
        pytest.fail(MISSING)
    with chromium(viewport=(900, 600)) as browser:
        page = browser.new_page()
        sockets = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(server.url, wait_until="commit", timeout=60_000)
        box = page.locator("input[type=text]").first
        box.wait_for(timeout=60_000)
        box.fill("hello")
        box.press("Enter")
        page.get_by_text("HELLO", exact=True).wait_for(timeout=30_000)
        assert sockets and all("token=" not in url for url in sockets), sockets

        # A person who opens the bare address gets Jupyter's login form, and the token lets them in.
        browser.clear_cookies()  # `chromium()` is one persistent context: forget the login
        fresh = browser.new_page()
        fresh.goto(server.base_url, timeout=60_000)
        assert "/login" in fresh.url, fresh.url
        # Only the token field: setting a password (which Jupyter would save in ~/.jupyter) is not offered.
        assert fresh.locator("input[type=password]").count() == 1
        fresh.locator("input[type=password]").fill(server.token)
        fresh.locator("input[type=password]").press("Enter")
        fresh.locator("input[type=text]").first.wait_for(timeout=60_000)
        fresh.locator("input[type=text]").first.fill("again")
        fresh.locator("input[type=text]").first.press("Enter")
        fresh.get_by_text("AGAIN", exact=True).wait_for(timeout=30_000)
