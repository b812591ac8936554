"""Research coordinators: the accounts an admin names (the school's internal support teacher,
or a researcher given an account) who may export the pseudonymised research data and read
its summary. Administrators cannot be named: they see no coaching data through their role.
Every grant and revocation is audited."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from ..access import accounts
from ..access.principal import User
from ..infra.db import query_rows
from ..infra.errors import Forbidden, Invalid, NotFound
from ..infra.timeutil import to_iso
from ..services import Services


def is_coordinator(db: Database, user_id: int) -> bool:
    found = db.execute(
        "SELECT 1 FROM research_coordinators c JOIN users u ON u.id = c.user_id"
        " WHERE c.user_id = ? AND u.disabled = 0",
        [user_id],
    ).fetchone()
    return found is not None


def listed(db: Database) -> list[dict[str, Any]]:
    """The coordinators by name: ``username``, ``display_name``, ``granted_at``."""
    return query_rows(
        db,
        """SELECT u.username, u.display_name, c.granted_at FROM research_coordinators c
           JOIN users u ON u.id = c.user_id ORDER BY u.display_name""",
    )


def _require_admin(admin: User) -> None:
    if admin.role != "admin":
        raise Forbidden("forbidden", "only an administrator names research coordinators")


def grant(services: Services, admin: User, username: str, *, address: str) -> None:
    """``admin`` names the active account ``username`` a coordinator (again: no change);
    audited. Raises Forbidden (not an admin), Invalid ``coordinator_unknown_account``,
    ``coordinator_admin``."""
    _require_admin(admin)
    target = accounts.find_user(services.db, username) if username else None
    if target is None or target["disabled"]:
        raise Invalid(
            "coordinator_unknown_account", f"there is no active account named {username!r}"
        )
    if target["role"] == "admin":
        raise Invalid(
            "coordinator_admin",
            "administrator accounts cannot be coordinators; name a person's "
            "teacher or coach account",
        )
    services.db.execute(
        "INSERT OR IGNORE INTO research_coordinators (user_id, granted_by, granted_at)"
        " VALUES (?, ?, ?)",
        [target["id"], admin.id, to_iso(services.now())],
    )
    services.audit_from(
        address, admin, "coordinator_grant", object_kind="user", object_id=target["id"]
    )


def revoke(services: Services, admin: User, username: str, *, address: str) -> None:
    """``admin`` ends ``username``'s role as coordinator; audited. Raises Forbidden, NotFound
    ``not_found``."""
    _require_admin(admin)
    target = accounts.find_user(services.db, username) if username else None
    cursor = services.db.execute(
        "DELETE FROM research_coordinators WHERE user_id = ?", [target["id"] if target else 0]
    )
    if target is None or cursor.rowcount != 1:
        raise NotFound("not_found", f"{username[:64]!r} is no coordinator")
    services.audit_from(
        address, admin, "coordinator_revoke", object_kind="user", object_id=target["id"]
    )
