"""The structure of the product, checked with the standard library's `ast` (docs/architecture.md).

Every product module (app.py and the packages dashboard/, callbacks/, layouts/, metrics/, ml/; not tests/ or bench/)
is parsed and every import in it is collected, at the top AND inside functions. The rules:

1. no import cycle between product modules;
2. metrics import no UI, web or model code (callbacks, layouts, ml, app, the web modules, flask, dash, plotly);
3. layouts and callbacks import no SQLAlchemy or database driver;
4. no product module over 600 lines;
5. no project module loaded by a string (`importlib.import_module`, `__import__`, `importlib.util.find_spec`, ...);
6. the layers only point down: storage < metrics < models < web < ui < commands (LAYER_OF maps each module).

Each rule is a RATCHET. KNOWN_VIOLATIONS lists, per rule, the violations the code has today, each with its reason.
A rule fails on any violation that is not listed (new code must obey the rule) and also on a listed violation
that no longer happens (delete its entry: the list only ever shrinks).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("dashboard", "callbacks", "layouts", "metrics", "ml")
PRODUCT_SCRIPTS = ("app",)
MAX_LINES = 600

LAYERS = ("storage", "metrics", "models", "web", "ui", "commands")  # bottom to top: a module imports its layer or below

# Module -> layer. A key names one module exactly; a key ending in ".*" names a package and every module in it.
# An exact key wins over a package key, a longer package key over a shorter one.
LAYER_OF = {
    # storage: configuration, errors, schema, engine, bulk load, data version; what every layer may read
    "dashboard": "storage",  # the package marker (empty __init__)
    "dashboard.config": "storage",
    "dashboard.errors": "storage",
    "dashboard.db": "storage",
    "dashboard.backends": "storage",  # the registry of the engines' specs
    "dashboard.backends.*": "storage",  # one BackendSpec per engine (DuckDB, PostgreSQL, SQLite)
    "dashboard.interrupts": "storage",
    "dashboard.spreadsheet_safety": "storage",
    "dashboard.spreadsheet_export": "storage",  # chart CSV / XLSX files: plain numbers, labelled headers
    "dashboard.accounts": "storage",  # accounts, roles, API tokens (issue 19)
    "dashboard.audit": "storage",  # the audit log table
    # metrics: pure SQL reads of the metric contract (and the derived tables' SQL)
    "metrics.*": "metrics",
    # models: features, training, scoring, segments, explanations, artifacts
    "ml.*": "models",
    # web: the app context, the metric cache, the health routes, the REST API
    "dashboard.context": "web",
    "dashboard.cache": "web",
    "dashboard.server_routes": "web",
    "dashboard.access_rules": "web",
    "dashboard.auth_startup": "web",  # the secret key, the refusal of an open non-loopback bind  # which role each page, route and callback needs
    "dashboard.login_page": "web",
    "dashboard.security_headers": "web",
    "dashboard.web_auth": "web",  # sign-in, sessions, bearer tokens
    "dashboard.memory": "web",  # the garbage collector and what a running app keeps for its whole life
    "dashboard.jobs": "web",  # the Data page's background jobs: start, state files, history (issue 19)
    "ml.api": "web",
    "ml.api.*": "web",
    # ui: the Dash pages, their callbacks, the shell
    "layouts.*": "ui",
    "callbacks.*": "ui",
    # commands: the entry points (app, CLI) and every command, bootstrap, demo data and demo-model build
    "app": "commands",
    "dashboard.__main__": "commands",
    "dashboard.cli": "commands",
    "dashboard.bootstrap": "commands",
    "dashboard.demo": "commands",
    "dashboard.demo.*": "commands",
    "dashboard.importer": "commands",
    "dashboard.importer.*": "commands",
    "dashboard.info": "commands",
    "dashboard.refresh": "commands",
    "dashboard.account_commands": "commands",  # `users` and `tokens`
    "dashboard.job_worker": "commands",  # the process of one Data page job (runs the import or a CLI command)
    "metrics.export": "commands",  # the `export-metrics` command (writes files; reads metrics only)
    "ml.commands": "commands",
    "ml.segment_commands": "commands",
    "ml.forecast_commands": "commands",
    "ml.demo_model": "commands",
}

WEB_AND_UI_LIBRARIES = frozenset({"flask", "flask_caching", "werkzeug", "dash", "dash_bootstrap_components",
                                  "dash_ag_grid", "plotly"})
DATABASE_LIBRARIES = frozenset({"sqlalchemy", "duckdb", "duckdb_engine", "psycopg", "psycopg2", "psycopg_pool",
                                "sqlite3"})
# Calls that load a module named by a string (rule 5).
LOADERS = frozenset({"importlib.import_module", "importlib.__import__", "__import__", "importlib.util.find_spec",
                     "importlib.util.spec_from_file_location", "importlib.util.module_from_spec", "pkgutil.iter_modules",
                     "runpy.run_module", "runpy.run_path"})

# The known violations, per rule: key -> why it is still there. Delete an entry when its violation is gone.
KNOWN_VIOLATIONS: dict[str, dict[str, str]] = {
    "cycles": {
    },
    "metrics_purity": {
    },
    "ui_database": {
    },
    "size": {
    },
    "string_imports": {
    },
    "layers": {
    },
}


@dataclass(frozen=True)
class Import:
    """One import statement's target in a product module."""

    importer: str  # the importing module
    target: str  # a product module, or the dotted name of an outside module
    project: bool  # True when target is a product module
    path: str  # the importing file, relative to the repository
    line: int
    in_function: bool

    @property
    def where(self) -> str:
        """Return "path:line" and whether the import runs inside a function."""
        return f"{self.path}:{self.line}" + (" (inside a function)" if self.in_function else "")


