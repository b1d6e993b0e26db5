"""The offline lab install's requirement list (deploy/lab/requirements.txt) stays complete against pyproject.toml.

`make wheelhouse` downloads exactly that list (plus the Makefile's LAB_NO_DEPS and NO_DEPS_PACKS), and the lab
install has no index to fall back on, so a runtime dependency added to pyproject.toml but not to the lab list
would only show on a laptop with no internet. The deliberate differences are named here and nowhere else:
tensorflow -> tensorflow-cpu, no jupyterlab (Voila serves the app), keras-hub and tensorflow-text with --no-deps.
No download: it reads the files and the installed keras-hub's metadata. .ci/run's offline install is the proof
that the list really installs and runs (deploy/lab/check_offline_install.sh).
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REPLACED = {"tensorflow": "tensorflow-cpu"}
DROPPED = {"jupyterlab"}


def _lab_requirements() -> list[Requirement]:
    lines = (ROOT / "deploy/lab/requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]


def _makefile_list(name: str) -> list[Requirement]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{name}\s*:=((?:.*\\\n)*.*)$", text, re.MULTILINE)
    assert match, f"Makefile has no {name}"
    return [Requirement(word) for word in match.group(1).replace("\\\n", " ").split()]


def _by_name(requirements) -> dict[str, list[Requirement]]:
    out: dict[str, list[Requirement]] = {}
    for req in requirements:
        out.setdefault(canonicalize_name(req.name), []).append(req)
    return out


def test_every_runtime_dependency_is_in_the_lab_list_with_the_same_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lab = _by_name(_lab_requirements())
    no_deps = _by_name(_makefile_list("LAB_NO_DEPS"))
    missing, changed = [], []
    for req in map(Requirement, project):
        name = canonicalize_name(req.name)
        if name in DROPPED:
            continue
        if name in REPLACED:
            (replacement,) = lab[REPLACED[name]]
            pinned = Version(str(replacement.specifier).lstrip("="))
            assert req.specifier.contains(pinned), f"{replacement} is outside pyproject's {req}"
        elif name in no_deps:
            (pin,) = no_deps[name]
            assert req.specifier.contains(str(pin.specifier).lstrip("=")), f"{pin} is outside pyproject's {req}"
        elif name not in lab:
            missing.append(str(req))
        elif req.specifier not in [r.specifier for r in lab[name]]:
            changed.append(f"{req} vs {[str(r) for r in lab[name]]}")
    assert not missing, f"runtime dependencies missing from deploy/lab/requirements.txt: {missing}"
    assert not changed, f"version ranges differ from pyproject.toml: {changed}"


def test_keras_hub_dependencies_are_listed_since_it_goes_in_without_them():
    (pin,) = _by_name(_makefile_list("LAB_NO_DEPS"))["keras-hub"]
    assert metadata.version("keras-hub") == str(pin.specifier).lstrip("="), \
        "the lab pin of keras-hub differs from the installed one: update LAB_NO_DEPS and its dependencies"
    lab = _by_name(_lab_requirements())
    no_deps = _by_name(_makefile_list("LAB_NO_DEPS"))
    wanted = [Requirement(r) for r in metadata.requires("keras-hub") if "extra ==" not in r]
    missing = [str(r) for r in wanted
               if canonicalize_name(r.name) not in lab and canonicalize_name(r.name) not in no_deps]
    assert not missing, f"keras-hub needs these and the lab list lacks them: {missing}"


def test_tensorflow_text_matches_the_cpu_tensorflow_minor_version():
    # tensorflow-text's compiled ops load only into the TensorFlow minor version they were built for
    (text,) = _by_name(_makefile_list("LAB_NO_DEPS"))["tensorflow-text"]
    (cpu,) = _by_name(_lab_requirements())["tensorflow-cpu"]
    text_version, cpu_version = (Version(str(r.specifier).lstrip("=")) for r in (text, cpu))
    assert text_version.release[:2] == cpu_version.release[:2], f"{text} does not match {cpu}"
    assert not any(canonicalize_name(r.name) == "tensorflow" for r in _lab_requirements())
