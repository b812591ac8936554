"""The audit trail: who did what to which object, when (UTC), from where, and was it allowed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from ..infra.db import query_rows
from ..infra.timeutil import to_iso
from .principal import Principal

log = logging.getLogger(__name__)

Outcome = Literal["ok", "denied", "failed"]

# Every action the server records; tests and the admin UI filter on these names.
ACTIONS = (
    "login",
    "logout",
    "password_change",
    "user_create",
    "user_update",
    "password_reset",
    "account_link",
    "enrolment_code_create",
    "unit_enrol",
    "unit_update",
    "unit_revoke",
    "recording_register",
    "recording_assign",
    "lesson_view",
    "lesson_download",
    "lesson_update",
    "lesson_delete",
    "lesson_expire",
    "share_create",
    "share_revoke",
    "settings_update",
    "access_denied",
    "comment_create",
    "comment_update",
    "comment_delete",
    "comments_export",
    "clip_create",
    "unit_claim",
    "unit_release",
    "lesson_upload",
    "trajectory_create",
    "trajectory_update",
    "trajectory_status",
    "trajectory_invite",
    "trajectory_accept",
    "trajectory_decline",
    "trajectory_leave",
    "trajectory_remove",
    "lesson_link",
    "lesson_unlink",
    "consent_record",
    "consent_withdraw",
    "research_agreement",
    "coordinator_grant",
    "coordinator_revoke",
    "research_export",
    "watch_start",
    "watch_refused",
    "conversation_from_session",
    "step_create",
    "step_update",
    "step_delete",
    "coding_scheme_create",
    "coding_scheme_version",
    "coding_scheme_change",
    "coding_create",
    "coding_share",
    "coding_delete",
    "coding_export",
    "coding_import",
)


def record(
    db: Database,
    at: datetime,
    actor: Principal | None,
    action: str,
    *,
    outcome: Outcome = "ok",
    object_kind: str | None = None,
    object_id: str | int | None = None,
    client_ip: str | None = None,
    actor_name: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry; ``actor_name`` names an anonymous actor (a failed login's name)."""
    assert action in ACTIONS, action
    actor_kind: str
    actor_id: str | None
    if actor is not None:
        actor_kind, actor_id = actor.kind, str(actor.id)
        actor_name = actor.username if actor.kind == "user" else actor.name
    else:
        actor_kind, actor_id = "anonymous", None
    db.table("audit").insert(
        {
            "at": to_iso(at),
            "actor_kind": actor_kind,
            "actor_id": actor_id,
            "actor_name": actor_name,
            "action": action,
            "object_kind": object_kind,
            "object_id": None if object_id is None else str(object_id),
            "outcome": outcome,
            "client_ip": client_ip,
            "detail": json.dumps(detail, sort_keys=True) if detail else None,
        }
    )
    log.info(
        "audit %s %s by %s:%s on %s:%s",
        action,
        outcome,
        actor_kind,
        actor_id or actor_name,
        object_kind,
        object_id,
    )


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to list; every field that is set must match (times are ISO, UTC)."""

    action: str | None = None
    actor_name: str | None = None
    object_id: str | None = None
    outcome: str | None = None
    since: str | None = None  # at or after
    until: str | None = None  # before
    before_id: int | None = None  # older than this entry (the next page)


def entries(db: Database, wanted: AuditFilter, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` entries matching ``wanted``, newest first, ``detail`` decoded."""
    where: list[str] = []
    args: list[str | int] = []
    for condition, value in (
        ("action = ?", wanted.action),
        ("actor_name = ?", wanted.actor_name),
        ("object_id = ?", wanted.object_id),
        ("outcome = ?", wanted.outcome),
        ("at >= ?", wanted.since),
        ("at < ?", wanted.until),
        ("id < ?", wanted.before_id),
    ):
        if value is not None:
            where.append(condition)
            args.append(value)
    sql = "SELECT * FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    found = query_rows(db, sql + " ORDER BY id DESC LIMIT ?", [*args, limit])
    for row in found:
        row["detail"] = json.loads(row["detail"]) if row["detail"] else None
    return found
