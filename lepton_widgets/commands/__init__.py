"""Extra ``lepton`` subcommands, one module each (``fuse``, ``update``, ``export``, ...).

A module here defines ``register(subparsers)``, which adds its parser and sets ``func`` to a function
``(args) -> exit code``; :func:`lepton_widgets.cli.build_parser` calls every module's ``register``. The
modules import TensorFlow only inside their command functions, so ``lepton --help`` stays fast.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="lepton")
    >>> names = register_all(parser.add_subparsers(dest="command"))
    >>> names == sorted(names)
    True
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Callable


def register_all(subparsers) -> list[str]:
    """Call ``register(subparsers)`` of every module in this package, in name order; return the names."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return names


def whole_number_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for whole numbers >= ``minimum`` (a clear usage error otherwise).

    >>> whole_number_at_least(1)("3")
    3
    """
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse
