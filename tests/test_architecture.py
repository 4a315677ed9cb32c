"""How the product's modules depend on each other: no circles, and booking keeps to its part.

Read from the source, every import counted (also those inside functions, which only hide a
circle from the interpreter): booking (forum.events) says what changed through
forum.events.signals and never reaches for the mail, the jobs, the providers or the
webhooks itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import forum

ROOT = Path(forum.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> Iterator[str]:
    """The product's modules that ``path`` imports, wherever the import statement is."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from forum.jobs import tasks" imports the module forum.jobs.tasks.
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (name for name in names if name in known)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {
            imported
            for imported in _imports(path, known)
            # A package importing its own modules (to register blueprints, commands or
            # tables) is how a package is put together, not a dependency.
            if imported != name and not imported.startswith(name + ".")
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # forum.api.webhook_inbox imports the job it queues inside a function.
    assert "forum.jobs.tasks" in graph["forum.api.webhook_inbox"]
    assert "forum.events.services" in graph["forum.webhooks.inbound"]


def test_no_module_depends_on_itself_through_others():
    assert circles(import_graph()) == []


def test_circles_are_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_booking_says_what_changed_and_leaves_the_rest_to_its_listeners():
    outside = ("forum.jobs", "forum.notifications", "forum.webhooks", "forum.providers")
    reached = {
        (module, imported)
        for module, imports in import_graph().items()
        if module.startswith("forum.events")
        for imported in imports
        if imported.startswith(outside)
    }
    assert reached == set()
