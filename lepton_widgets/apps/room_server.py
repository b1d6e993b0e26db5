"""``lepton app --room``: one Voilà server for a class, each person in their own folder.

What the room adds to ``lepton app`` (apps/launch.py, whose token, Host and Origin locks all stay):

- **A room folder** (``--room-dir``, default ``./room``; layout in core/runs/room.py). The server serves its
  ``app/`` folder, where the workbench and the teacher's notebook are copied: ``/voila/render/workbench.ipynb``
  for everyone, ``/voila/render/room_teacher.ipynb`` for the teacher (``--teacher`` prints its address). Each
  person types a name first and trains into ``people/<name>/runs`` (apps/room.py).
- **Network access only when asked**: the default address stays 127.0.0.1; ``--ip 0.0.0.0`` (or one address)
  opens it to the room, and the printed link (with the token, which is always required) is what students type.
  The Host allow-list then holds this machine's names and addresses too, and ``--allow-host`` adds more.
- **Kernels go when pages go**: idle kernels are culled after ``--cull-idle`` minutes
  (``MappingKernelManager.cull_idle_timeout``; ``cull_connected=False``, so an open page is never culled), and
  closing a tab shuts its kernel at once (the ``_xsrf`` fix in apps/voila_app.py).
- **Pages open fast**: Voilà's preheated kernels (``VoilaConfiguration.preheat_kernel``) run the workbench
  notebook before anyone asks; ``--pool N`` keep that many ready (``VoilaKernelManager.kernel_pools_config``,
  the workbench only; the teacher's page starts its own).
- **A memory guard**: a kernel starts only when ``--kernel-memory`` MB fit in the free memory, pooled ones
  included (apps/room_kernels.py); otherwise the page says so in plain words.
- **The training queue's settings** for every kernel: ``LEPTON_QUEUE_DIR=<room>/queue`` and
  ``LEPTON_TRAINING_SLOTS=--max-training`` (default: the number of CPUs).

Example:
    $ lepton app --room --ip 0.0.0.0 --pool 4 --cull-idle 20 --teacher
    >>> cmd, env, links = room_command("/tmp/lepton-doc-room", port=8900, token="a-secret-token", pool=2)
    >>> links["workbench"]
    'http://127.0.0.1:8900/voila/render/workbench.ipynb?token=a-secret-token'
    >>> "--VoilaConfiguration.preheat_kernel=True" in cmd, env["LEPTON_QUEUE_DIR"].endswith("queue")
    (True, True)
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Optional, Sequence

from lepton_widgets.apps.launch import (DEFAULT_CULL_IDLE_MIN, DEFAULT_KERNEL_MEMORY_MB, DEFAULT_POOL,
                                        ESM_URL_ENV, HOST, NOTEBOOK, TOKEN_ENV, VoilaServer, check_host,
                                        check_token, page_env, serve_one, serve_until_stopped,
                                        voila_command)
from lepton_widgets.core.base.training_queue import QUEUE_DIR_ENV, SLOTS_ENV, default_slots
from lepton_widgets.core.runs.room import ROOM_DIR_ENV, Room

TEACHER_NOTEBOOK = NOTEBOOK.with_name("room_teacher.ipynb")
WORKBENCH_PAGE = "voila/render/workbench.ipynb"
TEACHER_PAGE = "voila/render/room_teacher.ipynb"


def local_addresses() -> list[str]:
    """This machine's names and IP addresses (what a browser in the room may put in ``Host``)."""
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    try:
        import psutil

        for addresses in psutil.net_if_addrs().values():
            for address in addresses:
                if address.family in (socket.AF_INET, socket.AF_INET6):
                    names.add(address.address.split("%")[0].lower())
    except Exception:  # psutil missing: the names (and --allow-host) still serve
        pass
    return sorted(n for n in names if n)


def shown_host(ip: str) -> str:
    """The address to print for a server bound to ``ip``: a LAN address for 0.0.0.0, else ``ip`` itself."""
    if ip in ("0.0.0.0", "::"):
        try:  # the address this machine would use to reach the network (no packet is sent)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect(("192.0.2.1", 9))
                return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()
    return f"[{ip}]" if ":" in ip else ip


def _copy_if_changed(source: Path, target: Path) -> None:
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def prepare_room(room_dir: str | Path) -> Room:
    """The room folder with its ``app/`` (the two notebooks), ``people/`` and ``queue/`` folders."""
    room = Room(room_dir)
    for folder in (room.app_dir, room.people_dir, room.queue_dir):
        folder.mkdir(parents=True, exist_ok=True)
    _copy_if_changed(NOTEBOOK, room.app_dir / "workbench.ipynb")
    _copy_if_changed(TEACHER_NOTEBOOK, room.app_dir / "room_teacher.ipynb")
    return room


