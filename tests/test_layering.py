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


# --- the import graph (issue 14, "Must show"): no circles, nothing imports uphill, one place asks the modality ----

PACKAGE = CORE.parent

#: The layers, low to high. A module belongs to the entry that is the longest prefix of its dotted name (relative
#: to ``lepton_widgets``; ``""`` is the package's own ``__init__``, the public API facade). A module may import its
#: own layer or lower ones, never a higher one. Why this order, from the code as it is:
#: - ``core.base`` (events, atomic writes, paths, Job) and ``core.custom_layers`` (a list of loaders that tasks fill
#:   in) import nothing of Lepton; ``config`` reads ``core.base.limits``; ``core.data`` reads the config.
#: - ``core.evaluation`` (metrics over a dataset) and ``core.frozen_depth`` (the one frozen-depth rule) use data;
#:   ``core.runs`` stores a run with its evaluation files; ``core.backbones`` comes above the run store because a
#:   finished run is one of its weights sources (``weights: "run:<id>"``).
#: - ``core.tasks`` builds and trains models on backbones and stores runs; the steps (search, fusion, update,
#:   export) call the tasks; predict reads exported files; the front ends (api, state, the CLI's commands)
#:   drive it all; panels bind state to widgets, apps compose panels, and ``cli`` (which can launch the app)
#:   sits on top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core", "core.base", "core.custom_layers", "i18n"),
    ("config",),
    ("core.data",),
    ("core.evaluation", "core.frozen_depth"),
    ("core.runs",),
    ("core.backbones",),
    ("core.tasks",),
    ("core.search", "core.fusion", "core.update", "core.export"),
    ("core.auto",),
    ("core.predict",),
    ("", "api", "state", "commands", "doctor", "teaching"),
    ("panels",),
    ("apps",),
    ("cli",),
)


