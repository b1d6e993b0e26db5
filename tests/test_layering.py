"""The core engine must not depend on the widget stack (STYLE.md: arrows point down only)."""

import ast
import re
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


# --- core/ as packages named after what they do (issue 14): no prefix families flat in core/, no shims ---------

REPO = CORE.parents[1]
#: The packages that took in a prefix family, and the flat modules they replaced.
MOVED_PACKAGES = ("base", "runs", "search", "fusion", "update", "export", "predict")
MOVED_FLAT = ("atomic", "paths", "events", "envcard", "limits", "safe_csv", "quiet_tensorflow", "run_store",
              "run_recorder", "tuning", "replay", "model_card", "safe_load", "predict_any", "exported")
#: A flat module whose name starts like one of these belongs in a package (``tuning_cache.py`` in search/...).
FAMILY_PREFIXES = ("tuning", "fusion", "export", "run_", "update", "replay", "predict", "safe_load", "model_card")


def _flat_family_modules(names) -> list[str]:
    packages = tuple(p.name for p in CORE.iterdir() if (p / "__init__.py").exists())
    return sorted(n for n in names if Path(n).stem.startswith(FAMILY_PREFIXES + packages)
                  or Path(n).stem in MOVED_FLAT)


def test_no_prefix_family_lies_flat_in_core():
    assert _flat_family_modules(p.name for p in CORE.glob("*.py")) == []


def test_the_family_scan_sees_a_flat_family():
    """The scanner itself must be able to fail."""
    names = ["model.py", "tuning_cache.py", "fusion_vote.py", "export_zip.py", "run_index.py", "search_grid.py",
             "limits.py", "augment.py"]
    assert _flat_family_modules(names) == ["export_zip.py", "fusion_vote.py", "limits.py", "run_index.py",
                                           "search_grid.py", "tuning_cache.py"]


def _top_level_names(module: Path) -> set[str] | None:
    """Names a module defines at top level (None: it has a lazy ``__getattr__``, so any name may resolve)."""
    names, body = set(), list(ast.parse(module.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            body += node.body + getattr(node, "orelse", []) + [s for h in getattr(node, "handlers", []) for s in h.body]
    return names


def _resolves(dotted: str) -> bool:
    """Whether ``lepton_widgets.core.a.b.c`` names a module of core/, or a top-level name in one."""
    here = CORE
    for i, part in enumerate(dotted.split(".")[2:]):
        if (here / part / "__init__.py").exists():
            here = here / part
            continue
        rest = dotted.split(".")[2 + i + 1:]
        module, name = (here / f"{part}.py", rest[0] if rest else None) if (here / f"{part}.py").exists() \
            else (here / "__init__.py", part)
        if not module.exists():
            return False
        names = _top_level_names(module)
        return name is None or names is None or name in names
    return True


def _stale_references(text: str) -> list[str]:
    dotted = [m for m in re.findall(r"lepton_widgets\.core(?:\.\w+)+", text) if not _resolves(m)]
    paths = [m for m in re.findall(r"(?<![\w/])core/([\w/]+\.py)\b", text) if not (CORE / m).exists()]
    return dotted + [f"core/{p}" for p in paths]


def test_every_reference_to_a_core_module_names_a_real_one():
    """A moved module leaves no shim behind, so every dotted name and core/ path in code, tests, docs,
    benchmarks and notebooks must name where the code lives now (monkeypatch strings and doctests included)."""
    sources = [REPO / "README.md", REPO / "pyproject.toml"] + [
        p for d in ("lepton_widgets", "tests", "benchmarks", "notebooks") for p in (REPO / d).rglob("*")
        if p.suffix in (".py", ".md", ".ipynb") and p != Path(__file__)]
    stale = {str(p.relative_to(REPO)): s for p in sources if p.exists()
             and (s := _stale_references(p.read_text(encoding="utf-8")))}
    assert not stale, f"references to core modules that do not exist (moved?): {stale}"


def test_the_reference_scan_sees_a_stale_name():
    """The scanner itself must be able to fail: old flat names, a name missing from a real module, a dead path."""
    old = "lepton_widgets.core." + "tuning.run_search"
    missing = "lepton_widgets.core.search.tuner." + "no_such_function"
    assert _stale_references(f"{old} and {missing} and ``core/" + "fusion_soup.py``") == [
        old, missing, "core/fusion_soup.py"]
    assert _stale_references("lepton_widgets.core.search.tuner.run_search core/search/tuner.py "
                             "lepton_widgets.core.tasks.text.TextConfig lepton_widgets.core.data") == []


def test_moved_packages_re_export_nothing():
    """No shims: the new packages' __init__ files only describe their modules (no imports, no lazy tables),
    and no __init__ in lepton_widgets re-exports a public name from a moved module."""
    for name in MOVED_PACKAGES:
        tree = ast.parse((CORE / name / "__init__.py").read_text(encoding="utf-8"))
        assert all(isinstance(n, ast.Expr) for n in tree.body), f"core/{name}/__init__.py does more than describe"
    moved = tuple(f"lepton_widgets.core.{name}" for name in MOVED_PACKAGES)
    for init in CORE.parent.rglob("__init__.py"):
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(moved):
                public = [a.name for a in node.names if not (a.asname or a.name).startswith("_")]
                assert not public, f"{init.relative_to(REPO)} re-exports {public} from {node.module}"
