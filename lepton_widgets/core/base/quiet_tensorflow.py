"""Keep TensorFlow's start-up log lines away from the user, on every CPU; pass any other stderr output on.

Why this is needed: ``import tensorflow`` loads two native libraries, and each logs a few lines through absl
*before* absl's logging is initialised. Until then absl writes everything to stderr and ignores
``TF_CPP_MIN_LOG_LEVEL``, so on some CPUs (AVX-512 machines, where oneDNN's custom operations are on) a level
of 3 still prints, twice::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1733426400.123456   1234 port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:1733426400.123456   1234 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...

They come from C++, so they never pass through Python's ``sys.stderr``; Jupyter and Voilà forward the
process's file descriptor 2 into the page, where they read like errors. Other CPUs print none of it.

The fix is at the one place every path shares, the first ``import tensorflow`` of the process, whoever
triggers it (``keras``, ``lw.train``, the ``lepton`` CLI, the apps): :func:`install` (called when
``lepton_widgets`` is imported) adds an import hook that runs TensorFlow's module body with file
descriptor 2 captured, then writes back every line except the start-up noise. Numerics are untouched
(``TF_ENABLE_ONEDNN_OPTS`` is left alone): only lines are dropped.

What is dropped (:func:`is_startup_noise`): the absl banner, the known start-up messages (oneDNN ``port.cc``,
``cudart_stub.cc``, ``cpu_feature_guard.cc`` and its "rebuild TensorFlow" second line), and any other absl
line printed during the import whose severity is below ``TF_CPP_MIN_LOG_LEVEL`` (what TensorFlow itself
would have dropped had absl been ready). Anything else written to stderr during the import is passed on,
after the import, in its order.

Example:
    >>> from lepton_widgets.core.base.quiet_tensorflow import filter_startup_noise
    >>> filter_startup_noise("I0000 00:00:1.2   7 cudart_stub.cc:31] Could not find cuda drivers\\nreal problem\\n")
    'real problem\\n'
    >>> quiet_tensorflow_import()  # imports TensorFlow (seconds); nothing from it reaches stderr  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import re
import sys
import tempfile
from typing import Iterator, Optional

# The known start-up lines, matched on what identifies them rather than on the whole line (the timestamps,
# thread ids and line numbers change between builds). Dropped whatever TF_CPP_MIN_LOG_LEVEL says: they are
# printed before any level applies and never help a user.
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|^[IWE]\d{4} [\d:. ]+\d+ (port\.cc|cudart_stub\.cc|cpu_feature_guard\.cc):\d+\]"
    r"|rebuild TensorFlow with the appropriate compiler flags")
# absl's line prefix: severity letter, MMDD, time, thread id, file:line]
ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\]")
SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}


def min_log_level(environ: Optional[dict] = None) -> int:
    """TensorFlow's ``TF_CPP_MIN_LOG_LEVEL`` (0 when unset or not a number)."""
    raw = (os.environ if environ is None else environ).get("TF_CPP_MIN_LOG_LEVEL", "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def is_startup_noise(line: str, level: Optional[int] = None) -> bool:
    """Whether a line printed during TensorFlow's import should be kept from the user."""
    if STARTUP_NOISE.search(line):
        return True
    match = ABSL_LINE.match(line)
    level = min_log_level() if level is None else level
    return bool(match) and SEVERITY[match.group(1)] < min(level, 3)  # fatal lines always pass


def filter_startup_noise(text: str, level: Optional[int] = None) -> str:
    """``text`` without its start-up noise lines; other lines (and blank ones) keep their order and endings."""
    return "".join(line for line in text.splitlines(keepends=True) if not is_startup_noise(line, level))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Capture file descriptor 2 for the duration, then write back what is not start-up noise.

    Works below Python (C++ writes to the descriptor directly). The kept output is written back even when
    the body raises, so an import error's own messages are never lost. Other threads' stderr output in
    the window is delayed until it ends, not dropped.
    """
    _flush_python_stderr()
    saved = None
    try:
        saved = os.dup(2)
        captured = tempfile.TemporaryFile(mode="w+b")
    except OSError:  # no stderr to capture (a daemon) or nowhere to put it: import unfiltered, never fail
        if saved is not None:
            os.close(saved)
        yield
        return
    with captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            _flush_python_stderr()  # Python-level writes in the window belong to it too
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = filter_startup_noise(captured.read().decode(errors="surrogateescape"))
            if kept:
                os.write(2, kept.encode(errors="surrogateescape"))


def _flush_python_stderr() -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except Exception:  # a closed or odd stream must not stop the import
        pass


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: the same module, executed inside :func:`filtered_stderr`."""

    def __init__(self, loader, finder: "_QuietFinder") -> None:
        self._loader, self._finder = loader, finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._finder.remove()  # one import only; later (re)loads are TensorFlow's own business
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        with filtered_stderr():
            self._loader.exec_module(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...: the real loader answers
        return getattr(self._loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and hands back its spec with a :class:`_QuietLoader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader, self)
                return spec
        return None

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)


def install() -> None:
    """Quieten the process's first ``import tensorflow``, whenever it happens. Idempotent; a no-op when
    TensorFlow is already imported (its lines, if any, are already out)."""
    if "tensorflow" in sys.modules or any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())


def quiet_tensorflow_import() -> None:
    """Import TensorFlow now, without its start-up lines, at level 3 unless the user chose another level.

    The apps call it before building their panels, so the page shows nothing from TensorFlow; the level
    also keeps its later C++ messages out of the page.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    install()
    import tensorflow  # noqa: F401
