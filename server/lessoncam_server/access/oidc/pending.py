"""Authorizations under way: the ``state``, ``nonce`` and PKCE verifier of each sign-in that
was sent to a provider and has not come back yet.

``state`` is stored as a hash and consumed once, so a replayed or forged callback finds
nothing. The browser that started the sign-in holds a second random value in a cookie
(``BROWSER_COOKIE``): a callback carrying someone else's ``state`` (login CSRF) is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlite_utils import Database

from ...infra.timeutil import to_iso

BROWSER_COOKIE = "lessoncam_oidc"
# Long enough to type a password and answer a second factor at the provider.
LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class Started:
    """What goes to the provider (state, nonce, challenge) and into the browser's cookie."""

    state: str
    nonce: str
    code_challenge: str
    browser_secret: str


@dataclass(frozen=True)
class Pending:
    """An authorization that came back: what the callback checks the answer against."""

    provider: str
    nonce: str
    code_verifier: str
    next_path: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def begin(db: Database, provider: str, next_path: str, now: datetime) -> Started:
    """Record a new authorization for ``provider``; forget those that have run out."""
    state, nonce, browser = (secrets.token_urlsafe(32) for _ in range(3))
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 wants 43-128
    db.execute("DELETE FROM oidc_pending WHERE created_at < ?", [to_iso(now - LIFETIME)])
    db.table("oidc_pending").insert(
        {
            "state_hash": _hash(state),
            "browser_hash": _hash(browser),
            "provider": provider,
            "nonce": nonce,
            "code_verifier": verifier,
            "next_path": next_path,
            "created_at": to_iso(now),
        }
    )
    return Started(state, nonce, create_s256_code_challenge(verifier), browser)


def consume(
    db: Database, provider: str, state: str, browser_secret: str, now: datetime
) -> Pending | None:
    """The authorization ``state`` names, once: None when it is unknown, used, run out, for
    another provider, or was started in another browser."""
    if not state or len(state) > 200 or not browser_secret or len(browser_secret) > 200:
        return None
    key = _hash(state)
    row = db.execute(
        "SELECT browser_hash, provider, nonce, code_verifier, next_path, created_at "
        "FROM oidc_pending WHERE state_hash = ?",
        [key],
    ).fetchone()
    if row is None:
        return None
    db.execute("DELETE FROM oidc_pending WHERE state_hash = ?", [key])  # never twice
    browser_hash, owner, nonce, verifier, next_path, created = row
    if owner != provider or not secrets.compare_digest(browser_hash, _hash(browser_secret)):
        return None
    if created < to_iso(now - LIFETIME):
        return None
    return Pending(owner, nonce, verifier, next_path)
