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

import ipaddress
import os
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web
from tornado.log import app_log
from traitlets import List, Unicode
from voila.app import Voila

from lepton_widgets.apps.launch import DEFAULT_ALLOWED_HOSTS, TOKEN_ENV, host_name

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


_GUARDED: dict[type, type] = {}


def guarded(handler_class: type) -> type:
    """``handler_class`` with :class:`_HostOriginGuard` in front (one subclass per class)."""
    if issubclass(handler_class, _HostOriginGuard):
        return handler_class
    if handler_class not in _GUARDED:
        _GUARDED[handler_class] = type(f"Guarded{handler_class.__name__}", (_HostOriginGuard, handler_class), {})
    return _GUARDED[handler_class]


class LeptonVoila(Voila):
    """:class:`voila.app.Voila` with a mandatory token, a Host allow-list, Origin checks, and ``extra_static_dir``
    served under ``/voila/static/``."""

    extra_static_dir = Unicode("", config=True, help="A folder whose files are served under /voila/static/.")
    allowed_hosts = List(Unicode(), default_value=list(DEFAULT_ALLOWED_HOSTS), config=True,
                         help="Host names and addresses the server answers to (the Host header, without port).")

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
        return settings

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