def _module_name(path: Path, root: Path) -> str:
    """``lepton_widgets/core/data/__init__.py`` -> ``core.data`` (``""`` for the package's own __init__)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_edges(root: Path, top: str = "lepton_widgets", packages_run: bool = False) -> dict[str, dict[str, int]]:
    """``{importer: {imported: line}}`` between the modules under ``root`` (a package named ``top``).

    Every import counts, at module level or inside a function, except those under ``if TYPE_CHECKING:``, which
    never run (annotations only). ``from a.b import c`` points at ``a.b.c`` when that is a module, else at
    ``a.b``. With ``packages_run``, importing ``a.b.c`` from outside ``a.b`` also points at ``a.b``, whose
    ``__init__`` runs first (that matters for circles; for layers it adds nothing, a package is in its
    module's layer or a lower one)."""
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    packages = {m for m, p in files.items() if p.name == "__init__.py"}

    def known(dotted: str) -> str | None:
        while dotted not in files:
            if not dotted:
                return None
            dotted = dotted.rpartition(".")[0]
        return dotted

    edges: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        out = edges.setdefault(module, {})
        here = module.split(".") if module else []
        base_package = here if path.name == "__init__.py" else here[:-1]
        stack = list(ast.parse(path.read_text(encoding="utf-8")).body)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.If) and _is_type_checking(node):
                stack += node.orelse
                continue
            stack += [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base_package[:len(base_package) - node.level + 1]
                    source = ".".join(anchor + ([node.module] if node.module else []))
                    source = f"{top}.{source}" if source else top
                else:
                    source = node.module or ""
                names = [f"{source}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                if name != top and not name.startswith(top + "."):
                    continue
                target = known(name[len(top) + 1:] if name != top else "")
                if target is None:
                    continue
                parents = target.split(".")[:-1] if target else []
                for i in range(1, len(parents) + 1 if packages_run else 1):  # its __init__ runs first
                    parent = ".".join(parents[:i])
                    if parent in packages and parent != module and not (module + ".").startswith(parent + "."):
                        out.setdefault(parent, node.lineno)
                if target != module:
                    out.setdefault(target, node.lineno)
    return edges


def _layer_of(module: str, layers=LAYERS) -> int | None:
    best = None
    for index, layer in enumerate(layers):
        for prefix in layer:
            if module == prefix or (prefix and module.startswith(prefix + ".")) or (prefix == "" and module == ""):
                if best is None or len(prefix) >= len(best[1]):
                    best = (index, prefix)
    return None if best is None else best[0]


def _group_of(module: str, layers=LAYERS) -> str:
    """The layer entry (``core.tasks``, ``panels``, ...) a module belongs to."""
    matches = [p for layer in layers for p in layer
               if module == p or (p and module.startswith(p + "."))]
    return max(matches, key=len) if matches else module


def _uphill_imports(edges, layers=LAYERS) -> list[str]:
    """Every import from a lower layer to a higher one, as ``a -> b (layer x imports layer y)``; a module in no
    layer is reported too, so a new package must be placed in :data:`LAYERS`."""
    found = []
    for module in sorted(edges):
        if _layer_of(module, layers) is None:
            found.append(f"{module or '<package>'} is in no layer of LAYERS")
            continue
        for target, line in sorted(edges[module].items()):
            low, high = _layer_of(module, layers), _layer_of(target, layers)
            if high is not None and high > low:
                found.append(f"{module or '<package>'} -> {target or '<package>'} (layer {low} "
                             f"{_group_of(module, layers) or '<package>'} imports layer {high} "
                             f"{_group_of(target, layers) or '<package>'}, line {line})")
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one member (iterative: the graph may be deep)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return found


def _import_circles(edges) -> list[str]:
    """Every import circle, except self-registration inside one package.

    The exception: a package's ``__init__`` or its ``registry`` module imports the package's own modules so
    they register (backbone families, the four tasks), and those modules import the registry back. A circle is
    allowed only if all its modules sit in one package (not the top one) and it is gone once the imports made
    by that package's ``__init__``/``registry`` into its own modules are set aside."""
    graph = {m: set(targets) for m, targets in edges.items()}
    found = []
    for members in _strongly_connected(graph):
        package = ".".join(_common_prefix([m.split(".") for m in members]))
        inside = package != "" and all(m == package or m.startswith(package + ".") for m in members)
        if inside:
            registrars = {package, f"{package}.registry"}
            rest = {m: {t for t in graph[m] if t in members
                        and not (m in registrars and (t == package or t.startswith(package + ".")))}
                    for m in members}
            if not _strongly_connected(rest):
                continue
        cycle = " -> ".join(_one_cycle(graph, members))
        found.append(f"circle of {len(members)} modules: {', '.join(m or '<package>' for m in members)} "
                     f"(e.g. {cycle})")
    return found


def _common_prefix(parts: list[list[str]]) -> list[str]:
    prefix = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        prefix.append(column[0])
    # the package that holds them all: a module's own name is not its package unless it is a package
    return prefix


def _one_cycle(graph, members) -> list[str]:
    """A shortest cycle through the first member, for the message."""
    start, inside = members[0], set(members)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for nxt in sorted(graph[path[-1]] & inside):
            if nxt == start:
                return [m or "<package>" for m in path + [start]]
            if nxt not in seen:
                seen.add(nxt)
                paths.append(path + [nxt])
    return members


def test_no_import_circles():
    """No module reaches itself through imports, except registry self-registration inside one package.

    What counts as an edge: every import, at module level or inside a function. A function-level import is
    still a dependency (the function fails without the module, and a reader must know it); a late import
    that "breaks" a load-time circle only moves the failure from import time to call time and hides the
    tangle. So late imports get no pass here, even going down: a circle closed by one is still a circle.
    Imports under ``if TYPE_CHECKING:`` never run and are left out."""
    circles = _import_circles(_import_edges(PACKAGE, packages_run=True))
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_import_runs_uphill():
    """No module imports a module of a higher layer of :data:`LAYERS`, at module level or inside a function
    (a late import is the same dependency, so it must go down or sideways too)."""
    uphill = _uphill_imports(_import_edges(PACKAGE))
    assert not uphill, f"{len(uphill)} imports from a lower layer to a higher one:\n" + "\n".join(uphill)


def test_no_layer_has_siblings_importing_each_other_in_a_circle():
    """Packages that share a layer (search, fusion, update, export) may use each other one way only."""
    edges = _import_edges(PACKAGE)
    groups: dict[str, set[str]] = {}
    for module, targets in edges.items():
        for target in targets:
            a, b = _group_of(module), _group_of(target)
            if a != b and _layer_of(module) == _layer_of(target):
                groups.setdefault(a, set()).add(b)
    assert _strongly_connected(groups) == []


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "lepton_widgets"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_graph_scans_see_a_circle_and_an_uphill_import(tmp_path):
    """The scanners themselves must be able to fail: a late (function-level) import is an edge, a relative one
    too, a TYPE_CHECKING one is not, and registration inside one package is the only circle let through."""
    root = _plant(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/base/__init__.py": "",
        "core/base/events.py": "def f():\n    from lepton_widgets.core.tasks import run_experiment\n",
        "core/tasks/__init__.py": "from . import run\n",
        "core/tasks/run.py": "from ..base import events\nfrom typing import TYPE_CHECKING\n"
                             "if TYPE_CHECKING:\n    from lepton_widgets.panels import view\n",
        "core/backbones/__init__.py": "from . import small\n",
        "core/backbones/registry.py": "def load():\n    from .small import build\n",
        "core/backbones/small.py": "from .registry import load\n",
        "panels/__init__.py": "",
        "panels/view.py": "import lepton_widgets.core.tasks.run\n",
    })
    edges = _import_edges(root)
    assert edges["core.base.events"] == {"core.tasks": 2}
    assert edges["core.tasks.run"] == {"core.base.events": 1}  # the panel import sits under TYPE_CHECKING
    assert edges["panels.view"] == {"core.tasks.run": 1}
    assert _import_edges(root, packages_run=True)["panels.view"] == {"core": 1, "core.tasks": 1, "core.tasks.run": 1}
    assert _uphill_imports(edges) == [
        "core.base.events -> core.tasks (layer 0 core.base imports layer 6 core.tasks, line 2)"]
    circles = _import_circles(_import_edges(root, packages_run=True))
    assert len(circles) == 1 and "core.base.events, core.tasks, core.tasks.run" in circles[0], circles
    assert _layer_of("core.search.tuner") == 7 and _layer_of("") == _layer_of("api") == 10
    assert _uphill_imports({"nowhere.mod": {}}) == ["nowhere.mod is in no layer of LAYERS"]


# --- only core/tasks/ asks which modality it has -------------------------------------------------------------

#: Helpers (old and new spellings) whose only job is to answer "which modality?"; a call outside tasks/ is a branch.
MODALITY_HELPERS = {"is_text_dataset", "is_text_run", "is_tabular_dataset", "is_tabular_run", "require_picture_run",
                    "_is_text_encoder", "_is_image_model", "dataset_modality", "run_modality", "model_modality",
                    "run_kind", "is_image_run", "is_audio_run"}


def _mentions_modality(node: ast.AST) -> bool:
    """``modality``, ``x.modality``, ``x["modality"]`` or ``x.get("modality")``."""
    if isinstance(node, ast.Name):
        return "modality" in node.id
    if isinstance(node, ast.Attribute):
        return "modality" in node.attr
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "modality"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "modality"
    return False


def _modality_branches(path: Path) -> list[tuple[int, str]]:
    """``(line, what)`` for every place in ``path`` that asks which modality it has: a comparison (``==``,
    ``!=``, ``in``, ``is``) on a modality value, a ``.get("modality")`` read, or a modality helper named."""
    text = path.read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Compare) and any(_mentions_modality(n) for n in [node.left, *node.comparators]):
            found.append((node.lineno, "modality compared"))
        elif isinstance(node, ast.Call) and _mentions_modality(node):
            found.append((node.lineno, '.get("modality")'))
        name = (node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute)
                else node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else
                None)
        if isinstance(node, ast.alias):
            name = (node.asname or node.name).rpartition(".")[2]
        if name in MODALITY_HELPERS:
            found.append((node.lineno, name))
    return sorted(set(found))


