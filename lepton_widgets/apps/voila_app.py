"""Voilà as ``lepton app`` runs it: only its user can drive it, and one more static folder.

**Who may drive the server.** The kernel behind the page reads and writes the user's files, so a web page the
user happens to visit must not reach it. Voilà 0.5 starts with no token and sets ``allow_remote_access=True``,
which turns jupyter_server's own Host check off; this subclass puts three locks back:

- a token, through Voilà's own token option (jupyter_server's identity provider): the page, the API and the
  kernel websocket need ``?token=...`` or the login cookie that the first page load with it sets. It comes
  from ``$LEPTON_APP_TOKEN`` (removed from the environment before any kernel starts, so neither the process
  list nor the kernels see it) or ``--Voila.token``; with neither, or an empty one, Voilà generates one and
  prints it in the URL. There is no way to run this server without a token.
- a ``Host`` allow-list (``--LeptonVoila.allowed_hosts``; localhost, 127.0.0.1 and ::1 by default), checked on
  every request, static files included: a DNS-rebinding page arrives with its own name as ``Host``. When the
  list holds names only (no address other than loopback), jupyter_server's own check is switched back on too
  (``allow_remote_access=False``, ``local_hostnames``).
- an ``Origin`` check on every request that carries one (websockets, POSTs, module scripts): the Origin must
  be the address the request was sent to. A browser always sends it on a websocket, so another site's page is
  refused even when the browser holds the login cookie, and even a client that knows the token cannot come
  from a foreign page (jupyter_server alone would let any token holder through).

**A closed tab frees its kernel.** Voilà's page asks the server to shut its kernel down when it closes, with
a form field copied from the ``_xsrf`` cookie, which Voilà never set; the request was refused (``403 '_xsrf'
argument missing``) and the kernel lived on. The page handler now sets that cookie (:class:`_PageGuard`), so
the ordinary XSRF check passes; nothing is switched off. The same handler shows the room's memory guard
(apps/room_kernels.py) as a sentence in the page.

**The static folder.** Voilà serves files next to the notebook (``/voila/files/``), but an installed package's
notebooks folder may be read-only, and writing a 5 MB script into a checkout is untidy. Plotly's widget script
goes to the cache folder (``$LEPTON_HOME/static``) instead, and this subclass adds that folder to Voilà's
static paths. Voilà fills its static paths from the template when it starts (``setup_template_dirs``), so a
plain ``--Voila.static_paths`` would be overwritten; the extra folder is added after that, first in line.

Run by :func:`lepton_widgets.apps.launch.voila_command`; any Voilà option works as with ``voila`` itself.

Example:
    $ LEPTON_APP_TOKEN=$(python -c "import secrets; print(secrets.token_hex(24))") \\
      python -m lepton_widgets.apps.voila_app notebooks/workbench.ipynb --no-browser \\
          --LeptonVoila.extra_static_dir=$HOME/.cache/lepton/static --LeptonVoila.allowed_hosts=myhost.lan
    # http://127.0.0.1:8866/?token=$LEPTON_APP_TOKEN opens the workbench; without the token: the login form
"""

from __future__ import annotations

import html
import ipaddress
import os
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web
from tornado.ioloop import PeriodicCallback
from tornado.log import app_log
from traitlets import Float, List, Unicode
from voila.app import Voila
from voila.handler import VoilaHandler

from lepton_widgets.apps.launch import DEFAULT_ALLOWED_HOSTS, TOKEN_ENV, host_name
# The guard's classes live in their own module: this one runs as __main__, and Voilà imports the kernel manager
# by name, so classes defined here would exist twice and `except MemoryShort` would miss the other copy.
from lepton_widgets.apps.room_kernels import MemoryShort

REFUSED = ("This Lepton Workbench server answers only the address that `lepton app` printed "
           "(http://127.0.0.1:<port>/?token=...). Open that link.")


