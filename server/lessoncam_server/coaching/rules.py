"""Two small rules every action on a trajectory shares: nothing changes in a closed one, and
an id given in a URL is a positive whole number or names nothing. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..infra.errors import Conflict


def require_open(trajectory: Mapping[str, Any]) -> None:
    """Raises Conflict ``trajectory_closed`` for a closed trajectory."""
    if trajectory["status"] == "closed":
        raise Conflict("trajectory_closed", "this trajectory is closed; nothing can change in it")


def url_id(raw: str) -> int:
    """The row id ``raw`` (as a URL gives it), or 0, which names no row."""
    return int(raw) if raw.isdigit() and len(raw) < 12 else 0
