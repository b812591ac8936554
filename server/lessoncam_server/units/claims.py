"""Unit claims: a teacher says "I am using unit Group 5" and its new lessons are hers.

An admin sets each unit's default teacher; a claim overrides it for a while. So that a claim
can never quietly divert another teacher's lessons:

- a claim expires (``[unit_claims] hours``, 8 by default) and can be ended earlier by the
  claimer, the unit's default teacher or an admin;
- one holder at a time: a unit another teacher holds cannot be claimed (409) until that claim
  ends; claiming again one's own unit extends the claim;
- only lessons that *start* while the claim holds go to the claimer (by the lesson's start
  time from the unit's manifest): a lesson already running, or recorded before, stays with
  whoever it belonged to, even if it is uploaded later;
- claims are kept (with who ended them), audited (``unit_claim``, ``unit_release``), and shown
  to every teacher and in the admins' fleet view;
- administrators cannot claim (lessons never go to an admin account);
- a claim may name one of the claimer's open coaching trajectories: the lessons that start
  under it go into that trajectory (``coaching/linking.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from ..access.principal import User
from ..coaching import linking
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Forbidden, Invalid, NotFound
from ..infra.timeutil import from_iso, to_iso
from ..services import Services
from . import fleet


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """One claim, as the ownership policy needs it."""

    user_id: int
    claimed_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    trajectory_id: int | None = None

    @property
    def until(self) -> datetime:
        return min(self.expires_at, self.ended_at) if self.ended_at else self.expires_at

    def holds_at(self, moment: datetime) -> bool:
        return self.claimed_at <= moment < self.until


def holding_at(claims: Iterable[ClaimFacts], started_at: datetime) -> ClaimFacts | None:
    """The claim that held when a lesson started at ``started_at`` (the latest, should two
    overlap), or None. Pure."""
    holding = [c for c in claims if c.holds_at(started_at)]
    return max(holding, key=lambda c: c.claimed_at) if holding else None


def owner_at(
    default_teacher_id: int | None, claims: Iterable[ClaimFacts], started_at: datetime
) -> int | None:
    """Who owns a lesson that started at ``started_at``: the holder of the claim that held
    then, else the unit's default teacher. Pure."""
    held = holding_at(claims, started_at)
    return held.user_id if held is not None else default_teacher_id


def _facts(row: dict[str, Any]) -> ClaimFacts:
    return ClaimFacts(
        user_id=row["user_id"],
        claimed_at=from_iso(row["claimed_at"]),
        expires_at=from_iso(row["expires_at"]),
        ended_at=from_iso(row["ended_at"]) if row["ended_at"] else None,
        trajectory_id=row["trajectory_id"],
    )


def claim_at(db: Database, unit_id: str, started_at: datetime) -> ClaimFacts | None:
    """The claim that held ``unit_id`` when a lesson started at ``started_at``, or None."""
    claims = query_rows(
        db,
        "SELECT * FROM unit_claims WHERE unit_id = ? AND claimed_at <= ?",
        [unit_id, to_iso(started_at)],
    )
    return holding_at([_facts(r) for r in claims], started_at)


def active(db: Database, unit_id: str, now: datetime) -> dict[str, Any] | None:
    """The claim holding ``unit_id`` now, with the claimer's ``username`` and
    ``display_name``; None when the unit is not claimed."""
    return query_row(
        db,
        """SELECT c.*, u.username, u.display_name FROM unit_claims c
           JOIN users u ON u.id = c.user_id
           WHERE c.unit_id = :unit AND c.ended_at IS NULL AND c.claimed_at <= :now
             AND c.expires_at > :now
           ORDER BY c.claimed_at DESC LIMIT 1""",
        {"unit": unit_id, "now": to_iso(now)},
    )


def describe(claim: dict[str, Any] | None, user_id: int | None) -> dict[str, Any] | None:
    """A claim as the API shows it: ``id``, ``username``, ``display_name``, ``claimed_at``,
    ``expires_at``, ``mine``, and for the claimer herself ``trajectory_id`` (the trajectory
    its lessons go into, or None; null for everyone else)."""
    if claim is None:
        return None
    mine = claim["user_id"] == user_id
    return {
        "id": claim["id"],
        "username": claim["username"],
        "display_name": claim["display_name"],
        "claimed_at": claim["claimed_at"],
        "expires_at": claim["expires_at"],
        "mine": mine,
        "trajectory_id": claim["trajectory_id"] if mine else None,
    }


