"""JupyterHub for a lab: every person gets the Lepton Workbench (and the Predict app) through Voilà, with runs of
their own.

Start it from the repository (the environment where lepton-widgets is installed) with::

    $ export LEPTON_HUB_PASSWORD='the-room-password'        # at least 8 characters, given to the room
    $ .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
    # open http://127.0.0.1:8000/ : a name and the room password, then the workbench opens

Every setting comes from the environment, so the file itself never needs editing (deploy/jupyterhub/README.md
lists them). What it puts together, all of it JupyterHub's and Voilà's own machinery:

- **Sign-in**: JupyterHub's ``SharedPasswordAuthenticator`` (JupyterHub >= 5.1). A person types a name of
  their choosing and the room's password (``LEPTON_HUB_PASSWORD``); the name becomes their user and their
  folder. No system accounts. Teachers named in ``LEPTON_HUB_ADMINS`` sign in with ``LEPTON_HUB_ADMIN_PASSWORD``
  and get the hub's admin page (who is running what, stop a server).
- **Servers**: ``SimpleLocalProcessSpawner`` starts one Jupyter server per person, as the hub's own account, in
  ``$LEPTON_HUB_ROOT/users/<name>/`` (their home). The workbench and Predict notebooks are copied there at every
  start (so a new version reaches everyone), and ``LEPTON_RUNS=<home>/runs``: each person's runs, and only
  theirs, are in their own Runs list.
- **Pages**: Voilà runs as an extension of each person's server; ``default_url`` opens the workbench's Voilà page
  (``/user/<name>/voila/render/workbench.ipynb``); Predict is ``.../voila/render/predict.ipynb``.
- **Memory**: kernels of closed tabs are culled by the server (``MappingKernelManager.cull_idle_timeout``),
  and whole servers idle for ``LEPTON_HUB_IDLE_MINUTES`` by ``jupyterhub-idle-culler``, a hub service.
- **The proxy**: ``configurable-http-proxy`` (npm), which JupyterHub starts and stops itself.

Other ``LEPTON_*`` variables set for the hub (``LEPTON_APP_DATASET``, ``LEPTON_MODE``, ``LEPTON_LANG``, ...)
reach every person's page, as they do with ``lepton app``.
"""

# `c` is JupyterHub's config object, given to this file when JupyterHub loads it.
# Nothing here imports lepton_widgets: its package imports TensorFlow (20 s and 500 MB in the hub process for
# nothing). The few facts needed from it are found without importing it, and are checked against the package
# by tests/test_jupyterhub.py.
import importlib.util
import os
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

env = os.environ


def _minutes(name: str, default: float) -> int:
    """``$name`` in minutes, as whole seconds; a value that is no positive number is an error that names it."""
    raw = env.get(name) or str(default)
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1
    if minutes <= 0:
        raise SystemExit(f"jupyterhub_config.py: {name}={raw!r} is not a positive number of minutes")
    return max(1, int(minutes * 60))


def max_upload_bytes() -> int:
    """The websocket limit for uploads of ``$LEPTON_MAX_UPLOAD_MB`` (default 100), as apps/launch.py sets it."""
    try:
        megabytes = float(env.get("LEPTON_MAX_UPLOAD_MB") or 100)
    except ValueError:
        megabytes = 100
    return int((megabytes if megabytes > 0 else 100) * 2**20) + 2**20


def publish_plotly_script(folder: Path):
    """Plotly's widget script copied into ``folder`` under a versioned name, as apps/launch.py does; that name,
    or None when Plotly has no such file (the charts then carry the script themselves)."""
    spec = importlib.util.find_spec("plotly")
    bundle = Path(spec.origin).parent / "package_data" / "widgetbundle.js" if spec and spec.origin else None
    if bundle is None or not bundle.is_file():
        return None
    target = folder / f"plotly-widget-{version('plotly')}.js"
    if not target.is_file() or target.stat().st_size != bundle.stat().st_size:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(bundle, tmp)
        os.replace(tmp, target)
    return target.name


ROOT = Path(env.get("LEPTON_HUB_ROOT") or Path.home() / "lepton-hub").expanduser().resolve()
USERS = ROOT / "users"  # one home per person: <ROOT>/users/<name>
STATE = ROOT / "hub"  # the hub's database, cookie secret and proxy pid
CACHE = Path(env.get("LEPTON_HOME") or ROOT / "cache").expanduser().resolve()  # shared by everyone: weights, features
IP = env.get("LEPTON_HUB_IP") or "127.0.0.1"
PORT = int(env.get("LEPTON_HUB_PORT") or 8000)
# The address people type; the charts load Plotly's script from it (an absolute URL is what anywidget imports).
PUBLIC_URL = (env.get("LEPTON_HUB_URL") or f"http://{'127.0.0.1' if IP in ('', '0.0.0.0') else IP}:{PORT}").rstrip("/")
# The app notebooks, where `lepton app` finds them (apps/launch.py's NOTEBOOK): next to the package.
NOTEBOOK_DIR = Path(importlib.util.find_spec("lepton_widgets").origin).parents[1] / "notebooks"
NOTEBOOKS = [NOTEBOOK_DIR / "workbench.ipynb", NOTEBOOK_DIR / "predict.ipynb"]
ESM_URL_ENV = "LEPTON_PLOTLY_ESM_URL"  # panels/figures.py: where the charts import Plotly's widget script from
CELL_TIMEOUT_S = 300  # apps/launch.py's: TensorFlow's import plus the panels' set-up on a busy machine
# Settings that are the hub's own, or that this file sets per person, are not passed on to the pages.
NOT_FORWARDED = ("LEPTON_HUB_", "LEPTON_RUNS", "LEPTON_HOME", "LEPTON_APP_TOKEN", ESM_URL_ENV)

