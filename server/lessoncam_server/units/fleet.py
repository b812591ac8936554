"""Classroom units: single-use enrolment codes, per-unit tokens (stored as hashes), heartbeats."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from ..access.principal import Unit
from ..infra.db import query_row
from ..infra.paths import UNIT_ID
from ..infra.timeutil import from_iso, to_iso

# Codes are typed by ICT staff at the unit: unambiguous letters, grouped for reading aloud.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_enrolment_code(
    db: Database,
    unit_name: str,
    created_by: int,
    now: datetime,
    lifetime: timedelta,
    teacher_id: int | None = None,
) -> tuple[str, datetime]:
    """Create a single-use code; returns it (shown once, stored only hashed) and its expiry."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + lifetime
    db.table("enrolment_codes").insert(
        {
            "code_hash": _hash(raw),
            "unit_name": unit_name,
            "created_by": created_by,
            "created_at": to_iso(now),
            "expires_at": to_iso(expires),
            "teacher_id": teacher_id,
        }
    )
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4)), expires


class EnrolmentRefused(Exception):
    """The code is unknown, used or expired; the message says which and what to do."""


def enrol(db: Database, code: str, now: datetime) -> tuple[Unit, str]:
    """Exchange a code for a new unit and its 256-bit token (returned once, stored hashed)."""
    key = _hash(normalise_code(code))
    with db.atomic():
        row = db.execute(
            "SELECT unit_name, expires_at, used_at, teacher_id FROM enrolment_codes "
            "WHERE code_hash = ?",
            [key],
        ).fetchone()
        if row is None:
            raise EnrolmentRefused("unknown enrolment code; ask an administrator for a new one")
        unit_name, expires_at, used_at, teacher_id = row
        if used_at is not None:
            raise EnrolmentRefused("this enrolment code was already used; ask for a new one")
        if from_iso(expires_at) <= now:
            raise EnrolmentRefused("this enrolment code has expired; ask for a new one")
        token = secrets.token_urlsafe(32)
        unit_id = uuid.uuid4().hex
        db.table("units").insert(
            {
                "id": unit_id,
                "name": unit_name,
                "token_hash": _hash(token),
                "teacher_id": teacher_id,
                "enrolled_at": to_iso(now),
            }
        )
        db.execute(
            "UPDATE enrolment_codes SET used_at = ?, unit_id = ? WHERE code_hash = ?",
            [to_iso(now), unit_id, key],
        )
    return Unit(id=unit_id, name=unit_name, teacher_id=teacher_id), token


def unit_for_token(db: Database, token: str) -> Unit | None:
    """The enrolled, unrevoked unit holding ``token``."""
    if len(token) > 128:
        return None
    row = db.execute(
        "SELECT id, name, teacher_id FROM units WHERE token_hash = ? AND revoked_at IS NULL",
        [_hash(token)],
    ).fetchone()
    return Unit(id=row[0], name=row[1], teacher_id=row[2]) if row else None


HEARTBEAT_FIELDS = (
    "state",
    "version",
    "free_disk_bytes",
    "temperature_c",
    "queue_length",
    "last_error",
    "tracking",
)


def store_heartbeat(db: Database, unit_id: str, beat: dict[str, Any], now: datetime) -> None:
    values = {k: beat.get(k) for k in HEARTBEAT_FIELDS}
    values["last_seen_at"] = to_iso(now)
    db.table("units").update(unit_id, values)


def revoke(db: Database, unit_id: str, now: datetime) -> bool:
    cursor = db.execute(
        "UPDATE units SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        [to_iso(now), unit_id],
    )
    return cursor.rowcount == 1


ONLINE_WITHIN = timedelta(minutes=3)


def describe(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A unit as the fleet view shows it (never its token hash)."""
    seen = row.get("last_seen_at")
    online = seen is not None and row.get("revoked_at") is None
    online = online and now - from_iso(str(seen)) < ONLINE_WITHIN
    out = {k: v for k, v in row.items() if k != "token_hash"}
    out["online"] = online
    out["has_snapshot"] = row.get("snapshot_at") is not None
    return out


def active_unit(db: Database, unit_id: str) -> dict[str, Any] | None:
    """The enrolled, not revoked unit ``unit_id`` (as given in a URL or a form), or None."""
    if not UNIT_ID.fullmatch(unit_id):
        return None
    return query_row(db, "SELECT * FROM units WHERE id = ? AND revoked_at IS NULL", [unit_id])
