"""The goals agreed in a trajectory ("Pupil A starts on his own within two minutes"), each
with a state (open, working on it, reached) and the fragments of lessons that show it. The
teacher and the members add and move them while the trajectory is open."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sqlite_utils import Database

from ..access.principal import User
from ..infra.db import query_rows
from ..infra.errors import Invalid
from ..infra.timeutil import to_iso
from ..services import Services
from . import fragments
from .fragments import Fragment
from .lookup import row_in
from .rules import require_open

GoalState = Literal["open", "working", "reached"]
STATES: tuple[GoalState, ...] = ("open", "working", "reached")
TEXT_MAX = 500


def _text(value: str) -> str:
    text = value.replace("\x00", "").strip()
    if not text:
        raise Invalid("goal_empty", "write the goal first: it is empty")
    if len(text) > TEXT_MAX:
        raise Invalid("goal_too_long", f"a goal may be at most {TEXT_MAX} characters")
    return text


def _goal(db: Database, trajectory: dict[str, Any], raw_id: str) -> dict[str, Any]:
    return row_in(db, "trajectory_goals", trajectory, raw_id, "goal")


def add(
    services: Services,
    user: User,
    trajectory: dict[str, Any],
    text: str,
    shown_in: Iterable[Fragment] = (),
) -> dict[str, Any]:
    """A new goal (state ``open``), with fragments that show it. Returns it as ``of_trajectory``
    lists it. Raises Conflict ``trajectory_closed``; Invalid ``goal_empty``, ``goal_too_long``
    and those of ``fragments.checked``."""
    require_open(trajectory)
    now = services.now()
    spans = fragments.checked(services.db, trajectory["id"], user.id, now, shown_in)
    with services.db.atomic():
        table = services.db.table("trajectory_goals").insert(
            {
                "trajectory_id": trajectory["id"],
                "text": _text(text),
                "state": "open",
                "created_by": user.id,
                "created_at": to_iso(now),
                "changed_at": to_iso(now),
            }
        )
        assert table.last_pk is not None
        fragments.store(services.db, spans, goal_id=int(table.last_pk))
    return next(g for g in of_trajectory(services.db, trajectory["id"]) if g["id"] == table.last_pk)


def change(
    services: Services,
    user: User,
    trajectory: dict[str, Any],
    raw_id: str,
    *,
    state: str | None = None,
    text: str | None = None,
    shown_in: Iterable[Fragment] = (),
) -> dict[str, Any]:
    """Move a goal to ``state``, reword it, or add fragments that show it. Raises NotFound
    ``not_found``; Conflict ``trajectory_closed``; Invalid ``goal_state_invalid`` and those of
    ``add``."""
    goal = _goal(services.db, trajectory, raw_id)
    require_open(trajectory)
    values: dict[str, Any] = {"changed_at": to_iso(services.now())}
    if state is not None:
        if state not in STATES:
            raise Invalid("goal_state_invalid", f"a goal is {', '.join(STATES)}")
        values["state"] = state
    if text is not None:
        values["text"] = _text(text)
    spans = fragments.checked(services.db, trajectory["id"], user.id, services.now(), shown_in)
    with services.db.atomic():
        services.db.table("trajectory_goals").update(goal["id"], values)
        fragments.store(services.db, spans, goal_id=goal["id"])
    return next(g for g in of_trajectory(services.db, trajectory["id"]) if g["id"] == goal["id"])


def of_trajectory(db: Database, trajectory_id: int) -> list[dict[str, Any]]:
    """The trajectory's goals, oldest first, each with ``fragments`` and ``created_by_name``."""
    goals = query_rows(
        db,
        """SELECT g.*, u.display_name AS created_by_name FROM trajectory_goals g
           LEFT JOIN users u ON u.id = g.created_by
           WHERE g.trajectory_id = ? ORDER BY g.created_at, g.id""",
        [trajectory_id],
    )
    spans: dict[int, list[dict[str, Any]]] = {}
    for fragment in fragments.of_trajectory(db, trajectory_id):
        if fragment["goal_id"] is not None:
            spans.setdefault(fragment["goal_id"], []).append(fragment)
    for goal in goals:
        goal["fragments"] = spans.get(goal["id"], [])
    return goals