for folder in (USERS, STATE, CACHE):
    folder.mkdir(parents=True, exist_ok=True)
STATE.chmod(0o700)  # the cookie secret and the proxy's token live here

# --- network ------------------------------------------------------------------------------------------------
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{int(env.get('LEPTON_HUB_INTERNAL_PORT') or 8081)}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(env.get('LEPTON_HUB_PROXY_API_PORT') or 8001)}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# --- sign-in ------------------------------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "shared-password"
password = env.get("LEPTON_HUB_PASSWORD", "")
if len(password) < 8:
    raise SystemExit("jupyterhub_config.py: set LEPTON_HUB_PASSWORD to the room's password (8 characters or more)")
c.SharedPasswordAuthenticator.user_password = password
admins = {name.strip().lower() for name in env.get("LEPTON_HUB_ADMINS", "").split(",") if name.strip()}
if admins:
    c.Authenticator.admin_users = admins
    c.SharedPasswordAuthenticator.admin_password = env.get("LEPTON_HUB_ADMIN_PASSWORD", "")
c.Authenticator.allow_all = True  # anyone with the room's password may choose a name
# A name becomes a folder name and part of URLs: letters (any script), digits, _ . -; no leading dot, no slash.
c.Authenticator.username_pattern = r"^\w[\w.-]{0,39}$"

# --- one server per person ----------------------------------------------------------------------------------
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(USERS / "{username}")
c.Spawner.notebook_dir = str(USERS / "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # this environment's, whatever PATH says
c.Spawner.default_url = "/voila/render/workbench.ipynb"
c.Spawner.http_timeout = 90  # a Jupyter server starting on a busy 2-core machine
c.Spawner.start_timeout = 120
KERNEL_IDLE_S = _minutes("LEPTON_HUB_KERNEL_IDLE_MINUTES", 20)
c.Spawner.args = [
    # A kernel whose tab is gone (closed, reloaded) holds 1-2 GB: cull it once idle, but never one whose page is
    # still open (cull_connected stays False), whoever is just reading.
    f"--MappingKernelManager.cull_idle_timeout={KERNEL_IDLE_S}",
    f"--MappingKernelManager.cull_interval={min(60, KERNEL_IDLE_S)}",
    # ipywidgets' FileUpload sends a file in one websocket message (see apps/launch.py).
    f"--ServerApp.tornado_settings={{'websocket_max_message_size': {max_upload_bytes()}}}",
    f"--VoilaExecutor.timeout={CELL_TIMEOUT_S}",
    "--VoilaConfiguration.show_tracebacks=True",
    # Voilà pages skip Plotly's lab extension, as with `lepton app` (apps/launch.py: PLOTLY_LAB_EXTENSION): the
    # charts are FigureWidgets, and it would be 4.8 MB more script for every page; JupyterLab keeps it. Written
    # as a Python list: the server parses Voilà's options only once the extension loads, from the literal
    # (a bare name would be read as None and every page would fail).
    "--VoilaConfiguration.extension_denylist=['jupyterlab-plotly']",
    # Every server runs as the hub's account: a terminal would reach everyone's folders.
    "--ServerApp.terminals_enabled=False",
    # Plotly's widget script, served once per page from the shared cache (see panels/figures.py).
    f"--ServerApp.extra_static_paths={CACHE / 'static'}",
]
if os.geteuid() == 0:
    # A container or CI job running as root: Jupyter refuses root unless told. On a lab machine, run the hub as
    # an ordinary account instead (every person's server runs as that account).
    c.Spawner.args.append("--allow-root")
PLOTLY_SCRIPT = publish_plotly_script(CACHE / "static")


def _forwarded() -> dict:
    return {name: value for name, value in env.items()
            if name.startswith("LEPTON_") and not name.startswith(NOT_FORWARDED)}


def _runs(spawner) -> str:
    return str(Path(spawner.home_dir) / "runs")


def _plotly_url(spawner) -> str:
    # user.url is the person's prefix under the hub's base URL: /user/<name>/
    return f"{PUBLIC_URL}{spawner.user.url}static/{PLOTLY_SCRIPT}" if PLOTLY_SCRIPT else ""


c.Spawner.environment = {
    **_forwarded(),
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow's C++ lines would show in the page (the kernel forwards stderr)
    "LEPTON_HOME": str(CACHE),
    "LEPTON_RUNS": _runs,
    ESM_URL_ENV: _plotly_url,
}


def copy_notebooks(spawner) -> None:
    """Before each start: the person's home, with the app notebooks as shipped (replaced in one step)."""
    home = Path(spawner.home_dir)
    (home / "runs").mkdir(parents=True, exist_ok=True)
    for notebook in NOTEBOOKS:
        tmp = home / f".{notebook.name}.tmp"
        shutil.copyfile(notebook, tmp)
        os.replace(tmp, home / notebook.name)


c.Spawner.pre_spawn_hook = copy_notebooks

# --- memory -------------------------------------------------------------------------------------------------
c.JupyterHub.active_server_limit = int(env.get("LEPTON_HUB_MAX_SERVERS") or 0)  # 0: no limit
SERVER_IDLE_S = _minutes("LEPTON_HUB_IDLE_MINUTES", 60)
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={SERVER_IDLE_S}",
                f"--cull-every={min(300, SERVER_IDLE_S)}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
