"""The core engine must not depend on the widget stack (STYLE.md: arrows point down only)."""

import ast
import subprocess
import sys
from pathlib import Path

import lepton_widgets

CORE = Path(lepton_widgets.__file__).parent / "core"
UI_MODULES = {"ipywidgets", "IPython", "plotly", "traitlets", "anywidget", "voila"}


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_core_module_imports_ui_libraries_in_source():
    offenders = {str(p.relative_to(CORE)): sorted(_imported_roots(p) & UI_MODULES) for p in CORE.rglob("*.py")}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"core/ imports UI libraries: {offenders}"


def test_importing_the_whole_core_loads_no_ui_library():
    modules = sorted("lepton_widgets.core." + ".".join(p.relative_to(CORE).with_suffix("").parts)
                     for p in CORE.rglob("*.py") if p.name != "__init__.py")
    # Keras itself imports IPython and traitlets (for notebook detection), so measure what core adds on top.
    code = ("import importlib, sys, keras, tensorflow\n"
            "def roots(): return set(m.split('.')[0] for m in sys.modules)\n"
            "baseline = roots()\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted((roots() - baseline) & {UI_MODULES!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_layer_scan_sees_ui_imports(tmp_path):
    """The scanner itself must be able to fail."""
    sample = tmp_path / "bad.py"
    sample.write_text("import ipywidgets as w\nfrom plotly import graph_objects\n")
    assert _imported_roots(sample) & UI_MODULES == {"ipywidgets", "plotly"}
