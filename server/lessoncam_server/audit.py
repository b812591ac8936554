"""The audit trail: who did what to which object, when (UTC), from where, and was it allowed."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from .principal import Principal
from .timeutil import to_iso

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
