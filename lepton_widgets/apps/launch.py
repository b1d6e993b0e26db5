"""Serve the workbench notebook as a web app with Voilà, on this machine only, to its user only.

``lepton app`` (and ``make app``) call :func:`main`. The server binds to 127.0.0.1, never to every
interface: the kernel behind the page can read and write the user's files, so it must not be reachable
from the network. Nor from a web page the user visits (apps/voila_app.py): every start gets a random token,
printed in the URL as Jupyter does (``--token`` or ``$LEPTON_APP_TOKEN`` choose one), the server answers only
the ``Host`` names localhost, 127.0.0.1 and ::1 (``--allow-host`` adds one), and a request whose ``Origin`` is
another site is refused. The token reaches Voilà through the environment, never the command line, which
other users of the machine can read. Settings that the defaults get wrong for this app:

- ``websocket_max_message_size``: ipywidgets' FileUpload sends the whole file in one websocket message and
  Tornado's default limit is 10 MiB, so uploads up to ``LEPTON_MAX_UPLOAD_MB`` (default 100) need it raised.
- ``TF_CPP_MIN_LOG_LEVEL=3`` in the kernel's environment: ipykernel forwards the process's stderr to the
  page, and TensorFlow's C++ lines would show up there. (The start-up lines that ignore the level are
  filtered when ``lepton_widgets`` is imported: lepton_widgets/core/base/quiet_tensorflow.py.)
- Plotly's 5 MB widget script is copied to ``$LEPTON_HOME/static`` (never next to the notebook, whose folder
  may be read-only) and served once per page from there (apps/voila_app.py).
- ``VoilaExecutor.timeout``: a cell may take a while to import TensorFlow on a busy 2-core laptop, but a
  stuck cell should still end with a message rather than a blank page forever.
- ``LEPTON_RUNS``: Voilà starts the kernel in the notebook's folder, so without it runs would land in
  ``notebooks/runs`` instead of ``./runs`` where ``lepton runs`` looks.

Example:
    $ lepton app                      # http://127.0.0.1:8866/?token=5f0c...
    $ lepton app --port 8900 --token my-own-secret-token
    $ LEPTON_APP_DATASET=digits LEPTON_APP_BACKBONE=small_cnn LEPTON_APP_WEIGHTS=none lepton app
    $ lepton app --basic --lang zh    # classroom view: the five basic steps, in Chinese
    >>> cmd, env = voila_command(port=8900, token="my-own-secret-token")
    >>> "--Voila.ip=127.0.0.1" in cmd and env["TF_CPP_MIN_LOG_LEVEL"]
    '3'
    >>> url(8900, env[TOKEN_ENV]), any("my-own-secret-token" in part for part in cmd)
    ('http://127.0.0.1:8900/?token=my-own-secret-token', False)
    >>> page_env({}, basic=True, lang="zh_CN")
    {'LEPTON_MODE': 'basic', 'LEPTON_LANG': 'zh'}
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import lepton_widgets
from lepton_widgets.panels.figures import ESM_URL_ENV

HOST = "127.0.0.1"
DEFAULT_PORT = 8866
DEFAULT_MAX_UPLOAD_MB = 100
CELL_TIMEOUT_S = 300  # TensorFlow's import plus panel set-up; generous for a busy 2-core machine
NOTEBOOK = Path(lepton_widgets.__file__).resolve().parents[1] / "notebooks" / "workbench.ipynb"
# Read by the server (apps/voila_app.py), which imports them from here: this module must stay cheap to import
# (`lepton --help` builds its parser), and Voilà is not.
TOKEN_ENV = "LEPTON_APP_TOKEN"
DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "::1")
# `lepton app --room` (apps/room_server.py): minutes before an idle kernel is closed, kernels kept ready, and
# the memory one workbench kernel is expected to take (TensorFlow loaded, a small model trained).
DEFAULT_CULL_IDLE_MIN = 20.0
DEFAULT_POOL = 2
DEFAULT_KERNEL_MEMORY_MB = 1500


def host_name(host: str) -> str:
    """The name or address in a ``Host`` header, without its port or IPv6 brackets, lower-cased.

    >>> host_name("[::1]:8866"), host_name("::1"), host_name("LocalHost:8866"), host_name("evil.example")
    ('::1', '::1', 'localhost', 'evil.example')
    """
    host = host.strip().lower()
    if host.count(":") > 1 and not host.startswith("["):
        return host  # a bare IPv6 address (an allow-list entry): its last group is no port
    match = re.match(r"^(.*?)(:\d+)?$", host)
    name = match.group(1) if match else host
    return name[1:-1] if name.startswith("[") and name.endswith("]") else name


def max_upload_bytes(env: Optional[dict] = None) -> int:
    """Websocket limit for uploads of ``LEPTON_MAX_UPLOAD_MB``, plus 1 MiB for the widget message around them.

    Parsed like :func:`lepton_widgets.core.data.uploads.max_upload_mb` (which the Data panel shows), without
    importing it: that would pull TensorFlow into a command that only starts a server.
    """
    env = os.environ if env is None else env
    try:
        megabytes = float(env.get("LEPTON_MAX_UPLOAD_MB") or DEFAULT_MAX_UPLOAD_MB)
    except ValueError:
        megabytes = DEFAULT_MAX_UPLOAD_MB
    if megabytes <= 0:
        megabytes = DEFAULT_MAX_UPLOAD_MB
    return int(megabytes * 2**20) + 2**20


def url(port: int = DEFAULT_PORT, token: Optional[str] = None) -> str:
    """The address to open: with the token, the one ``lepton app`` prints; without it, the server's root."""
    return f"http://{HOST}:{port}/" + (f"?token={token}" if token else "")


