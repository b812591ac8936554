"""Sharing a lesson with a named account, and revoking it: the one place that writes shares.
The JSON API and the pages call ``share_lesson`` and ``revoke_share`` after checking that the
caller may manage the lesson (``lessons/guard.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ..access import accounts
from ..access.permissions import ShareRole
from ..access.principal import User
from ..infra.db import query_rows
from ..infra.errors import Invalid
from ..infra.numbers import whole_number
from ..infra.timeutil import to_iso
from ..services import Services


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
    number = whole_number(share_id, 12)
    if number is None:
        return None
    cursor = db.execute(
        "UPDATE shares SET revoked_at = ? WHERE id = ? AND recording_id = ? AND revoked_at IS NULL",
        [to_iso(now), number, recording_id],
    )
    return int(share_id) if cursor.rowcount == 1 else None


def shares_of(db: Database, recording_id: str) -> list[dict[str, Any]]:
    """Every share of the lesson, revoked ones too, oldest first: ``id``, ``username``,
    ``display_name``, ``role``, ``created_at``, ``expires_at``, ``revoked_at``."""
    return query_rows(
        db,
        """SELECT s.id, u.username, u.display_name, s.role, s.created_at, s.expires_at,
                  s.revoked_at FROM shares s JOIN users u ON u.id = s.user_id
           WHERE s.recording_id = ? ORDER BY s.created_at, s.id""",
        [recording_id],
    )


def share_lesson(
    services: Services,
    owner: User,
    lesson: Mapping[str, Any],
    username: str,
    role: ShareRole,
    expires_at: datetime | None,
    *,
    address: str,
) -> tuple[int, bool]:
    """``owner`` shares ``lesson`` with the active account ``username`` as ``role`` until
    ``expires_at`` (or changes the active share); audited. Returns the share's id and whether it
    is new. Raises Invalid (status 400): ``share_unknown_account``, ``share_own_lesson``,
    ``share_expired``."""
    now = services.now()
    target = accounts.find_user(services.db, username) if username else None
    if target is None or target["disabled"]:
        raise Invalid(
            "share_unknown_account", f"there is no active account named {username!r}", status=400
        )
    if target["id"] == owner.id:
        raise Invalid("share_own_lesson", "this is your own lesson already", status=400)
    if expires_at is not None and expires_at <= now:
        raise Invalid("share_expired", "expires_at lies in the past", status=400)
    share_id, created = grant(
        services.db, lesson["id"], target["id"], role, expires_at, owner.id, now
    )
    services.audit_from(
        address,
        owner,
        "share_create",
        object_kind="lesson",
        object_id=lesson["id"],
        detail={
            "with": target["username"],
            "role": role,
            "expires_at": to_iso(expires_at) if expires_at else None,
        },
    )
    return share_id, created


def revoke_share(
    services: Services, owner: User, lesson: Mapping[str, Any], share_id: str, *, address: str
) -> int | None:
    """``owner`` revokes the active share ``share_id`` (as given in a URL) of ``lesson``;
    audited. Returns its id, or None when there is no such active share."""
    revoked = revoke(services.db, lesson["id"], share_id, services.now())
    if revoked is not None:
        services.audit_from(
            address,
            owner,
            "share_revoke",
            object_kind="lesson",
            object_id=lesson["id"],
            detail={"share": revoked},
        )
    return revoked