def refusal(request, allowed_hosts) -> str:
    """Why ``request`` is refused (for the log), or "" when its Host and Origin are acceptable."""
    host = request.headers.get("Host", "")
    if host_name(host) not in allowed_hosts:
        return f"Host {host!r} is not in the allow-list {sorted(allowed_hosts)}"
    # Browsers send Origin on websockets and on cross-site or non-GET requests; scripts may send none.
    origin = request.headers.get("Origin", request.headers.get("Sec-Websocket-Origin"))
    if origin is not None:
        parts = urlsplit(origin.strip().lower())
        if parts.scheme not in ("http", "https") or parts.netloc != host.lower():
            return f"Origin {origin!r} is not this server's address {host!r}"
    return ""


class _HostOriginGuard:
    """Mixed into every handler the server has, ahead of its own class: see the module's docstring."""

    def prepare(self, *args, **kwargs):
        reason = refusal(self.request, self.settings["lepton_allowed_hosts"])
        if reason:
            app_log.warning("Refused %s %s: %s", self.request.method, self.request.path, reason)
            # Nobody is logged in: jupyter_server's handlers look these up when they finish a request.
            self.current_user = self._jupyter_current_user = None
            self.clear()
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(REFUSED)  # tornado skips get()/post() (and the websocket upgrade) after this
            return None
        return super().prepare(*args, **kwargs)

    def write_error(self, status_code: int, **kwargs) -> None:
        # jupyter_server renders an error page from templates (403.html, else error.html) that Voilà's settings
        # cannot render (no `static_path`), and logs a traceback each time; a line of text says as much.
        # Its API handlers answer in JSON, which works.
        if isinstance(self, JupyterHandler) and not isinstance(self, APIHandler):
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{status_code}: {self._reason}")
        else:
            super().write_error(status_code, **kwargs)


class _PageGuard:
    """Mixed into Voilà's page handler: the ``_xsrf`` cookie that the page's close request needs, and the memory
    guard's page.

    **Why a closed tab kept its kernel.** On ``beforeunload`` Voilà's page posts ``/voila/api/shutdown/<kernel>``
    with ``navigator.sendBeacon`` and a form field ``_xsrf`` copied from the ``_xsrf`` cookie (it cannot set the
    ``X-XSRFToken`` header on a beacon). Nothing on a Voilà page ever reads the handler's ``xsrf_token``, so
    that cookie is never set, the field is empty, and jupyter_server refuses the POST with ``403 '_xsrf'
    argument missing`` (voila-dashboards/voila#1458). Reading ``xsrf_token`` here, on the authenticated page
    load, sets the cookie; the shutdown request then passes the ordinary XSRF check, still needs the login
    (token) cookie, and the Origin check above still applies: no check is switched off.
    """

    @web.authenticated
    async def get(self, path=None):
        self.xsrf_token  # noqa: B018 - reading it sets the _xsrf cookie (see the class docstring)
        manager = self.kernel_manager
        check = getattr(manager, "memory_check", None)
        name = getattr(self, "notebook_path", None) or path
        pooled = manager.get_pool_size(name) if hasattr(manager, "get_pool_size") and name else 0
        refusal = check() if check is not None and not pooled else None
        for _attempt in range(3):  # a pooled kernel that failed to start for want of memory: try the next one
            if refusal is not None:
                return self._refuse(refusal)
            try:
                return await super().get(path)
            except MemoryShort as short:
                if self._headers_written:
                    raise
                refusal = check() if check is not None else short
        return self._refuse(refusal or MemoryShort(0, 0))

    def _refuse(self, refusal: MemoryShort) -> None:
        self.set_status(503)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Retry-After", "60")
        self.finish("<!doctype html><meta charset='utf-8'><title>Lepton Workbench</title>"
                    "<p class='lepton-memory-refusal' style='font:16px sans-serif;margin:2em'>"
                    f"{html.escape(refusal.words())}</p>")


_GUARDED: dict[type, type] = {}


