"""The import graph of cacheops flows one way (issue 18).

Settings (``conf``) -> Redis client (``redis``) -> keys and plans (``keys``, ``tree``) -> store
-> invalidation -> Django integration. Every relative import counts, at module level, inside
functions and under ``TYPE_CHECKING``, since each one ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "cacheops"

# Import cycles left for issue 18, each as a sorted tuple of module names, e.g. ("aio", "query").
# Remove an entry when its cycle is broken (the test fails while a listed cycle no longer exists);
# none is left: conf <-> ... <-> fast, simple <-> views and aio <-> query are gone.
KNOWN_CYCLES: set[tuple[str, ...]] = set()


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


# Below fast mode: it hears them through what they expose (``cacheops.signals.cache_invalidated``,
# ``cacheops.redis.on_client_reset``, ``cacheops.redis.INVALIDATION_CHANNEL``), never the reverse.
BELOW_MEMORY = ("conf", "redis", "keys", "conditions", "store", "invalidation")


def test_lower_modules_do_not_import_fast():
    graph = import_graph()
    offenders = [name for name in BELOW_MEMORY if "memory" in graph[name]]
    assert not offenders, f"cacheops.memory is imported by modules below it: {offenders}"


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


# The layers, lowest first: a module imports only modules of its own layer or of lower ones
# (within a layer, the cycle tests above keep the order one-way). A new module must be placed here.
LAYERS: dict[str, set[str]] = {
    "settings, signals, Django's internals": {
        "conf",
        "signals",
        "django_internals",
        "missed",
        "statements",
        "transaction",
    },
    "Redis client": {"redis_settings", "redis", "connections", "async_redis"},
    "rows, keys and plans": {"rows", "copies", "stored_rows", "conditions", "keys"},
    "store and read": {"store", "reads", "memory", "samples", "counters"},
    "invalidation": {"invalidation", "bulk"},
    "Django integration": {
        "query",
        "aio",
        "prefetch",
        "events",
        "simple",
        "file_cache",
        "viewcache",
        "views",
        "jinja2",
        "managers",
        "checks",
        "install",
        "apps",
        "__init__",
    },
}


def test_every_module_has_a_layer():
    placed = set().union(*LAYERS.values())
    unplaced = sorted(set(import_graph()) - placed)
    assert not unplaced, f"place these cacheops modules in LAYERS (tests/test_architecture.py): {unplaced}"


def test_imports_go_down_the_layers():
    level = {name: i for i, members in enumerate(LAYERS.values()) for name in members}
    names = list(LAYERS)
    upward = [
        f"{module} ({names[level[module]]}) imports {target} ({names[level[target]]})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if module in level and target in level and level[target] > level[module]
    ]
    assert not upward, "imports against the one-way flow: " + "; ".join(upward)


MAX_LINES = 500


def test_no_module_over_500_lines():
    """Small modules named after what they hold: a module that grows past this is split."""
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in SOURCE.glob("*.py")}
    over = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not over, f"cacheops modules over {MAX_LINES} lines: {over}"
