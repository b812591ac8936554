"""Lessons in a trajectory: linked by the teacher afterwards (library, lesson page, trajectory
page) or as they arrive from a unit (the claim names the trajectory, or the teacher chose one
for her new recordings), and taken out again. A lesson is in one trajectory at most, only the
trajectory teacher's own lessons go in, and none before the parents' consent to recording is
recorded (``coaching/consent.py``). Who may then see them is the lesson policy in
``access/permissions.py``: this module only keeps the links.

It reads and writes the tables only (no other concern), so that the unit's side of a
recording (``units/recordings.py``) and the claims can call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ..access.principal import User
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, Invalid, NotFound
from ..infra.timeutil import to_iso
from ..services import Services
from .rules import require_open


def has_consent(db: Database, trajectory_id: int) -> bool:
    """Whether the parents' consent to recording is in force for the trajectory."""
    found = db.execute(
        "SELECT 1 FROM trajectory_consents WHERE trajectory_id = ? AND ended_at IS NULL"
        " AND recording = 1",
        [trajectory_id],
    ).fetchone()
    return found is not None


def open_trajectory(db: Database, trajectory_id: int, teacher_id: int) -> dict[str, Any] | None:
    """The open trajectory ``trajectory_id`` of ``teacher_id``, or None."""
    return query_row(
        db,
        "SELECT * FROM trajectories WHERE id = ? AND teacher_id = ? AND status != 'closed'",
        [trajectory_id, teacher_id],
    )


def accepting_trajectories(db: Database, teacher_id: int) -> list[dict[str, Any]]:
    """The teacher's trajectories that take lessons now (open, with consent), newest first:
    ``id``, ``title``, ``record_new``."""
    # Open, with the parents' consent to recording in force.
    return query_rows(
        db,
        """SELECT t.id, t.title, t.record_new FROM trajectories t
           WHERE t.teacher_id = ? AND t.status != 'closed' AND EXISTS (
               SELECT 1 FROM trajectory_consents c WHERE c.trajectory_id = t.id
                 AND c.ended_at IS NULL AND c.recording = 1)
           ORDER BY t.created_at DESC, t.id DESC""",
        [teacher_id],
    )


def _require_consent(trajectory_id: int, db: Database) -> None:
    if not has_consent(db, trajectory_id):
        raise Conflict(
            "consent_missing",
            "record the parents' consent to recording first; until then no lesson goes in",
        )


def check_claim_trajectory(db: Database, trajectory_id: int, teacher_id: int) -> None:
    """A claim may name a trajectory for its lessons: one of the claimer's open ones, with
    consent. Raises Invalid ``trajectory_not_yours`` or Conflict ``consent_missing``."""
    if open_trajectory(db, trajectory_id, teacher_id) is None:
        raise Invalid(
            "trajectory_not_yours", "new lessons can go into one of your own open trajectories"
        )
    _require_consent(trajectory_id, db)


def _insert(db: Database, trajectory_id: int, recording_id: str, by: int | None, now: str) -> None:
    db.table("trajectory_lessons").insert(
        {
            "recording_id": recording_id,
            "trajectory_id": trajectory_id,
            "linked_by": by,
            "linked_at": now,
        }
    )


def link_on_arrival(
    db: Database, lesson: Mapping[str, Any], named: int | None, now: datetime
) -> int | None:
    """Link a lesson that has just arrived from a unit: into the trajectory its claim named
    (``named``), else into the owner's trajectory chosen for new recordings, if that one is
    still open, hers, and has the parents' consent. Returns the trajectory's id, or None (the
    lesson stays on its own)."""
    owner = lesson["owner_id"]
    if owner is None:
        return None
    taking = {row["id"]: row for row in accepting_trajectories(db, owner)}
    chosen = taking.get(named) if named is not None else None
    if chosen is None:
        chosen = next((row for row in taking.values() if row["record_new"]), None)
    if chosen is None:
        return None
    _insert(db, chosen["id"], lesson["id"], None, to_iso(now))
    return int(chosen["id"])


def link(
    services: Services,
    teacher: User,
    trajectory: Mapping[str, Any],
    lesson: Mapping[str, Any],
    *,
    address: str,
) -> bool:
    """The teacher puts her ``lesson`` into her open ``trajectory`` (the callers checked that
    she manages both); audited. Returns False when it was in it already. Raises Forbidden
    ``lesson_not_yours`` (the lesson is not the trajectory teacher's), Conflict
    ``trajectory_closed``, ``consent_missing`` or ``lesson_in_other_trajectory``."""
    if lesson["owner_id"] != trajectory["teacher_id"] or teacher.id != trajectory["teacher_id"]:
        raise Forbidden("lesson_not_yours", "only the teacher's own lessons go into her trajectory")
    require_open(trajectory)
    db = services.db
    _require_consent(trajectory["id"], db)
    with db.atomic():
        held = db.execute(
            "SELECT trajectory_id FROM trajectory_lessons WHERE recording_id = ?", [lesson["id"]]
        ).fetchone()
        if held is not None and held[0] == trajectory["id"]:
            return False
        if held is not None:
            raise Conflict(
                "lesson_in_other_trajectory",
                "this lesson is in another trajectory; take it out of that one first",
            )
        _insert(db, trajectory["id"], lesson["id"], teacher.id, to_iso(services.now()))
    services.audit_from(
        address,
        teacher,
        "lesson_link",
        object_kind="lesson",
        object_id=lesson["id"],
        detail={"trajectory": trajectory["id"]},
    )
    return True


def unlink(
    services: Services,
    teacher: User,
    trajectory: Mapping[str, Any],
    lesson_id: str,
    *,
    address: str,
) -> None:
    """The teacher takes a lesson out of her trajectory (closed ones too): its members no
    longer see it; audited. Raises NotFound ``not_found`` when it is not in it."""
    cursor = services.db.execute(
        "DELETE FROM trajectory_lessons WHERE recording_id = ? AND trajectory_id = ?",
        [lesson_id[:64], trajectory["id"]],
    )
    if cursor.rowcount != 1:
        raise NotFound("not_found", "this lesson is not in this trajectory")
    services.audit_from(
        address,
        teacher,
        "lesson_unlink",
        object_kind="lesson",
        object_id=lesson_id[:64],
        detail={"trajectory": trajectory["id"]},
    )


def trajectory_of_lesson(db: Database, recording_id: str, user_id: int) -> dict[str, Any] | None:
    """The trajectory a lesson is in (``id``, ``title``, ``status``), if ``user_id`` is its
    teacher or one of its members; None otherwise (others never learn of it)."""
    return query_row(
        db,
        """SELECT t.id, t.title, t.status FROM trajectory_lessons tl
           JOIN trajectories t ON t.id = tl.trajectory_id
           WHERE tl.recording_id = :lesson AND (t.teacher_id = :user OR EXISTS (
               SELECT 1 FROM trajectory_members m WHERE m.trajectory_id = t.id
                 AND m.user_id = :user AND m.accepted_at IS NOT NULL AND m.ended_at IS NULL))""",
        {"lesson": recording_id, "user": user_id},
    )


def linkable_lessons(db: Database, teacher_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The teacher's own lessons in no trajectory, newest first (``id``, ``title``,
    ``started_at``): what the trajectory page offers to add."""
    return query_rows(
        db,
        """SELECT r.id, r.title, r.started_at FROM recordings r
           WHERE r.owner_id = ? AND r.id NOT IN (SELECT recording_id FROM trajectory_lessons)
           ORDER BY r.started_at DESC LIMIT ?""",
        [teacher_id, limit],
    )