def new_token() -> str:
    """48 random hex digits, as Jupyter generates them."""
    return secrets.token_hex(24)


def check_token(token: str) -> str:
    """``token`` if it can stand in a URL as it is and is not trivially short; ValueError otherwise."""
    if len(token) < 8 or not re.fullmatch(r"[A-Za-z0-9._~-]+", token):
        raise ValueError("the token must be at least 8 characters of letters, digits and - _ . ~")
    return token


def check_host(host: str) -> str:
    """A ``--allow-host`` value as the server compares it (a name or address, no port); ValueError otherwise."""
    name = host_name(host)
    if not re.fullmatch(r"[a-z0-9._-]+|[0-9a-f:.]+", name) or name.strip(".") != name:
        raise ValueError(f"{host!r} is not a host name or address (give it without http:// or a path)")
    return name


PLOTLY_LAB_EXTENSION = "jupyterlab-plotly"  # the package name in its package.json


def voila_command(notebook: Optional[str | Path] = None, port: int = DEFAULT_PORT,
                  runs_dir: Optional[str | Path] = None, env: Optional[dict] = None,
                  token: Optional[str] = None, allow_hosts: Sequence[str] = ()) -> tuple[list[str], dict]:
    """The Voilà command line and environment that serve ``notebook`` (default: the workbench).

    The token (``token``, else ``$LEPTON_APP_TOKEN`` in ``env``, else a new one) is in the returned
    environment under :data:`TOKEN_ENV`; ``allow_hosts`` are added to the Host allow-list.
    """
    notebook = Path(notebook or NOTEBOOK)
    env = dict(os.environ if env is None else env)
    env[TOKEN_ENV] = check_token(token or env.get(TOKEN_ENV) or new_token())
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    runs = runs_dir or env.get("LEPTON_RUNS") or "runs"
    env["LEPTON_RUNS"] = str(Path(runs).resolve())
    static = _static_dir(env)
    cmd = [
        # Voilà itself, plus one static folder (the cache's): see apps/voila_app.py.
        sys.executable, "-m", "lepton_widgets.apps.voila_app", str(notebook),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={port}",
        "--Voila.port_retries=0",  # a busy port is an error, so the printed URL is always the real one
        # A dict literal: traitlets prints a DeprecationWarning for it, but its key=value form would pass
        # the size as a string, which Tornado cannot compare with a length.
        f"--Voila.tornado_settings={{'websocket_max_message_size': {max_upload_bytes(env)}}}",
        f"--VoilaExecutor.timeout={CELL_TIMEOUT_S}",
        "--show_tracebacks=True",  # a failing cell should say why in the page, not just "error"
        # Every chart is a FigureWidget (panels/figures.py), drawn by Plotly's anywidget script (published
        # below); Plotly's lab extension only renders figures shown as plain output, and would add 4.8 MB of
        # JavaScript to every page (10.2 MB instead of 5.3).
        f"--VoilaConfiguration.extension_denylist={PLOTLY_LAB_EXTENSION}",
    ]
    # A list option is given once per value; the defaults are spelled out because giving any replaces them.
    hosts = dict.fromkeys([*DEFAULT_ALLOWED_HOSTS, *(check_host(h) for h in allow_hosts)])
    cmd += [f"--LeptonVoila.allowed_hosts={host}" for host in hosts]
    script = publish_plotly_script(static)
    if script is not None:
        # Charts import Plotly's widget script from this URL (panels/figures.py), so the browser evaluates
        # it once per page instead of once per chart. It is served from the cache folder, never from the
        # notebook's: an installed package's folder may be read-only.
        env[ESM_URL_ENV] = f"{url(port)}voila/static/{script}"
        cmd.append(f"--LeptonVoila.extra_static_dir={static}")
    return cmd, env


