"""Two small rules every action on a trajectory shares: nothing changes in a closed one, and
an id given in a URL is a positive whole number or names nothing. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..infra.errors import Conflict
from ..infra.numbers import whole_number


def require_open(trajectory: Mapping[str, Any]) -> None:
    """Raises Conflict ``trajectory_closed`` for a closed trajectory."""
    if trajectory["status"] == "closed":
        raise Conflict("trajectory_closed", "this trajectory is closed; nothing can change in it")


def url_id(raw: str) -> int:
    """The row id ``raw`` (as a URL gives it), or 0, which names no row."""
    return whole_number(raw, 11) or 0
