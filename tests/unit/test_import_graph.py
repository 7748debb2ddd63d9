"""The house's layering, read from the source: shared/ is three rooms (the event contract, the law
several services apply, the service platform) that import nothing above them; no service imports
another; and no module imports itself round a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "services", "tools", "operator_cli", "demo", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, top_level_only: bool) -> set[str]:
    found: set[str] = set()
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name.split(".")[0] in PACKAGES}


def graph(top_level_only: bool = False) -> dict[str, set[str]]:
    modules = {
        module_name(p): p
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts
    }
    edges = {}
    for name, path in modules.items():
        imported = _imports(ast.parse(path.read_text("utf-8")), top_level_only)
        edges[name] = {m for m in imported if m in modules and m != name}
    return edges


GRAPH = graph()


def room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in ("shared", "services") else parts[0]


# what each room of shared/ may import from the others
ALLOWED = {
    "shared.contract": {"shared.contract"},
    "shared.law": {"shared.contract", "shared.law"},
    "shared.platform": {"shared.contract", "shared.platform"},
}


@pytest.mark.parametrize("room_name", sorted(ALLOWED))
def test_shared_rooms_import_only_below_them(room_name: str) -> None:
    wrong = {
        (m, i)
        for m, imported in GRAPH.items()
        if room(m) == room_name
        for i in imported
        if room(i) not in ALLOWED[room_name]
    }
    assert wrong == set()


def test_shared_has_nothing_but_its_three_rooms() -> None:
    loose = {m for m in GRAPH if m.startswith("shared.") and room(m) not in ALLOWED}
    assert loose == set()


def test_no_service_imports_another() -> None:
    wrong = {
        (m, i)
        for m, imported in GRAPH.items()
        if m.startswith("services.")
        for i in imported
        if i.startswith("services.") and room(i) != room(m)
    }
    assert wrong == set()


def test_no_import_cycles() -> None:
    edges = graph(top_level_only=True)  # what runs at import time
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert cycles == []
