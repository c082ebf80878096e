"""The layout docs/architecture.md promises: one-way package dependencies, no import circles, short modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
# What each first-party package may import (besides itself).
ALLOWED = {
    "polydesk": set(),
    "knowledge": {"polydesk"},
    "personas": {"polydesk", "knowledge"},
    "ingestion": {"polydesk", "knowledge"},
    "agent": {"polydesk", "knowledge", "personas"},
    "evals": {"polydesk", "knowledge", "personas", "agent"},
    "desk": {"polydesk", "knowledge", "personas", "agent"},  # the human side: on the agent, below the API
    "api": {"polydesk", "knowledge", "personas", "ingestion", "agent", "evals", "desk"},
}
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    found = {}
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """The first-party modules (and names in them) that ``path`` imports, lazily imported ones included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in ALLOWED}


def test_packages_depend_one_way() -> None:
    wrong = []
    for module, path in _modules().items():
        package = module.split(".")[0]
        for imported in _imports(path):
            target = imported.split(".")[0]
            if target != package and target not in ALLOWED[package]:
                wrong.append(f"{module} imports {imported}")
    assert wrong == []


def test_no_import_circle_between_modules() -> None:
    modules = _modules()
    graph = {name: {i for i in _imports(path) if i in modules and i != name}
             for name, path in modules.items()}
    for name, targets in graph.items():  # a package's __init__ importing its own modules is no circle
        graph[name] = {t for t in targets if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append([*stack[stack.index(target):], target])
            elif target not in state:
                walk(target, [*stack, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert circles == []


def test_no_module_is_too_long() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
