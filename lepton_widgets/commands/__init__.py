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

import importlib
import pkgutil


def register_all(subparsers) -> list[str]:
    """Call ``register(subparsers)`` of every module in this package, in name order; return the names."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    for name in names:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return names
