"""Who belongs to which coaching trajectory, read from the database as the policies in
``permissions.py`` need it (the lesson guard and the trajectory guard both call this)."""

from __future__ import annotations

from sqlite_utils import Database

from .permissions import TrajectoryFacts


def trajectory_facts(db: Database, trajectory_id: int) -> TrajectoryFacts | None:
    """The facts of trajectory ``trajectory_id``, or None when there is no such trajectory."""
    found = db.execute(
        "SELECT teacher_id, status FROM trajectories WHERE id = ?", [trajectory_id]
    ).fetchone()
    if found is None:
        return None
    members: set[int] = set()
    invited: set[int] = set()
    for user_id, accepted_at in db.execute(
        "SELECT user_id, accepted_at FROM trajectory_members"
        " WHERE trajectory_id = ? AND ended_at IS NULL",
        [trajectory_id],
    ).fetchall():
        (members if accepted_at else invited).add(user_id)
    watchers = {
        row[0]
        for row in db.execute(
            "SELECT w.user_id FROM consent_watchers w"
            " JOIN trajectory_consents c ON c.id = w.consent_id"
            " WHERE c.trajectory_id = ? AND c.ended_at IS NULL",
            [trajectory_id],
        ).fetchall()
    }
    return TrajectoryFacts(
        teacher_id=found[0],
        status=found[1],
        members=frozenset(members),
        invited=frozenset(invited),
        watchers=frozenset(watchers),
    )


def lesson_trajectory(db: Database, recording_id: str) -> TrajectoryFacts | None:
    """The facts of the trajectory lesson ``recording_id`` is in, or None."""
    found = db.execute(
        "SELECT trajectory_id FROM trajectory_lessons WHERE recording_id = ?", [recording_id]
    ).fetchone()
    return trajectory_facts(db, found[0]) if found else None
