"""The people one can pick from a list (share a lesson with, give a unit to, name a research
coordinator): active accounts by display name. Disabled accounts are never offered."""

from __future__ import annotations

from sqlite_utils import Database


def active_people(
    db: Database, *, leave_out: int | None = None, admins: bool = True
) -> list[dict[str, str]]:
    """Active accounts by display name, each ``username``, ``display_name`` and ``role``;
    without the account ``leave_out`` (the person asking), and without administrators when
    ``admins`` is False (a unit or a research role is never an admin's)."""
    rows = db.execute(
        """SELECT username, display_name, role FROM users
           WHERE disabled = 0 AND id != :leave_out AND (:admins OR role != 'admin')
           ORDER BY display_name, username""",
        {"leave_out": -1 if leave_out is None else leave_out, "admins": int(admins)},
    ).fetchall()
    return [{"username": u, "display_name": d, "role": r} for u, d, r in rows]
