"""Signing in and out, and changing one's own password: the login throttle, the session and the
audit entries, one implementation for the JSON API and the pages.

The adapters set or clear the session cookie and show the errors: ``throttled``
(:class:`~..infra.errors.Throttled`), ``bad_credentials``, ``passwords_differ`` and
``weak_password``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..infra.errors import BadCredentials, Invalid, Throttled
from ..services import Services
from . import accounts
from .passwords import verify_password
from .principal import User


@dataclass(frozen=True)
class SignedIn:
    """A new session: its token goes into the cookie, its CSRF token to the client."""

    user_id: int
    token: str
    csrf_token: str


def sign_in(
    services: Services,
    username: str,
    password: str,
    *,
    address: str,
    previous_token: str | None = None,
) -> SignedIn:
    """Open a session for ``username`` if ``password`` is right and the throttle allows a try
    from ``address``. The session that ``previous_token`` opened (if any) ends: a token from
    before sign-in is never kept. Raises Throttled or BadCredentials."""
    now = services.now()
    wait = services.throttle.retry_after(username, address, now)
    if wait is not None:
        services.audit_from(
            address,
            None,
            "login",
            outcome="denied",
            actor_name=username,
            detail={"reason": "throttled"},
        )
        raise Throttled(
            "throttled",
            f"too many failed sign-ins; try again in {int(wait) + 1} seconds",
            retry_after_s=wait,
        )
    row = accounts.authenticate(services.db, username, password)
    if row is None:
        services.throttle.failed(username, address, now)
        services.audit_from(address, None, "login", outcome="failed", actor_name=username)
        raise BadCredentials("bad_credentials", "wrong username or password")
    services.throttle.succeeded(username)
    if previous_token:
        services.sessions.revoke(previous_token)
    token, csrf = services.sessions.create(row["id"], address, now)
    services.audit_from(
        address, None, "login", actor_name=row["username"], object_kind="user", object_id=row["id"]
    )
    return SignedIn(user_id=row["id"], token=token, csrf_token=csrf)


def sign_out(services: Services, user: User, token: str, *, address: str) -> None:
    """End the session ``token`` of ``user``."""
    services.sessions.revoke(token)
    services.audit_from(address, user, "logout")


def change_password(
    services: Services,
    user: User,
    current: str,
    new: str,
    *,
    address: str,
    repeated: str | None = None,
) -> SignedIn:
    """Set ``user``'s password to ``new`` when ``current`` is right (and, from a form that asks
    twice, ``repeated`` is the same), sign her out everywhere and open a fresh session for this
    client. Raises BadCredentials, Invalid (``passwords_differ``) or WeakPassword."""
    row = accounts.get_user(services.db, user.id)
    if row is None or not verify_password(row["password_hash"], current):
        services.audit_from(address, user, "password_change", outcome="failed")
        raise BadCredentials("bad_credentials", "the current password is wrong", status=400)
    if repeated is not None and repeated != new:
        raise Invalid(
            "passwords_differ", "the two new passwords differ; type the same password twice"
        )
    accounts.set_password(services.db, user.id, new, services.now())
    services.sessions.revoke_all(user.id)
    token, csrf = services.sessions.create(user.id, address, services.now())
    services.audit_from(address, user, "password_change")
    return SignedIn(user_id=user.id, token=token, csrf_token=csrf)
