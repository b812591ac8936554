"""The unit's import rules, read from the source (``ast``; imports under ``if TYPE_CHECKING:``
do not count, they never run):

- no import cycle between the device package's modules;
- the simulator (``lessoncam_device.sim``) is imported only by itself and by the entry points
  listed in ``SIM_ENTRY_POINTS``: production code (the daemon, the recorder, the tracker, ...)
  never imports it, as gpiozero's own code never imports its mock pins.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

DEVICE = Path(__file__).resolve().parent.parent / "device"
PACKAGE = "lessoncam_device"
SIM = f"{PACKAGE}.sim"

#: The modules that wire the simulator into the unit: the CLI's `run` (a unit configured
#: with simulated cameras), `simulate` (the demo) and `calibrate` (the simulated unit).
SIM_ENTRY_POINTS = frozenset({f"{PACKAGE}.cli"})


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name (packages by their own)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that module ``name`` imports when it runs."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # ``from pkg import module`` imports the module; ``from mod import name`` mod.
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in modules else base)
    return {m for m in out if m in modules and m != name}


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = module_names(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles (strongly connected groups of two or more modules), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
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
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def sim_importers(graph: dict[str, set[str]], sim: str, allowed: frozenset[str]) -> list[str]:
    """Modules outside ``sim`` (and not ``allowed``) that import from it, with what."""
    inside = (sim, f"{sim}.")
    return [
        f"{name} imports {', '.join(sorted(m for m in deps if m.startswith(inside)))}"
        for name, deps in sorted(graph.items())
        if not name.startswith(inside)
        and name not in allowed
        and any(m == sim or m.startswith(f"{sim}.") for m in deps)
    ]


# --- the rules ----------------------------------------------------------------------------


def test_the_device_package_has_no_import_cycle() -> None:
    graph = import_graph(DEVICE, PACKAGE)
    assert len(graph) > 50  # the whole package was read
    assert cycles(graph) == []


def test_production_code_never_imports_the_simulator() -> None:
    graph = import_graph(DEVICE, PACKAGE)
    assert sim_importers(graph, SIM, SIM_ENTRY_POINTS) == []
    for entry in SIM_ENTRY_POINTS:  # an entry point that no longer needs it leaves the list
        assert any(m.startswith(f"{SIM}.") for m in graph[entry]), entry


# --- the checker itself, on a small package written here ------------------------------------


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    return _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import thing\n",
            "pkg/b.py": "from . import c\nthing = 1\n",
            "pkg/c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .a import x\n"
                "import pkg.sim.world\n"
            ),
            "pkg/sim/__init__.py": "",
            "pkg/sim/world.py": "from ..b import thing\n",
            "pkg/entry.py": "from .sim import world\n",
        },
    )


def test_the_checker_reads_relative_absolute_and_type_checking_imports(toy: Path) -> None:
    graph = import_graph(toy, "pkg")
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.sim.world"}  # the TYPE_CHECKING import does not run
    assert graph["pkg.sim.world"] == {"pkg.b"}
    assert graph["pkg.entry"] == {"pkg.sim.world"}


def test_the_checker_finds_a_cycle_and_a_production_import_of_the_simulator(toy: Path) -> None:
    graph = import_graph(toy, "pkg")
    # b -> c -> sim.world -> b
    assert cycles(graph) == [["pkg.b", "pkg.c", "pkg.sim.world"]]
    assert sim_importers(graph, "pkg.sim", frozenset({"pkg.entry"})) == [
        "pkg.c imports pkg.sim.world"
    ]
    (toy / "pkg/c.py").write_text("x = 1\n", encoding="utf-8")
    graph = import_graph(toy, "pkg")
    assert cycles(graph) == []
    assert sim_importers(graph, "pkg.sim", frozenset({"pkg.entry"})) == []
