"""The import graph of cacheops flows one way (issue 18).

Settings (``conf``) -> Redis client (``redis``) -> keys and plans (``keys``, ``tree``) -> store
-> invalidation -> Django integration. Every relative import counts, at module level, inside
functions and under ``TYPE_CHECKING``, since each one ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "cacheops"

# Cycles still in the graph, each as a sorted tuple of module names. They are left for issue 18;
# remove an entry when its cycle is broken (the test fails while a listed cycle no longer exists).
KNOWN_CYCLES: set[tuple[str, ...]] = {
    ("aio", "query"),
}


def import_graph() -> dict[str, set[str]]:
    """``module -> cacheops modules it imports`` for every ``src/cacheops/*.py``."""
    modules = {path.stem for path in SOURCE.glob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level != 1:
                continue
            if node.module:  # from .x import y / from .x.z import y
                targets = [node.module.split(".")[0]]
            else:  # from . import x
                targets = [alias.name for alias in node.names]
            graph[path.stem].update(target for target in targets if target in modules)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components with more than one module (or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.add(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_graph_is_read():
    graph = import_graph()
    assert "conf" in graph and "store" in graph
    assert "conf" in graph["store"], "the parser missed 'from .conf import settings' in store"


def test_conf_is_a_leaf():
    imported = import_graph()["conf"]
    assert not imported, f"cacheops.conf must import no other cacheops module, but imports {sorted(imported)}"


def test_no_new_cycles():
    new = cycles(import_graph()) - KNOWN_CYCLES
    assert not new, "new import cycles among cacheops modules: " + "; ".join(
        " <-> ".join(c) for c in sorted(new)
    )


def test_known_cycles_still_exist():
    gone = KNOWN_CYCLES - cycles(import_graph())
    assert not gone, "these import cycles are gone, remove them from KNOWN_CYCLES: " + "; ".join(
        " <-> ".join(c) for c in sorted(gone)
    )


def test_cycle_finder():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert cycles(graph) == {("a", "b", "c"), ("e",)}
