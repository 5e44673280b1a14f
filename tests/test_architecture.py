"""Structure the code promises: no import cycle between modules, the config a leaf, every
function shorter than a screen (80 lines), no command module doing library work."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tradeformer

SRC = Path(tradeformer.__file__).parent
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        out[name] = ast.parse(path.read_text())
    return out


def _imports_at_import_time(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """tradeformer modules imported by a module's top level (function-level imports are
    deferred on purpose and cannot form an import-time cycle)."""
    found = set()
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {t for t in targets if t in known and t != name}
    return found


def test_no_import_cycle():
    mods = _modules()
    graph = {n: _imports_at_import_time(n, t, set(mods)) for n, t in mods.items()}
    # a package's __init__ importing its own submodules is not a cycle through them
    graph = {n: {d for d in deps if not d.startswith(n + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(d) :], d]))
            if d not in state:
                visit(d)
        path.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)


def test_config_is_a_leaf():
    deps = _imports_at_import_time("tradeformer.config", _modules()["tradeformer.config"], set())
    tree = _modules()["tradeformer.config"]
    top = {
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("tradeformer")
    }
    assert top <= {"tradeformer.errors"} and not deps
    # nor does building its classes import anything (a default built at import time would)
    code = "import sys, tradeformer.config; print(sorted(m for m in sys.modules if 'tradef' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(["tradeformer", "tradeformer.config", "tradeformer.errors"])


def test_functions_fit_on_a_screen():
    long = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n >= MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert not long, long


def _all_imports(tree: ast.Module) -> set[str]:
    """Every tradeformer module a module imports, at any level (deferred ones included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.startswith("tradeformer")}


def test_lower_layers_never_import_upper_ones():
    """Training, the models, the datasets and the features sit below the stages, the
    evaluation, the API and the CLI: the metrics they share live in `tradeformer.stats`."""
    lower = ("training", "models", "dataset", "features", "data", "stats")
    upper = ("evaluation", "stages", "cli", "api", "inference")
    bad = []
    for name, tree in _modules().items():
        parts = name.split(".")
        if len(parts) > 1 and parts[1] in lower:
            bad += [
                f"{name} -> {m}"
                for m in _all_imports(tree)
                if m.split(".")[1:2] in ([u] for u in upper)
            ]
    assert not bad, bad
