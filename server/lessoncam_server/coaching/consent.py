"""The parents' consent for a trajectory's focus pupil, as the teacher records it from their
signed form: when it was given and its scope (recording; watching by the people it names;
use of pseudonymised answers and measures for research). Without consent to recording no
lesson goes into the trajectory (``linking.py``), and a member the consent does not name does
not see its lessons (``access/permissions.py``).

A new record replaces the one in force (a changed scope); a withdrawal ends it at once: the
lessons are taken out of the trajectory, or deleted (with their clips), as the teacher
chooses. Every record, replacement and withdrawal is audited, and the old records are kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlite_utils import Database

from ..access.principal import User
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Invalid
from ..infra.timeutil import to_iso
from ..lessons import clips, deletion
from ..services import Services
from .rules import require_open

Withdrawal = Literal["take_out", "delete"]
NOTE_MAX = 500


@dataclass(frozen=True)
class ConsentDraft:
    """The consent as the teacher copies it from the parents' form."""

    given_on: date
    watchers: tuple[str, ...] = ()  # usernames of the members the parents allow to watch
    research: bool = False
    recording: bool = True
    note: str = ""  # where the signed form is kept, say; never the parents' names


def _watchers(db: Database, consent_id: int) -> list[dict[str, Any]]:
    return query_rows(
        db,
        """SELECT u.id, u.username, u.display_name FROM consent_watchers w
           JOIN users u ON u.id = w.user_id WHERE w.consent_id = ? ORDER BY u.display_name""",
        [consent_id],
    )


