"""Serve the workbench notebook as a web app with Voilà, on this machine only.

``lepton app`` (and ``make app``) call :func:`main`. The server binds to 127.0.0.1, never to every
interface: the kernel behind the page can read and write the user's files, so it must not be reachable
from the network. Settings that the defaults get wrong for this app:

- ``websocket_max_message_size``: ipywidgets' FileUpload sends the whole file in one websocket message and
  Tornado's default limit is 10 MiB, so uploads up to ``LEPTON_MAX_UPLOAD_MB`` (default 100) need it raised.
- ``TF_CPP_MIN_LOG_LEVEL=3`` in the kernel's environment: ipykernel forwards the process's stderr to the
  page, and TensorFlow's C++ lines would show up there. (The start-up lines that ignore the level are
  filtered when ``lepton_widgets`` is imported: lepton_widgets/core/quiet_tensorflow.py.)
- Plotly's 5 MB widget script is copied to ``$LEPTON_HOME/static`` (never next to the notebook, whose folder
  may be read-only) and served once per page from there (apps/voila_app.py).
- ``VoilaExecutor.timeout``: a cell may take a while to import TensorFlow on a busy 2-core laptop, but a
  stuck cell should still end with a message rather than a blank page forever.
- ``LEPTON_RUNS``: Voilà starts the kernel in the notebook's folder, so without it runs would land in
  ``notebooks/runs`` instead of ``./runs`` where ``lepton runs`` looks.

Example:
    $ lepton app                      # http://127.0.0.1:8866/
    $ lepton app --port 8900
    $ LEPTON_APP_DATASET=digits LEPTON_APP_BACKBONE=small_cnn LEPTON_APP_WEIGHTS=none lepton app
    >>> cmd, env = voila_command(port=8900)
    >>> "--Voila.ip=127.0.0.1" in cmd and env["TF_CPP_MIN_LOG_LEVEL"]
    '3'
"""

from __future__ import annotations

import argparse
import os
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


def max_upload_bytes(env: Optional[dict] = None) -> int:
    """Websocket limit for uploads of ``LEPTON_MAX_UPLOAD_MB``, plus 1 MiB for the widget message around them.

    Parsed like :func:`lepton_widgets.core.uploads.max_upload_mb` (which the Data panel shows), without
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


def url(port: int = DEFAULT_PORT) -> str:
    return f"http://{HOST}:{port}/"


def voila_command(notebook: Optional[str | Path] = None, port: int = DEFAULT_PORT,
                  runs_dir: Optional[str | Path] = None, env: Optional[dict] = None) -> tuple[list[str], dict]:
    """The Voilà command line and environment that serve ``notebook`` (default: the workbench)."""
    notebook = Path(notebook or NOTEBOOK)
    env = dict(os.environ if env is None else env)
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
    ]
    script = publish_plotly_script(static)
    if script is not None:
        # Charts import Plotly's widget script from this URL (panels/figures.py), so the browser evaluates
        # it once per page instead of once per chart. It is served from the cache folder, never from the
        # notebook's: an installed package's folder may be read-only.
        env[ESM_URL_ENV] = f"{url(port)}voila/static/{script}"
        cmd.append(f"--LeptonVoila.extra_static_dir={static}")
    return cmd, env


def _static_dir(env: dict) -> Path:
    """``$LEPTON_HOME/static`` for the environment the server gets (lepton_widgets.core.paths' rule)."""
    from lepton_widgets.core.paths import lepton_home

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


def free_port() -> int:
    """A port nobody listens on right now (tests and benchmarks start their own servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def main(argv: Optional[Sequence[str]] = None, runs_dir: Optional[str] = None) -> int:
    """Run Voilà in the foreground until Ctrl-C; returns its exit status."""
    parser = build_parser(argparse.ArgumentParser(prog="lepton app", description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return serve(port=args.port, notebook=args.notebook, runs_dir=runs_dir)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--port", type=int, default=int(os.environ.get("LEPTON_APP_PORT") or DEFAULT_PORT),
                        help=f"port on {HOST} (default {DEFAULT_PORT} or $LEPTON_APP_PORT)")
    parser.add_argument("--notebook", default=None, help="notebook to serve (default: the workbench)")
    return parser


def serve(port: int = DEFAULT_PORT, notebook: Optional[str] = None, runs_dir: Optional[str] = None) -> int:
    notebook_path = Path(notebook or NOTEBOOK)
    if not notebook_path.exists():
        print(f"lepton app: {notebook_path} not found; run `python notebooks/make_notebooks.py` in the repository",
              file=sys.stderr)
        return 2
    if not port_is_free(port):
        print(f"lepton app: port {port} on {HOST} is in use; choose another with --port", file=sys.stderr)
        return 2
    cmd, env = voila_command(notebook_path, port, runs_dir)
    print(f"Lepton Workbench: open {url(port)} in your browser (the page takes a few seconds to start a kernel). "
          f"Runs are saved in {env['LEPTON_RUNS']}. Ctrl-C stops the server.", flush=True)
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
    sessions of their own), so a failing test leaves nothing behind.

    Example:
        >>> with VoilaServer(env={"LEPTON_APP_DATASET": "digits"}, log_path="/tmp/voila.log") as server:
        ...     print(server.url)  # doctest: +SKIP
        http://127.0.0.1:41234/
    """

    def __init__(self, notebook: Optional[str | Path] = None, port: Optional[int] = None,
                 env: Optional[dict] = None, runs_dir: Optional[str | Path] = None,
                 log_path: Optional[str | Path] = None) -> None:
        self.port = port or free_port()
        self.url = url(self.port)
        self.cmd, self.env = voila_command(notebook, self.port, runs_dir, env={**os.environ, **(env or {})})
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