def _static_dir(env: dict) -> Path:
    """``$LEPTON_HOME/static`` for the environment the server gets (lepton_widgets.core.base.paths' rule)."""
    from lepton_widgets.core.base.paths import lepton_home

    return (Path(env["LEPTON_HOME"]) if env.get("LEPTON_HOME") else lepton_home()) / "static"


def publish_plotly_script(folder: Path) -> Optional[str]:
    """Copy Plotly's widget script (named by Plotly's version) into ``folder``, the cache's static folder;
    returns its file name, or None when Plotly has no such file or the folder cannot be written."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    bundle = Path(spec.origin).parent / "package_data" / "widgetbundle.js"
    if not bundle.is_file():
        return None
    from importlib.metadata import version

    name = f"plotly-widget-{version('plotly')}.js"
    target = folder / name
    try:
        if not target.is_file() or target.stat().st_size != bundle.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            shutil.copyfile(bundle, tmp)
            os.replace(tmp, target)
    except OSError:
        return None
    return name


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def page_env(env: dict, basic: bool = False, lang: Optional[str] = None) -> dict:
    """``env`` with the page's classroom settings for the served kernel: ``--basic`` sets ``LEPTON_MODE=basic``
    (apps/workbench.py), ``--lang`` sets ``LEPTON_LANG`` (lepton_widgets.i18n); without them ``env`` decides."""
    env = dict(env)
    if basic:
        env["LEPTON_MODE"] = "basic"
    if lang:
        from lepton_widgets.i18n import normalise  # the catalogue module only: cheap

        env["LEPTON_LANG"] = normalise(lang)
    return env


def free_port() -> int:
    """A port nobody listens on right now (tests and benchmarks start their own servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def main(argv: Optional[Sequence[str]] = None, runs_dir: Optional[str] = None) -> int:
    """Run Voilà in the foreground until Ctrl-C; returns its exit status."""
    parser = build_parser(argparse.ArgumentParser(prog="lepton app", description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    if args.room:
        print("lepton app: a room is served by `lepton app --room` (lepton_widgets.apps.room_server)",
              file=sys.stderr)
        return 2
    return serve_one(args, runs_dir=runs_dir)


def serve_one(args: argparse.Namespace, runs_dir: Optional[str] = None) -> int:
    """``lepton app`` without ``--room``: one person's workbench on this machine."""
    if args.ip != HOST:
        print("lepton app: --ip opens the server to the network, which only a room server does: add --room",
              file=sys.stderr)
        return 2
    return serve(port=args.port, notebook=args.notebook, runs_dir=runs_dir, token=args.token,
                 allow_hosts=args.allow_host, basic=args.basic, lang=args.lang)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--port", type=int, default=int(os.environ.get("LEPTON_APP_PORT") or DEFAULT_PORT),
                        help=f"port on {HOST} (default {DEFAULT_PORT} or $LEPTON_APP_PORT)")
    parser.add_argument("--notebook", default=None, help="notebook to serve (default: the workbench)")
    parser.add_argument("--token", default=None,
                        help=f"the token the page asks for (default: ${TOKEN_ENV}, else a new random one)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests sent to this host name or address "
                             f"(always: {', '.join(DEFAULT_ALLOWED_HOSTS)}); repeat for several")
    parser.add_argument("--basic", action="store_true",
                        help="classroom view: only the five basic steps (Data, Backbone, Augment, Train, Evaluate); "
                             "the page's 'Show advanced steps' adds the rest (sets LEPTON_MODE=basic)")
    parser.add_argument("--lang", default=None, choices=["en", "zh"],
                        help="the page's language (sets LEPTON_LANG; default: $LEPTON_LANG, else English)")
    add_room_options(parser)
    return parser


def add_room_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``lepton app --room`` (apps/room_server.py reads them)."""
    room = parser.add_argument_group("a room: a whole class on one server (with --room)")
    room.add_argument("--room", action="store_true",
                      help="serve a whole room: each person enters a name and gets their own runs folder")
    room.add_argument("--room-dir", default="room", help="the room's folder (default ./room)")
    room.add_argument("--ip", default=HOST,
                      help=f"address to listen on (default {HOST}: this machine only); 0.0.0.0 opens the room "
                           "to the network, and the printed link with its token is what people type")
    room.add_argument("--cull-idle", type=float, default=DEFAULT_CULL_IDLE_MIN, metavar="MINUTES",
                      help="close the kernel of a page closed or left idle this long "
                           f"(default {DEFAULT_CULL_IDLE_MIN:g})")
    room.add_argument("--pool", type=int, default=DEFAULT_POOL, metavar="N",
                      help=f"kernels kept ready so pages open at once (default {DEFAULT_POOL}; memory permitting)")
    room.add_argument("--kernel-memory", type=float, default=DEFAULT_KERNEL_MEMORY_MB, metavar="MB",
                      help="memory one page's kernel needs; a new page is refused when it does not fit "
                           f"(default {DEFAULT_KERNEL_MEMORY_MB}; 0: no guard)")
    room.add_argument("--max-training", type=int, default=None, metavar="N",
                      help="models that train at once; the others wait in line (default: the number of CPUs)")
    room.add_argument("--teacher", action="store_true", help="also print the teacher's page (everyone's models)")


def serve(port: int = DEFAULT_PORT, notebook: Optional[str] = None, runs_dir: Optional[str] = None,
          token: Optional[str] = None, allow_hosts: Sequence[str] = (), basic: bool = False,
          lang: Optional[str] = None) -> int:
    notebook_path = Path(notebook or NOTEBOOK)
    try:  # a mistyped option is reported before anything else is looked at
        token = check_token(token) if token is not None else None
        allow_hosts = [check_host(host) for host in allow_hosts]
    except ValueError as error:
        print(f"lepton app: {error}", file=sys.stderr)
        return 2
    if not notebook_path.exists():
        print(f"lepton app: {notebook_path} not found; run `python notebooks/make_notebooks.py` in the repository",
              file=sys.stderr)
        return 2
    if not port_is_free(port):
        print(f"lepton app: port {port} on {HOST} is in use; choose another with --port", file=sys.stderr)
        return 2
    try:
        cmd, env = voila_command(notebook_path, port, runs_dir, env=page_env(dict(os.environ), basic, lang),
                                 token=token, allow_hosts=allow_hosts)
    except ValueError as error:  # $LEPTON_APP_TOKEN unfit
        print(f"lepton app: ${TOKEN_ENV}: {error}", file=sys.stderr)
        return 2
    print(f"Lepton Workbench: open {url(port, env[TOKEN_ENV])} in your browser (the page takes a few seconds "
          f"to start a kernel; the token in the link is what lets you in, so keep it to yourself). "
          f"Runs are saved in {env['LEPTON_RUNS']}. Ctrl-C stops the server.", flush=True)
    return serve_until_stopped(cmd, env)


def serve_until_stopped(cmd: list[str], env: dict) -> int:
    """Run the Voilà command in the foreground until it ends or is stopped; its exit status."""
    process = subprocess.Popen(cmd, env=env)
    # Voilà shuts its kernels down on SIGTERM or Ctrl-C; pass a SIGTERM sent to us on, so that stopping
    # `lepton app` (a service manager, `kill`) never leaves the server and its kernels behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        # In a terminal Voilà got the same Ctrl-C; otherwise tell it now. Then give it time to stop kernels.
        process.terminate()
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


class VoilaServer:
    """Voilà serving the workbench in the background on a free port (tests, benchmarks); a context manager.

    The server gets its own process group and :meth:`stop` ends it and the kernels it started (they run in
    sessions of their own), so a failing test leaves nothing behind. ``url`` carries the server's token, as
    the one ``lepton app`` prints; ``base_url`` is the server's root without it.

    Example:
        >>> with VoilaServer(env={"LEPTON_APP_DATASET": "digits"}, log_path="/tmp/voila.log") as server:
        ...     print(server.url)  # doctest: +SKIP
        http://127.0.0.1:41234/?token=5f0c...
    """

    def __init__(self, notebook: Optional[str | Path] = None, port: Optional[int] = None,
                 env: Optional[dict] = None, runs_dir: Optional[str | Path] = None,
                 log_path: Optional[str | Path] = None, token: Optional[str] = None,
                 allow_hosts: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.cmd, self.env = voila_command(notebook, self.port, runs_dir, env={**os.environ, **(env or {})},
                                           token=token or new_token(), allow_hosts=allow_hosts)
        self.token = self.env[TOKEN_ENV]
        self.base_url = url(self.port)
        self.url = url(self.port, self.token)
        self.log_path = Path(log_path) if log_path else None
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 90.0) -> "VoilaServer":
        """Start Voilà and wait until it accepts connections (without loading the page: that starts a kernel)."""
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(self.cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Voilà exited with status {self.process.returncode}: {self.log_tail()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"Voilà did not listen on {self.url} within {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-chars:]
        return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM lets Voilà shut its kernels down; whatever is left after ``timeout`` is killed."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            import psutil

            family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except Exception:  # psutil missing or the server already gone: fall back to the group
            family = []
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for child in family[1:]:
            try:
                child.kill()
            except Exception:  # already exited, as it should have
                pass

    def __enter__(self) -> "VoilaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