def claim(
    db: Database,
    unit_id: str,
    user_id: int,
    hours: int,
    now: datetime,
    trajectory_id: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Claim ``unit_id`` for ``user_id`` for ``hours``, its lessons going into
    ``trajectory_id`` (or none); returns (claim, created). Claiming one's own claimed unit
    again extends it (and sets the trajectory anew). Raises Conflict ``unit_claimed``."""
    until = to_iso(now + timedelta(hours=hours))
    with db.atomic():
        held = active(db, unit_id, now)
        if held is not None and held["user_id"] != user_id:
            raise Conflict(
                "unit_claimed",
                f"{held['display_name']} is using this unit until {held['expires_at'][:16]} UTC",
            )
        if held is not None:
            db.table("unit_claims").update(
                held["id"], {"expires_at": until, "trajectory_id": trajectory_id}
            )
        else:
            db.table("unit_claims").insert(
                {
                    "unit_id": unit_id,
                    "user_id": user_id,
                    "claimed_at": to_iso(now),
                    "expires_at": until,
                    "trajectory_id": trajectory_id,
                }
            )
    fresh = active(db, unit_id, now)
    assert fresh is not None
    return fresh, held is None


def may_end(user: User, held: dict[str, Any], unit: dict[str, Any]) -> bool:
    """Who may end a claim: the teacher using the unit, the unit's own teacher, an admin."""
    return user.id in (held["user_id"], unit["teacher_id"]) or user.role == "admin"


def release(db: Database, claim_id: int, by_user_id: int, now: datetime) -> None:
    """End a claim now (the caller checked who may)."""
    db.execute(
        "UPDATE unit_claims SET ended_at = ?, ended_by = ? WHERE id = ? AND ended_at IS NULL",
        [to_iso(now), by_user_id, claim_id],
    )


def claim_unit(
    services: Services,
    user: User,
    unit_id: str,
    hours: int | None,
    *,
    address: str,
    trajectory_id: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """``user`` claims the enrolled unit ``unit_id`` for ``hours`` (the most the server allows
    when None), or extends her claim; its lessons go into her open trajectory
    ``trajectory_id`` when one is named. Audited. Returns (claim, created). Raises NotFound
    (no such unit), Forbidden (an admin), Invalid ``claim_hours`` or ``trajectory_not_yours``,
    or Conflict ``unit_claimed``."""
    unit = fleet.active_unit(services.db, unit_id)
    if unit is None:
        raise NotFound("not_found", "no such unit, or you have no access to it")
    if user.role == "admin":
        raise Forbidden(
            "forbidden", "administrator accounts do not own lessons; a teacher claims a unit"
        )
    limit = services.config.unit_claims.hours
    hours = hours if hours is not None else limit
    if not 1 <= hours <= limit:
        raise Invalid("claim_hours", f"a claim lasts from 1 to {limit} hours")
    if trajectory_id is not None:
        linking.check_claim_trajectory(services.db, trajectory_id, user.id)
    held, created = claim(services.db, unit["id"], user.id, hours, services.now(), trajectory_id)
    detail: dict[str, Any] = {"until": held["expires_at"], "extended": not created}
    if trajectory_id is not None:
        detail["trajectory"] = trajectory_id
    services.audit_from(
        address, user, "unit_claim", object_kind="unit", object_id=unit["id"], detail=detail
    )
    return held, created


def end_claim(
    services: Services, user: User, unit_id: str, *, address: str, path: str
) -> dict[str, Any] | None:
    """End the claim holding ``unit_id`` now, if ``user`` may (``may_end``); audited, and so is
    a refusal (with the ``path`` asked for). Returns the ended claim, or None when the unit was
    not claimed. Raises NotFound (no such unit) or Forbidden."""
    unit = fleet.active_unit(services.db, unit_id)
    if unit is None:
        raise NotFound("not_found", "no such unit, or you have no access to it")
    now = services.now()
    held = active(services.db, unit["id"], now)
    if held is None:
        return None
    if not may_end(user, held, unit):
        services.audit_from(
            address,
            user,
            "access_denied",
            outcome="denied",
            object_kind="unit",
            object_id=unit["id"],
            detail={"path": path},
        )
        raise Forbidden(
            "forbidden", "only the teacher using the unit, its own teacher or an admin may end it"
        )
    release(services.db, held["id"], user.id, now)
    services.audit_from(
        address,
        user,
        "unit_release",
        object_kind="unit",
        object_id=unit["id"],
        detail={"claimed_by": held["username"]},
    )
    return held


def claimable_units(db: Database, user_id: int, now: datetime) -> list[dict[str, Any]]:
    """Every enrolled unit by name: online or not, its default teacher, and its claim as
    ``user_id`` sees it (for the claims API and the units page)."""
    rows = db.execute(
        """SELECT u.id, u.name, u.last_seen_at, u.revoked_at,
                  u.teacher_id, t.username, t.display_name
           FROM units u LEFT JOIN users t ON t.id = u.teacher_id
           WHERE u.revoked_at IS NULL ORDER BY u.name"""
    ).fetchall()
    return [
        {
            "id": unit_id,
            "name": name,
            "online": fleet.describe({"last_seen_at": seen, "revoked_at": revoked}, now)["online"],
            "teacher_id": teacher_id,
            "teacher": {"username": username, "display_name": display} if username else None,
            "claim": describe(active(db, unit_id, now), user_id),
        }
        for unit_id, name, seen, revoked, teacher_id, username, display in rows
    ]
