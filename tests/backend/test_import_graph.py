"""backend's imports form no circle, and the rooms keep their direction.

Every ``import`` counts, also those inside functions (a late import hides a circle, it does not
remove it). The one module left out as a target is ``backend/__init__.py``: it is the app factory,
imported only to build the app (``gunicorn 'backend:create_app()'``, the worker's bootstrap), and
it imports every room by design.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in BACKEND.rglob("*.py") if "migrations" not in p.parts}


def _in_type_checking(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or _in_type_checking(node, parents):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # ``from backend.setup import account`` imports the module backend.setup.account.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:  # ``import backend.jobs.runs`` -> that module
                    target = target.rpartition(".")[0]
                if target and target != "backend" and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_graph_sees_imports():
    graph = import_graph()
    assert "backend.jobs.runs" in graph["backend.flows.customer_import"] or "backend.jobs.runs" in graph["backend.flows.card_actions"]
    assert "backend.flows.catalog_sync" in graph["backend.registry"]
    # A planted circle is found.
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle():
    cycles = find_cycles(import_graph())
    assert not cycles, "import circles in backend/: " + "; ".join(" <-> ".join(c) for c in cycles)


# room -> rooms it must not import (the direction of the layers).
FORBIDDEN = {
    "backend.jobs": ("backend.flows", "backend.setup", "backend.web", "backend.registry"),
    "backend.clients": ("backend.flows", "backend.setup", "backend.web", "backend.jobs", "backend.registry"),
    "backend.mapping": ("backend.flows", "backend.setup", "backend.web", "backend.jobs", "backend.clients"),
    "backend.models": ("backend.flows", "backend.setup", "backend.web", "backend.jobs"),
    "backend.flows": ("backend.web",),
    "backend.setup": ("backend.web", "backend.flows"),
}


def test_rooms_keep_their_direction():
    wrong = []
    for name, targets in import_graph().items():
        for room, forbidden in FORBIDDEN.items():
            if name == room or name.startswith(room + "."):
                wrong += [f"{name} -> {t}" for t in sorted(targets) if any(t == f or t.startswith(f + ".") for f in forbidden)]
    assert not wrong, "imports against the layering: " + ", ".join(wrong)


def test_no_module_is_too_long():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > 460}
    assert not long, f"split these modules: {long}"
