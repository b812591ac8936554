"""``lessoncam_common`` is what the unit and the server share: it imports neither of them."""

from __future__ import annotations

import ast
from pathlib import Path

COMMON = Path(__file__).resolve().parents[2] / "common" / "lessoncam_common"


def test_common_imports_neither_the_unit_nor_the_server() -> None:
    found = []
    modules = sorted(COMMON.rglob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            found += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[0] in {"lessoncam_device", "lessoncam_server"}
            ]
    assert found == []