def module_name(path: Path, root: Path) -> str:
    """Return the dotted module name of the file `path` under `root` (a package's __init__ is the package)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_files(root: Path = REPO, packages=PRODUCT_PACKAGES, scripts=PRODUCT_SCRIPTS) -> dict[str, Path]:
    """Return module name -> file of every product module under `root`."""
    files = [root / f"{name}.py" for name in scripts if (root / f"{name}.py").exists()]
    for package in packages:
        files += [p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts]
    return {module_name(path, root): path for path in sorted(files)}


def parse(path: Path) -> ast.Module:
    """Return the syntax tree of `path`, each node marked `in_function` when it lies inside a function body."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def mark(node: ast.AST, inside: bool) -> None:
        """Set `in_function` on every node below `node` (returns nothing)."""
        for child in ast.iter_child_nodes(node):
            child.in_function = inside  # type: ignore[attr-defined]
            mark(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    mark(tree, False)
    return tree


def resolve(name: str, modules: set[str]) -> str | None:
    """Return the longest product module that `name` or one of its parents is (None for outside modules)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def base_package(module: str, path: Path) -> str:
    """Return the package a relative import in `module` (file `path`) starts from."""
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def collect_imports(modules: dict[str, Path], root: Path = REPO) -> list[Import]:
    """Return every import of every module in `modules` (module name -> file), top-level and inside functions."""
    names = set(modules)
    found: list[Import] = []
    for module, path in modules.items():
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(parse(path)):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.module == "__future__":
                    continue
                source = node.module or ""
                if node.level:
                    base = base_package(module, path).split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join([*base, source] if source else base)
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in names else source
                           for alias in node.names]
            for target in dict.fromkeys(targets):
                product = resolve(target, names)
                found.append(Import(module, product or target, product is not None, rel, node.lineno,
                                    getattr(node, "in_function", False)))
    return found


def layer_of(module: str) -> str | None:
    """Return the layer of `module` from LAYER_OF (None when it has none)."""
    if module in LAYER_OF:
        return LAYER_OF[module]
    packages = [key[:-2] for key in LAYER_OF if key.endswith(".*")]
    owners = [p for p in packages if module == p or module.startswith(p + ".")]
    return LAYER_OF[max(owners, key=len) + ".*"] if owners else None


def loader_calls(path: Path) -> list[tuple[str, int, str]]:
    """Return (loader, line, first argument's source) of every call in `path` that loads a module by a string."""
    tree = parse(path)
    bound: dict[str, str] = {}  # local name -> dotted name of what it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        chain, func = [], node.func
        while isinstance(func, ast.Attribute):
            chain.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            continue
        dotted = ".".join([bound.get(func.id, func.id), *reversed(chain)])
        if dotted in LOADERS:
            argument = ast.unparse(node.args[0]) if node.args else ""
            calls.append((dotted, node.lineno, argument))
    return calls


def names_outside_module(argument: str) -> bool:
    """True when a loader's argument is a string literal naming a module outside the product."""
    try:
        value = ast.literal_eval(argument)
    except (ValueError, SyntaxError):
        return False
    top = value.split(".")[0] if isinstance(value, str) else None
    return bool(top) and top not in (*PRODUCT_PACKAGES, *PRODUCT_SCRIPTS)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of `graph` (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
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
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


# --- the rules: each returns violation key -> what exactly happens (which module imports what, where) ---

def cycle_violations(imports: list[Import]) -> dict[str, str]:
    """Return the import cycles: key "a <-> b <-> ..." (sorted members) -> the imports that close it."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        graph.setdefault(imp.importer, set())
        if imp.project and imp.target != imp.importer:
            graph[imp.importer].add(imp.target)
    found = {}
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        edges = [f"{imp.importer} imports {imp.target} at {imp.where}" for imp in imports
                 if imp.project and imp.importer in members and imp.target in members and imp.importer != imp.target]
        found[" <-> ".join(component)] = "; ".join(sorted(set(edges)))
    return found


def metrics_purity_violations(imports: list[Import]) -> dict[str, str]:
    """Return the imports of UI, web or model code by modules of the metrics package."""
    found = {}
    for imp in imports:
        if imp.importer.split(".")[0] != "metrics":
            continue
        top = imp.target.split(".")[0]
        if imp.project:
            bad = top in ("callbacks", "layouts", "ml", "app") or layer_of(imp.target) in ("web", "ui")
        else:
            bad = top in WEB_AND_UI_LIBRARIES
        if bad:
            target = imp.target if imp.project else top
            found[f"{imp.importer} imports {target}"] = f"{imp.importer} imports {imp.target} at {imp.where}"
    return found


def ui_database_violations(imports: list[Import]) -> dict[str, str]:
    """Return the imports of SQLAlchemy or a database driver by layouts and callbacks."""
    found = {}
    for imp in imports:
        top = imp.target.split(".")[0]
        if imp.importer.split(".")[0] in ("layouts", "callbacks") and not imp.project and top in DATABASE_LIBRARIES:
            found[f"{imp.importer} imports {top}"] = f"{imp.importer} imports {imp.target} at {imp.where}"
    return found


def size_violations(modules: dict[str, Path], root: Path = REPO) -> dict[str, str]:
    """Return the product modules over MAX_LINES lines: module -> its file and line count."""
    found = {}
    for module, path in modules.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found[module] = f"{module} ({path.relative_to(root).as_posix()}) has {lines} lines, over {MAX_LINES}"
    return found


def string_import_violations(modules: dict[str, Path], root: Path = REPO) -> dict[str, str]:
    """Return the loads of a project module (or of a module named by a variable) by a string: key "m calls loader"
    -> each call with its place."""
    found: dict[str, list[str]] = {}
    for module, path in modules.items():
        for loader, line, argument in loader_calls(path):
            if not names_outside_module(argument):
                found.setdefault(f"{module} calls {loader}", []).append(
                    f"{module} calls {loader}({argument}) at {path.relative_to(root).as_posix()}:{line}")
    return {key: "; ".join(calls) for key, calls in found.items()}


def layer_violations(imports: list[Import]) -> dict[str, str]:
    """Return the imports of a higher layer's module: key "a imports b" -> layers and place."""
    found = {}
    for imp in imports:
        if not imp.project:
            continue
        low, high = layer_of(imp.importer), layer_of(imp.target)
        if low and high and LAYERS.index(high) > LAYERS.index(low):
            found.setdefault(f"{imp.importer} imports {imp.target}",
                             f"{imp.importer} ({low}) imports {imp.target} ({high}) at {imp.where}")
    return found


def ratchet(rule: str, found: dict[str, str]) -> None:
    """Fail when `found` has a violation not in KNOWN_VIOLATIONS[rule] or misses one that is listed there."""
    known = KNOWN_VIOLATIONS[rule]
    new = sorted(set(found) - set(known))
    fixed = sorted(set(known) - set(found))
    messages = [f"NEW violation of rule {rule!r}: {found[key]}" for key in new]
    messages += [f"FIXED: {key!r} no longer happens; delete its entry from KNOWN_VIOLATIONS[{rule!r}] in "
                 f"tests/test_architecture.py (the list only shrinks)" for key in fixed]
    if messages:
        pytest.fail("\n".join(messages), pytrace=False)


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    """Return module name -> file of every product module."""
    return product_files()


@pytest.fixture(scope="module")
def imports(modules) -> list[Import]:
    """Return every import of every product module."""
    return collect_imports(modules)


def test_arc001_every_product_module_parses_and_has_a_layer(modules):
    assert "app" in modules and "metrics" in modules and "dashboard.db" in modules
    for path in modules.values():
        parse(path)
    unmapped = sorted(module for module in modules if layer_of(module) is None)
    assert not unmapped, f"modules without a layer: {unmapped}; add each to LAYER_OF in tests/test_architecture.py"
    stale = sorted(key for key in LAYER_OF if not key.endswith(".*") and key not in modules)
    assert not stale, f"LAYER_OF names modules that do not exist: {stale}; delete them"
    assert set(LAYER_OF.values()) <= set(LAYERS)
    assert all(reason.strip() for rule in KNOWN_VIOLATIONS.values() for reason in rule.values())


def test_arc002_no_import_cycle_between_product_modules(imports):
    ratchet("cycles", cycle_violations(imports))


def test_arc003_metrics_import_no_ui_web_or_model_code(imports):
    ratchet("metrics_purity", metrics_purity_violations(imports))


def test_arc004_layouts_and_callbacks_import_no_sqlalchemy_or_driver(imports):
    ratchet("ui_database", ui_database_violations(imports))


def test_arc005_no_product_module_over_600_lines(modules):
    ratchet("size", size_violations(modules))


def test_arc006_no_project_module_loaded_by_a_string(modules):
    ratchet("string_imports", string_import_violations(modules))


def test_arc007_layers_only_point_down(imports):
    ratchet("layers", layer_violations(imports))


def test_arc008_the_checks_see_every_kind_of_import(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "layouts").mkdir()
    (tmp_path / "metrics" / "__init__.py").write_text("from .sql import total\n")
    (tmp_path / "metrics" / "sql.py").write_text(
        "import importlib as il\nfrom importlib.util import find_spec\n\n"
        "def total():\n    from layouts import page\n    import dash.html\n"
        "    il.import_module('layouts.page')\n    find_spec('redis')\n    __import__(name)\n")
    (tmp_path / "layouts" / "__init__.py").write_text("")
    (tmp_path / "layouts" / "page.py").write_text("import sqlalchemy.orm\nfrom metrics import sql\n" + "x = 1\n" * 700)
    files = product_files(tmp_path, ("metrics", "layouts"), ())
    assert set(files) == {"metrics", "metrics.sql", "layouts", "layouts.page"}
    found = collect_imports(files, tmp_path)
    assert {(i.importer, i.target, i.in_function) for i in found if i.project} == {
        ("metrics", "metrics.sql", False), ("metrics.sql", "layouts.page", True), ("layouts.page", "metrics.sql", False)}
    assert set(cycle_violations(found)) == {"layouts.page <-> metrics.sql"}
    assert "metrics.sql imports layouts.page at metrics/sql.py:5 (inside a function)" in \
        cycle_violations(found)["layouts.page <-> metrics.sql"]
    assert set(metrics_purity_violations(found)) == {"metrics.sql imports layouts.page", "metrics.sql imports dash"}
    assert set(ui_database_violations(found)) == {"layouts.page imports sqlalchemy"}
    assert size_violations(files, tmp_path) == {"layouts.page": "layouts.page (layouts/page.py) has 702 lines, over 600"}
    assert string_import_violations(files, tmp_path) == {  # find_spec('redis') names an outside module: allowed
        "metrics.sql calls importlib.import_module":
            "metrics.sql calls importlib.import_module('layouts.page') at metrics/sql.py:7",
        "metrics.sql calls __import__": "metrics.sql calls __import__(name) at metrics/sql.py:9"}
    assert set(layer_violations(found)) == {"metrics.sql imports layouts.page"}
    assert layer_of("ml.api") == "web" and layer_of("ml.scoring") == "models" and layer_of("metrics.export") == "commands"
