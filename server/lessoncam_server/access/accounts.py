"""Accounts: teachers, coaches and administrators."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ..infra.db import query_row, query_rows
from ..infra.errors import Invalid
from ..infra.timeutil import to_iso
from .passwords import hash_password, needs_rehash, verify_password
from .principal import Role
from .sessions import SessionStore

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$", re.IGNORECASE)
ROLES: tuple[Role, ...] = ("teacher", "coach", "admin")
PUBLIC_FIELDS = ("id", "username", "display_name", "role", "disabled", "created_at")


class AccountError(Invalid):
    """A request about an account that cannot be carried out: ``role_unknown``,
    ``username_invalid`` or ``username_taken``; the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=400)


def generate_password() -> str:
    """A random password for bootstrap and resets: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role,
    now: datetime,
    display_name: str | None = None,
) -> dict[str, Any]:
    if role not in ROLES:
        raise AccountError("role_unknown", f"role must be one of {', '.join(ROLES)}")
    if not USERNAME.fullmatch(username):
        raise AccountError(
            "username_invalid",
            "a username has 2-64 characters: letters, digits and . _ @ -, starting with a "
            "letter or digit",
        )
    if find_user(db, username) is not None:
        raise AccountError("username_taken", f"the username {username!r} is taken")
    row = {
        "username": username,
        "display_name": (display_name or username).strip()[:120] or username,
        "role": role,
        "password_hash": hash_password(password),
        "disabled": 0,
        "created_at": to_iso(now),
        "password_changed_at": to_iso(now),
    }
    user_id = db.table("users").insert(row).last_pk
    return public(get_user(db, int(str(user_id))) or {})


def find_user(db: Database, username: str) -> dict[str, Any] | None:
    return query_row(db, "SELECT * FROM users WHERE username = ?", [username])


def get_user(db: Database, user_id: int) -> dict[str, Any] | None:
    return query_row(db, "SELECT * FROM users WHERE id = ?", [user_id])


def update_user(
    db: Database, sessions: SessionStore, user_id: int, changes: dict[str, Any]
) -> None:
    """Apply ``changes`` (``display_name``, ``role``, ``disabled``) to a user. Disabling ends
    every session of theirs at once: the API and the admin pages both come through here."""
    if "disabled" in changes:
        changes = {**changes, "disabled": int(changes["disabled"])}
    if changes:
        db.table("users").update(user_id, changes)
    if changes.get("disabled"):
        sessions.revoke_all(user_id)


def public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in PUBLIC_FIELDS if k in row}
    if "disabled" in out:
        out["disabled"] = bool(out["disabled"])
    return out


def list_users(db: Database) -> list[dict[str, Any]]:
    return [public(r) for r in query_rows(db, "SELECT * FROM users ORDER BY username")]


def authenticate(db: Database, username: str, password: str) -> dict[str, Any] | None:
    """The user row when the password matches and the account is enabled."""
    row = find_user(db, username) if USERNAME.fullmatch(username) else None
    ok = verify_password(row["password_hash"] if row else None, password)
    if not ok or row is None or row["disabled"]:
        return None
    if needs_rehash(row["password_hash"]):
        db.table("users").update(row["id"], {"password_hash": hash_password(password)})
    return row


def set_password(db: Database, user_id: int, password: str, now: datetime) -> None:
    db.table("users").update(
        user_id, {"password_hash": hash_password(password), "password_changed_at": to_iso(now)}
    )


def has_admin(db: Database) -> bool:
    return (
        db.execute("SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0").fetchone()
        is not None
    )
