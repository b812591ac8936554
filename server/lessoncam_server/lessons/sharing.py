"""Sharing a lesson with a named account, and revoking it: the one place that writes shares
(the JSON API and the pages both call it, after their own checks and before auditing)."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from ..access.permissions import ShareRole
from ..infra.timeutil import to_iso


def grant(
    db: Database,
    recording_id: str,
    user_id: int,
    role: ShareRole,
    expires_at: datetime | None,
    by: int,
    now: datetime,
) -> tuple[int, bool]:
    """Share ``recording_id`` with ``user_id`` (or change the active share); returns the
    share's id and whether it was new."""
    values = {
        "role": role,
        "expires_at": to_iso(expires_at) if expires_at else None,
        "created_by": by,
        "created_at": to_iso(now),
    }
    with db.atomic():
        existing = db.execute(
            "SELECT id FROM shares WHERE recording_id = ? AND user_id = ? AND revoked_at IS NULL",
            [recording_id, user_id],
        ).fetchone()
        if existing:
            db.table("shares").update(existing[0], values)
            return int(existing[0]), False
        table = db.table("shares").insert(
            {"recording_id": recording_id, "user_id": user_id, **values}
        )
        assert table.last_pk is not None
        return int(table.last_pk), True


def revoke(db: Database, recording_id: str, share_id: str, now: datetime) -> int | None:
    """Revoke the active share ``share_id`` (as given in a URL) of ``recording_id``; its id,
    or None when there is no such active share."""
    if not share_id.isdigit() or len(share_id) > 12:
        return None
    cursor = db.execute(
        "UPDATE shares SET revoked_at = ? WHERE id = ? AND recording_id = ? AND revoked_at IS NULL",
        [to_iso(now), int(share_id), recording_id],
    )
    return int(share_id) if cursor.rowcount == 1 else None
