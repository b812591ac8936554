"""Finding one row of a trajectory by the id a URL gives: a step, goal or measure of another
trajectory (or an id that is no number) is "not found", never someone else's row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlite_utils import Database

from ..infra.db import query_row
from ..infra.errors import NotFound
from .rules import url_id

Part = Literal["trajectory_steps", "trajectory_goals", "trajectory_measures"]


def row_in(
    db: Database, table: Part, trajectory: Mapping[str, Any], raw_id: str, what: str
) -> dict[str, Any]:
    """The row of ``table`` with the id ``raw_id`` in ``trajectory``. Raises NotFound
    ``not_found`` ("no such ``what`` in this trajectory")."""
    found = query_row(
        db,
        f"SELECT * FROM {table} WHERE id = ? AND trajectory_id = ?",  # noqa: S608 (a Literal)
        [url_id(raw_id), trajectory["id"]],
    )
    if found is None:
        raise NotFound("not_found", f"no such {what} in this trajectory")
    return found
