"""Shared test set-up: a private cache per test session, quiet TensorFlow, small real configs."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

# Before TensorFlow is imported anywhere: no C++ log noise, and a private cache so tests never touch ~.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("LEPTON_HOME", tempfile.mkdtemp(prefix="lepton-test-home-"))
# The tests read English unless one asks for another language (lepton_widgets.i18n).
os.environ.pop("LEPTON_LANG", None)

import pytest  # noqa: E402

from lepton_widgets.config import RunConfig  # noqa: E402


def tiny_config(**sections) -> RunConfig:
    """Digits + small_cnn at 32 px: a real training run that takes a few seconds."""
    raw = {
        "name": "tiny",
        "seed": 7,
        "data": {"dataset": "digits", "max_per_class": 50},
        "backbone": {"name": "small_cnn", "weights": "none", "image_size": 32, "frozen_depth": 0},
        "train": {"epochs": 1, "fine_tune_epochs": 3, "batch_size": 16, "early_stopping_patience": 0,
                  "fine_tune_lr_factor": 1.0, "learning_rate": 3e-3},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            raw.setdefault(section, {}).update(values)
        else:
            raw[section] = values
    return RunConfig.from_dict(raw)


@contextlib.contextmanager
def _turn(alone: bool):
    """Under ``make test``'s two worker processes (pytest-xdist): a test marked ``alone`` runs while no other
    test does, any other test beside any but those. Wall-time promises (Auto within its budget) are measured
    on the cores a user would have, not half of them. Two locks shared by the workers (files named after their
    common parent process): ``run`` is shared by ordinary tests and exclusive for ``alone`` ones; ``gate``,
    held only while taking ``run``, stops new tests from starting while an ``alone`` one waits for the others."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    base = Path(tempfile.gettempdir()) / f"lepton-tests-{os.getppid()}"
    with open(f"{base}.gate", "a+") as gate, open(f"{base}.run", "a+") as run:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(run, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(run, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with _turn(item.get_closest_marker("alone") is not None):
        yield


@pytest.fixture(autouse=True)
def _english_unless_asked():
    """A test that switches the language (set_language) cannot leave it switched for the next one."""
    from lepton_widgets.i18n import set_language

    yield
    set_language(None)


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    """A ``LEPTON_HOME`` of this test's own, for a test that empties a cache folder or counts its files.

    ``make test``'s two xdist workers share the session's home (they inherit the controller's environment, where
    the line at the top of this file set it), and each extracts into it while the other does: deleting the
    shared ``features`` folder once made the other worker's Auto fail to rename its freshly written file
    into place. The converted weights stay shared (a link), so they are not converted again.
    """
    from lepton_widgets.core.base.paths import cache_dir

    home = tmp_path / "lepton-home"
    home.mkdir()
    (home / "weights").symlink_to(cache_dir("weights"), target_is_directory=True)
    monkeypatch.setenv("LEPTON_HOME", str(home))
    return home


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def make_notebooks_module():
    """``notebooks/make_notebooks.py`` (the generator of the committed notebooks), imported from its folder."""
    folder = str(Path(__file__).resolve().parents[1] / "notebooks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module("make_notebooks")
    finally:
        sys.path.remove(folder)