def test_only_tasks_ask_which_modality_they_have():
    """Outside core/tasks/, code asks the registry for the task and calls it; it never tests the modality."""
    tasks = CORE / "tasks"
    found = [f"{p.relative_to(REPO)}:{line}: {what}" for p in sorted(PACKAGE.rglob("*.py"))
             if tasks not in p.parents for line, what in _modality_branches(p)]
    assert not found, f"{len(found)} modality branches outside core/tasks/:\n" + "\n".join(found)


def test_the_modality_scan_sees_every_spelling(tmp_path):
    """The scanner itself must be able to fail: each pattern the issue names, planted once."""
    sample = tmp_path / "bad.py"
    sample.write_text(
        'from x import is_text_run, run_kind as kind\n'                        # 1
        'if cfg.modality == "text": pass\n'                                     # 2
        'if modality != "image": pass\n'                                        # 3
        'if spec.modality in ("text", "tabular"): pass\n'                       # 4
        'if record.info.get("modality"): pass\n'                                # 5
        'ok = record.info["modality"] == "tabular"\n'                           # 6
        'a = is_text_dataset(d) or is_tabular_dataset(d) or is_tabular_run(r)\n'  # 7
        'require_picture_run(r); _is_text_encoder(m); _is_image_model(m)\n'     # 8
        'm = dataset_modality(d), run_modality(r), model_modality(m)\n'         # 9
        'def run_kind(record): return None\n'                                   # 10
        'task = task_for_run(record); task.require("fusion")\n'                 # 11: the right way
        '"""a docstring may say modality == text"""\n')                         # 12
    lines = {line for line, _ in _modality_branches(sample)}
    assert lines == set(range(1, 11)), _modality_branches(sample)
    names = {what for _, what in _modality_branches(sample)}
    assert MODALITY_HELPERS - {"is_image_run", "is_audio_run"} <= names