def room_command(room_dir: str | Path, port: int, ip: str = HOST, token: Optional[str] = None,
                 allow_hosts: Sequence[str] = (), cull_idle_s: float = DEFAULT_CULL_IDLE_MIN * 60,
                 pool: int = DEFAULT_POOL, kernel_memory_mb: float = DEFAULT_KERNEL_MEMORY_MB,
                 max_training: Optional[int] = None, env: Optional[dict] = None,
                 cull_interval_s: Optional[float] = None, fill_delay_s: float = 20.0
                 ) -> tuple[list[str], dict, dict]:
    """The room server's command line, environment, and the links to print (``workbench``, ``teacher``)."""
    ipaddress.ip_address(ip)  # ValueError for anything but an address
    room = prepare_room(room_dir)
    hosts = list(allow_hosts)
    loopback = ipaddress.ip_address(ip).is_loopback
    if not loopback:
        hosts += local_addresses() if ip in ("0.0.0.0", "::") else [ip]
    cmd, env = voila_command(room.app_dir, port, runs_dir=room.root / "runs", env=env, token=token,
                             allow_hosts=hosts)
    public = HOST if loopback else shown_host(ip)
    if ESM_URL_ENV in env:  # the browsers in the room fetch Plotly's script from the address they were given
        env[ESM_URL_ENV] = env[ESM_URL_ENV].replace(f"http://{HOST}:", f"http://{public}:", 1)
    cmd = [f"--Voila.ip={ip}" if part.startswith("--Voila.ip=") else part for part in cmd]
    cull_idle_s = max(1, int(round(cull_idle_s)))
    interval = cull_interval_s if cull_interval_s is not None else max(1, min(60, cull_idle_s // 4))
    cmd += [
        "--VoilaConfiguration.preheat_kernel=True",
        "--VoilaConfiguration.multi_kernel_manager_class=lepton_widgets.apps.room_kernels.GuardedKernelManager",
        # The workbench only; other notebooks (the teacher's) start a kernel when opened.
        f"--VoilaKernelManager.kernel_pools_config={{'default': {{'pool_size': 0}}, "
        f"'workbench.ipynb': {{'pool_size': {max(0, int(pool))}}}}}",
        # A pooled kernel taken by a page is replaced only after this long: the new one's TensorFlow import
        # would otherwise compete with the page being drawn (Voilà's default is 1 s).
        f"--VoilaKernelManager.fill_delay={float(fill_delay_s)}",
        f"--GuardedKernelManager.kernel_memory_mb={float(kernel_memory_mb)}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        f"--MappingKernelManager.cull_interval={int(interval)}",
        "--MappingKernelManager.cull_connected=False",
    ]
    env[ROOM_DIR_ENV] = str(room.root)
    env[QUEUE_DIR_ENV] = str(room.queue_dir)
    env[SLOTS_ENV] = str(max(1, int(max_training or default_slots())))
    base = f"http://{public}:{port}/"
    links = {"workbench": f"{base}{WORKBENCH_PAGE}?token={env[TOKEN_ENV]}",
             "teacher": f"{base}{TEACHER_PAGE}?token={env[TOKEN_ENV]}"}
    return cmd, env, links


def run_app(args, runs_dir: Optional[str] = None) -> int:
    """``lepton app`` with parsed options: the room server with ``--room``, else one person's workbench on this
    machine (apps/launch.py)."""
    return serve_room(args) if args.room else serve_one(args, runs_dir=runs_dir)


def serve_room(args, runs_dir: Optional[str] = None) -> int:
    """Run the room server in the foreground until Ctrl-C (``lepton app --room``)."""
    try:
        token = check_token(args.token) if args.token is not None else None
        hosts = [check_host(host) for host in args.allow_host]
        ipaddress.ip_address(args.ip)
    except ValueError as error:
        print(f"lepton app: {error}", file=sys.stderr)
        return 2
    if args.cull_idle <= 0 or args.pool < 0 or args.kernel_memory < 0 or (args.max_training or 1) < 1:
        print("lepton app: --cull-idle must be above 0, --pool, --kernel-memory 0 or more, --max-training 1 or more",
              file=sys.stderr)
        return 2
    try:
        cmd, env, links = room_command(args.room_dir, args.port, ip=args.ip, token=token, allow_hosts=hosts,
                                       cull_idle_s=args.cull_idle * 60, pool=args.pool,
                                       kernel_memory_mb=args.kernel_memory, max_training=args.max_training,
                                       env=page_env(dict(os.environ), args.basic, args.lang))
    except ValueError as error:
        print(f"lepton app: {error}", file=sys.stderr)
        return 2
    print(f"Lepton room: students open {links['workbench']}", flush=True)
    if args.teacher:
        print(f"Lepton room: the teacher's list of everyone's models: {links['teacher']}", flush=True)
    where = "this machine only" if ipaddress.ip_address(args.ip).is_loopback else f"the network ({args.ip})"
    print(f"Listening on {where}. Without the token in the link nobody gets in. People's runs are saved in "
          f"{Path(env[ROOM_DIR_ENV]) / 'people'}. Ctrl-C stops the server.", flush=True)
    return serve_until_stopped(cmd, env)


class RoomServer(VoilaServer):
    """A room server in the background on a free port (tests, benchmarks); a context manager like
    :class:`~lepton_widgets.apps.launch.VoilaServer`. ``workbench_url`` / ``teacher_url`` carry the token.

    Example:
        >>> with RoomServer("/tmp/room", pool=1, cull_idle_s=10) as server:   # doctest: +SKIP
        ...     print(server.workbench_url)
    """

    def __init__(self, room_dir: str | Path, port: Optional[int] = None, env: Optional[dict] = None,
                 log_path: Optional[str | Path] = None, token: Optional[str] = None, **room_options) -> None:
        super().__init__(port=port, env=env, log_path=log_path, token=token)
        self.cmd, self.env, links = room_command(room_dir, self.port, token=self.token,
                                                 env={**os.environ, **(env or {})}, **room_options)
        self.room = Room(room_dir)
        self.workbench_url, self.teacher_url = links["workbench"], links["teacher"]

    def kernel_pids(self) -> list[int]:
        """The server's kernels now (pooled ones included): its child processes running ipykernel."""
        import psutil

        if self.process is None:
            return []
        pids = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "ipykernel_launcher" in " ".join(child.cmdline()):
                    pids.append(child.pid)
            except psutil.Error:
                pass
        return pids

    def memory_mb(self) -> float:
        """Resident memory of the server and all its kernels, in MB."""
        import psutil

        if self.process is None:
            return 0.0
        total = 0
        server = psutil.Process(self.process.pid)
        for process in [server, *server.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20