def guarded(handler_class: type) -> type:
    """``handler_class`` with :class:`_HostOriginGuard` in front (one subclass per class), and Voilà's page
    handler with :class:`_PageGuard` too."""
    if issubclass(handler_class, _HostOriginGuard):
        return handler_class
    if handler_class not in _GUARDED:
        bases = (_HostOriginGuard, _PageGuard) if issubclass(handler_class, VoilaHandler) else (_HostOriginGuard,)
        _GUARDED[handler_class] = type(f"Guarded{handler_class.__name__}", (*bases, handler_class), {})
    return _GUARDED[handler_class]


class LeptonVoila(Voila):
    """:class:`voila.app.Voila` with a mandatory token, a Host allow-list, Origin checks, and ``extra_static_dir``
    served under ``/voila/static/``."""

    extra_static_dir = Unicode("", config=True, help="A folder whose files are served under /voila/static/.")
    allowed_hosts = List(Unicode(), default_value=list(DEFAULT_ALLOWED_HOSTS), config=True,
                         help="Host names and addresses the server answers to (the Host header, without port).")
    pool_refill_s = Float(15.0, config=True,
                          help="With preheat_kernel: seconds between checks that the kernel pools are full.")

    def setup_template_dirs(self) -> None:
        super().setup_template_dirs()
        if self.extra_static_dir:
            self.static_paths = [self.extra_static_dir, *self.static_paths]

    def init_settings(self) -> dict:
        # Read (and drop) the token before Voilà builds its identity provider, and before any kernel inherits
        # the environment. An empty token would mean no authentication at all: generate one instead.
        from_env = os.environ.pop(TOKEN_ENV, "")
        if from_env:
            self.token = from_env
        if not self.token:
            self.token, self.auto_token = None, True
        # Jupyter's login form also offers to set a password, which it would save in ~/.jupyter for every
        # later Jupyter server: not a side effect a workbench should have. The token is the only way in.
        self.config.PasswordIdentityProvider.allow_password_change = False
        settings = super().init_settings()
        hosts = sorted({host_name(h) for h in self.allowed_hosts if h.strip()})
        settings["lepton_allowed_hosts"] = frozenset(hosts)
        # jupyter_server's own Host check accepts loopback addresses and `local_hostnames`; it can run as a
        # second lock unless the allow-list names another address (a room server on a LAN address).
        settings["allow_remote_access"] = not all(_loopback_or_name(h) for h in hosts)
        settings["local_hostnames"] = [h for h in hosts if not _is_address(h)]
        if self.voila_configuration.preheat_kernel and self.pool_refill_s > 0:
            # Voilà refills a pool only when a pooled kernel is taken; one whose start the memory guard refused
            # stays a failed entry. Every pool_refill_s: drop failed entries, start what is missing (if it fits).
            self._refill = PeriodicCallback(self._refill_pools, self.pool_refill_s * 1000)
            self._refill.start()
        return settings

    def _refill_pools(self) -> None:
        manager = self.kernel_manager
        pools = getattr(manager, "_pools", {})  # Voilà's pool list per notebook (voila_kernel_manager.py)
        for name, pool in list(pools.items()):
            for task in list(pool):
                if task.done() and (task.cancelled() or task.exception() is not None):
                    pool.remove(task)
            check = getattr(manager, "memory_check", None)
            if check is None or check() is None:
                manager.fill_if_needed(delay=0, notebook_name=name)

    def init_handlers(self) -> list:
        rules = []
        for rule in super().init_handlers():
            if isinstance(rule, (tuple, list)):
                rules.append((rule[0], guarded(rule[1]), *rule[2:]))
            elif isinstance(rule, web.URLSpec):
                rule.handler_class = guarded(rule.handler_class)
                rules.append(rule)
            else:  # no other form reaches here in Voilà 0.5; refuse to serve a handler we cannot guard
                raise TypeError(f"cannot guard handler rule {rule!r}")
        return rules


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _loopback_or_name(host: str) -> bool:
    return not _is_address(host) or ipaddress.ip_address(host).is_loopback


main = LeptonVoila.launch_instance

if __name__ == "__main__":
    main()
