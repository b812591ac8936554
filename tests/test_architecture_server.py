"""The server's folders are its architecture: these rules keep them so.

Read from the source (``ast``), not by importing: imports under ``if TYPE_CHECKING:`` are for
the type checker only and do not count.

- no import circle between the modules of ``lessoncam_server``;
- the JSON API (``api/``) and the pages (``web/``) are adapters: nothing else imports them,
  except ``app.py``, which puts the server together;
- neither adapter imports the other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "lessoncam_server"
ROOT = Path(__file__).resolve().parents[1] / "server" / PACKAGE
ADAPTERS = ("api", "web")
#: The composition root: the one module that wires adapters and concerns together.
COMPOSITION_ROOT = f"{PACKAGE}.app"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement except those in the body of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_graph() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports at run time."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            else:
                source = _resolve(name, path.name == "__init__.py", node)
                # ``from pkg import module`` imports the module; ``from module import name``
                # the module that holds the name.
                found = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            targets.update(t for t in found if t in modules and t != name)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in ``graph`` (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def _folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ADAPTERS) else None


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.app" in graph and f"{PACKAGE}.api.lessons" in graph
    # Absolute, relative, package-level and function-level imports are all seen.
    assert f"{PACKAGE}.api.lessons" in graph[f"{PACKAGE}.app"]
    assert f"{PACKAGE}.app" in graph[f"{PACKAGE}.cli"]  # imported inside a function


def test_no_import_circle_between_server_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_only_the_app_imports_the_adapters() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if _folder(module) not in ADAPTERS and module != COMPOSITION_ROOT
        for target in targets
        if _folder(target) in ADAPTERS
    ]
    assert wrong == []


def test_the_api_and_the_pages_do_not_import_each_other() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if _folder(module) in ADAPTERS
        for target in targets
        if _folder(target) in ADAPTERS and _folder(target) != _folder(module)
    ]
    assert wrong == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_type_checking_imports_do_not_count() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .a import A\nelse:\n    from .b import B\n"
        "def f():\n    from .c import C\n"
    )
    seen = [node.module for node in _runtime_imports(tree) if isinstance(node, ast.ImportFrom)]
    assert seen == ["typing", "b", "c"]
