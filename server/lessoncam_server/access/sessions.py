"""Server-side sessions: random tokens, stored only as hashes, with idle and absolute expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from ..infra.timeutil import from_iso, to_iso
from .principal import User

COOKIE_NAME = "lessoncam_session"
# Writing last_seen on every request would make each page view a database write.
TOUCH_EVERY = timedelta(seconds=60)


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta

    def is_live(self, created_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now - last_seen_at < self.idle and now - created_at < self.absolute


class SessionStore:
    """Creates, finds and revokes sessions in the ``sessions`` table."""

    def __init__(self, db: Database, policy: SessionPolicy) -> None:
        self.db = db
        self.policy = policy

    def create(
        self,
        user_id: int,
        client_ip: str | None,
        now: datetime,
        *,
        via: str | None = None,
        lifetime: timedelta | None = None,
    ) -> tuple[str, str]:
        """Start a session; returns (cookie token, CSRF token). ``via`` names the OpenID
        Provider it was opened through; ``lifetime`` caps it below the absolute expiry."""
        token, csrf = new_token(), new_token()
        self.db.table("sessions").insert(
            {
                "token_hash": token_hash(token),
                "user_id": user_id,
                "csrf_token": csrf,
                "created_at": to_iso(now),
                "last_seen_at": to_iso(now),
                "client_ip": client_ip,
                "expires_at": None if lifetime is None else to_iso(now + lifetime),
                "via": via,
            }
        )
        return token, csrf

    def opened_via(self, token: str) -> str | None:
        """The provider key the session ``token`` was opened through (None: a password)."""
        row = self.db.execute(
            "SELECT via FROM sessions WHERE token_hash = ?", [token_hash(token)]
        ).fetchone()
        return None if row is None else row[0]

    def lookup(self, token: str, now: datetime) -> User | None:
        """The signed-in user for ``token``, or None when unknown, expired or disabled."""
        if not token or len(token) > 128:
            return None
        key = token_hash(token)
        row = self.db.execute(
            """SELECT s.created_at, s.last_seen_at, s.csrf_token, s.expires_at,
                      u.id, u.username, u.display_name, u.role, u.disabled
               FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?""",
            [key],
        ).fetchone()
        if row is None:
            return None
        created, seen, csrf, ends, uid, username, display, role, disabled = row
        created_at, last_seen = from_iso(created), from_iso(seen)
        capped = ends is not None and now >= from_iso(ends)
        if disabled or capped or not self.policy.is_live(created_at, last_seen, now):
            self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [key])
            return None
        if now - last_seen >= TOUCH_EVERY:
            self.db.execute(
                "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?", [to_iso(now), key]
            )
        return User(id=uid, username=username, display_name=display, role=role, csrf_token=csrf)

    def revoke(self, token: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash(token)])

    def revoke_all(self, user_id: int) -> None:
        self.db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])

    def purge_expired(self, now: datetime) -> int:
        idle_before = to_iso(now - self.policy.idle)
        created_before = to_iso(now - self.policy.absolute)
        cursor = self.db.execute(
            "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ? OR expires_at <= ?",
            [idle_before, created_before, to_iso(now)],
        )
        return cursor.rowcount
