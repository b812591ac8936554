"""The people in a trajectory: the teacher invites a coach or colleagues by their account, each
accepts or declines; a member may leave, the teacher may remove a member or withdraw an
invitation. Every change is audited, and the rows are kept (with how and when each ended) so
the history can be told. Administrators are never invited: they see no lesson they were not
given, and a trajectory is no way round that.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlite_utils import Database

from ..access import accounts
from ..access.principal import User
from ..infra.db import query_row, query_rows
from ..infra.errors import Conflict, Invalid, NotFound
from ..infra.timeutil import to_iso
from ..services import Services
from .rules import require_open, url_id

MemberRole = Literal["coach", "colleague"]
ROLES: tuple[MemberRole, ...] = ("coach", "colleague")


def members_of(db: Database, trajectory_id: int) -> list[dict[str, Any]]:
    """Everyone ever invited, oldest first: ``id``, ``username``, ``display_name``, ``role``,
    ``invited_at``, ``accepted_at``, ``ended_at``, ``ended_how`` and ``state`` (``invited``,
    ``member``, ``declined``, ``left`` or ``removed``)."""
    rows = query_rows(
        db,
        """SELECT m.id, m.user_id, u.username, u.display_name, m.role, m.invited_at,
                  m.accepted_at, m.ended_at, m.ended_how
           FROM trajectory_members m JOIN users u ON u.id = m.user_id
           WHERE m.trajectory_id = ? ORDER BY m.invited_at, m.id""",
        [trajectory_id],
    )
    for row in rows:
        row["state"] = row["ended_how"] or ("member" if row["accepted_at"] else "invited")
    return rows


def _open_row(db: Database, trajectory_id: int, user_id: int) -> dict[str, Any] | None:
    return query_row(
        db,
        "SELECT * FROM trajectory_members WHERE trajectory_id = ? AND user_id = ?"
        " AND ended_at IS NULL",
        [trajectory_id, user_id],
    )


def invite(
    services: Services,
    teacher: User,
    trajectory: dict[str, Any],
    username: str,
    role: str,
    *,
    address: str,
) -> dict[str, Any]:
    """The teacher invites the active account ``username`` as ``coach`` or ``colleague``;
    audited. Returns the invitation. Raises Invalid ``member_role``, ``member_unknown_account``,
    ``member_self``, ``member_admin``; Conflict ``member_already``, ``trajectory_closed``."""
    require_open(trajectory)
    if role not in ROLES:
        raise Invalid("member_role", "a member is a 'coach' or a 'colleague'")
    target = accounts.find_user(services.db, username) if username else None
    if target is None or target["disabled"]:
        raise Invalid("member_unknown_account", f"there is no active account named {username!r}")
    if target["id"] == trajectory["teacher_id"]:
        raise Invalid("member_self", "this is your own trajectory already")
    if target["role"] == "admin":
        raise Invalid(
            "member_admin",
            "administrator accounts cannot join a trajectory; invite a person's "
            "teacher or coach account",
        )
    now = to_iso(services.now())
    with services.db.atomic():
        held = _open_row(services.db, trajectory["id"], target["id"])
        if held is not None:
            state = "a member" if held["accepted_at"] else "invited"
            raise Conflict("member_already", f"{target['username']} is {state} already")
        table = services.db.table("trajectory_members").insert(
            {
                "trajectory_id": trajectory["id"],
                "user_id": target["id"],
                "role": role,
                "invited_by": teacher.id,
                "invited_at": now,
            }
        )
        assert table.last_pk is not None
    services.audit_from(
        address,
        teacher,
        "trajectory_invite",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"member": target["username"], "role": role},
    )
    invitation = next(
        m for m in members_of(services.db, trajectory["id"]) if m["id"] == table.last_pk
    )
    return invitation


def respond(
    services: Services, user: User, trajectory: dict[str, Any], accept: bool, *, address: str
) -> dict[str, Any]:
    """``user`` accepts or declines her open invitation; audited. Returns her membership.
    Raises NotFound ``no_invitation``; Conflict ``trajectory_closed``."""
    require_open(trajectory)
    held = _open_row(services.db, trajectory["id"], user.id)
    if held is None or held["accepted_at"] is not None:
        raise NotFound("no_invitation", "you have no open invitation to this trajectory")
    now = to_iso(services.now())
    if accept:
        values: dict[str, Any] = {"accepted_at": now}
    else:
        values = {"ended_at": now, "ended_how": "declined", "ended_by": user.id}
    services.db.table("trajectory_members").update(held["id"], values)
    services.audit_from(
        address,
        user,
        "trajectory_accept" if accept else "trajectory_decline",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"role": held["role"]},
    )
    return next(m for m in members_of(services.db, trajectory["id"]) if m["id"] == held["id"])


def _end(db: Database, member_id: int, how: str, by: int, now: str) -> None:
    db.execute(
        "UPDATE trajectory_members SET ended_at = ?, ended_how = ?, ended_by = ?"
        " WHERE id = ? AND ended_at IS NULL",
        [now, how, by, member_id],
    )


def leave(services: Services, user: User, trajectory: dict[str, Any], *, address: str) -> None:
    """``user`` leaves the trajectory: from now on she sees neither it nor its lessons;
    audited. Raises NotFound ``not_a_member``."""
    held = _open_row(services.db, trajectory["id"], user.id)
    if held is None or held["accepted_at"] is None:
        raise NotFound("not_a_member", "you are not a member of this trajectory")
    _end(services.db, held["id"], "left", user.id, to_iso(services.now()))
    services.audit_from(
        address,
        user,
        "trajectory_leave",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"role": held["role"]},
    )


def remove(
    services: Services, teacher: User, trajectory: dict[str, Any], raw_id: str, *, address: str
) -> None:
    """The teacher removes a member, or withdraws an invitation (``raw_id`` as in a URL): that
    person's access ends at once; audited. Raises NotFound ``not_found``."""
    member_id = url_id(raw_id)
    held = query_row(
        services.db,
        """SELECT m.*, u.username FROM trajectory_members m JOIN users u ON u.id = m.user_id
           WHERE m.id = ? AND m.trajectory_id = ? AND m.ended_at IS NULL""",
        [member_id, trajectory["id"]],
    )
    if held is None:
        raise NotFound("not_found", "no such member of this trajectory")
    _end(services.db, held["id"], "removed", teacher.id, to_iso(services.now()))
    services.audit_from(
        address,
        teacher,
        "trajectory_remove",
        object_kind="trajectory",
        object_id=trajectory["id"],
        detail={"member": held["username"], "was": "member" if held["accepted_at"] else "invited"},
    )


def invitable(db: Database, trajectory: dict[str, Any]) -> list[dict[str, str]]:
    """The accounts the teacher may invite now: active, not an admin, not herself, not
    already invited or in it; by name."""
    rows = db.execute(
        """SELECT username, display_name FROM users
           WHERE disabled = 0 AND role != 'admin' AND id != :teacher
             AND id NOT IN (SELECT user_id FROM trajectory_members
                            WHERE trajectory_id = :trajectory AND ended_at IS NULL)
           ORDER BY display_name""",
        {"teacher": trajectory["teacher_id"], "trajectory": trajectory["id"]},
    ).fetchall()
    return [{"username": u, "display_name": d} for u, d in rows]