def _shaped(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    row["recording"] = bool(row["recording"])
    row["research"] = bool(row["research"])
    row["watchers"] = _watchers(db, row["id"])
    return row


_SELECT = """SELECT c.*, u.display_name AS recorded_by_name, e.display_name AS ended_by_name
    FROM trajectory_consents c LEFT JOIN users u ON u.id = c.recorded_by
    LEFT JOIN users e ON e.id = c.ended_by"""


def current(db: Database, trajectory_id: int) -> dict[str, Any] | None:
    """The consent in force: its row with ``watchers`` (``id``, ``username``,
    ``display_name``), ``recorded_by_name``; or None."""
    row = query_row(
        db, f"{_SELECT} WHERE c.trajectory_id = ? AND c.ended_at IS NULL", [trajectory_id]
    )
    return _shaped(db, row) if row else None


def history(db: Database, trajectory_id: int) -> list[dict[str, Any]]:
    """Every consent record of the trajectory, newest first, ended ones with ``ended_how``
    (``replaced`` or ``withdrawn``) and ``ended_by_name``."""
    rows = query_rows(
        db,
        f"{_SELECT} WHERE c.trajectory_id = ? ORDER BY c.recorded_at DESC, c.id DESC",
        [trajectory_id],
    )
    return [_shaped(db, row) for row in rows]


def _watcher_ids(db: Database, trajectory_id: int, usernames: Iterable[str]) -> dict[int, str]:
    """The named people, who must be invited into or members of the trajectory."""
    found: dict[int, str] = {}
    for username in usernames:
        row = db.execute(
            """SELECT u.id, u.username FROM trajectory_members m JOIN users u ON u.id = m.user_id
               WHERE m.trajectory_id = ? AND m.ended_at IS NULL AND u.username = ?
               COLLATE NOCASE""",
            [trajectory_id, username],
        ).fetchone()
        if row is None:
            raise Invalid(
                "consent_watcher_unknown",
                f"{username[:64]!r} is not invited into this trajectory; invite them first",
            )
        found[row[0]] = row[1]
    return found


def record(
    services: Services,
    teacher: User,
    trajectory: dict[str, Any],
    draft: ConsentDraft,
    *,
    address: str,
) -> dict[str, Any]:
    """The teacher records the parents' consent (replacing the one in force, if any);
    audited. Returns it. Raises Conflict ``trajectory_closed``; Invalid
    ``consent_recording_required``, ``consent_date_future``, ``consent_note_too_long``,
    ``consent_watcher_unknown``."""
    require_open(trajectory)
    if not draft.recording:
        raise Invalid(
            "consent_recording_required",
            "without consent to recording nothing can be recorded; record a withdrawal instead",
        )
    if draft.given_on > services.now().date():
        raise Invalid("consent_date_future", "the consent cannot have been given in the future")
    note = draft.note.replace("\x00", "").strip()
    if len(note) > NOTE_MAX:
        raise Invalid("consent_note_too_long", f"the note may be at most {NOTE_MAX} characters")
    db = services.db
    now = to_iso(services.now())
    with db.atomic():
        watchers = _watcher_ids(db, trajectory["id"], dict.fromkeys(draft.watchers))
        replaced = db.execute(
            "UPDATE trajectory_consents SET ended_at = ?, ended_how = 'replaced', ended_by = ?"
            " WHERE trajectory_id = ? AND ended_at IS NULL",
            [now, teacher.id, trajectory["id"]],
        ).rowcount
        table = db.table("trajectory_consents").insert(
            {
                "trajectory_id": trajectory["id"],
                "recording": int(draft.recording),
                "research": int(draft.research),
                "given_on": draft.given_on.isoformat(),
                "note": note,
                "recorded_by": teacher.id,
                "recorded_at": now,
            }
        )
        assert table.last_pk is not None
        for user_id in watchers:
            db.table("consent_watchers").insert({"consent_id": table.last_pk, "user_id": user_id})
    services.audit_from(
        address,
        teacher,
        "consent_record",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={
            "given_on": draft.given_on.isoformat(),
            "recording": draft.recording,
            "watching": sorted(watchers.values()),
            "research": draft.research,
            "replaced": bool(replaced),
        },
    )
    fresh = current(db, trajectory["id"])
    assert fresh is not None
    return fresh


def withdraw(
    services: Services,
    teacher: User,
    trajectory: dict[str, Any],
    lessons: str,
    *,
    address: str,
) -> dict[str, list[str]]:
    """The parents withdrew their consent: it ends now, and the trajectory's lessons are taken
    out of it (``take_out``) or deleted with their clips (``delete``), in one step; audited.
    Returns ``{"taken_out": [...], "deleted": [...]}`` (lesson ids). Raises Invalid
    ``withdrawal_choice``; Conflict ``consent_missing`` (none in force)."""
    if lessons not in ("take_out", "delete"):
        raise Invalid("withdrawal_choice", "choose 'take_out' or 'delete' for the lessons")
    db = services.db
    now = to_iso(services.now())
    with db.atomic():
        ended = db.execute(
            "UPDATE trajectory_consents SET ended_at = ?, ended_how = 'withdrawn', ended_by = ?,"
            " withdrawn_lessons = ? WHERE trajectory_id = ? AND ended_at IS NULL",
            [now, teacher.id, lessons, trajectory["id"]],
        ).rowcount
        if not ended:
            raise Conflict("consent_missing", "no consent is in force for this trajectory")
        linked = [
            row[0]
            for row in db.execute(
                "SELECT recording_id FROM trajectory_lessons WHERE trajectory_id = ?",
                [trajectory["id"]],
            ).fetchall()
        ]
        db.execute("DELETE FROM trajectory_lessons WHERE trajectory_id = ?", [trajectory["id"]])
    deleted: list[str] = []
    if lessons == "delete":
        for lesson_id in linked:
            doomed = [lesson_id, *(c["id"] for c in clips.of_lesson(db, lesson_id))]
            for rid in doomed:
                if services.assembler is not None:
                    services.assembler.forget(rid)
                deletion.delete(db, services.paths, rid)
                services.audit_from(
                    address, teacher, "lesson_delete", object_kind="lesson", object_id=rid
                )
                deleted.append(rid)
    services.audit_from(
        address,
        teacher,
        "consent_withdraw",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"lessons": lessons, "lesson_ids": linked},
    )
    return {"taken_out": [] if lessons == "delete" else linked, "deleted": deleted}
