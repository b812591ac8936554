"""Signing in and out, and changing one's own password: the login throttle, the session and the
audit entries, one implementation for the JSON API and the pages.

Two ways in open the same kind of session: a username and password (:func:`sign_in`) and the
school's OpenID Provider (:func:`sign_in_with_provider`, after the web adapter checked the
provider's answer; issue 17).

The adapters set or clear the session cookie and show the errors: ``throttled``
(:class:`~..infra.errors.Throttled`), ``bad_credentials``, ``local_sign_in_off``,
``passwords_differ``, ``weak_password``, and :class:`ProviderSignInRefused` with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..infra.errors import BadCredentials, Forbidden, Invalid, Throttled
from ..services import Services
from . import accounts
from .oidc import identities
from .oidc.settings import ProviderSettings
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
        _denied(services, username, address, "throttled")
        raise Throttled(
            "throttled",
            f"too many failed sign-ins; try again in {int(wait) + 1} seconds",
            retry_after_s=wait,
        )
    rule = services.config.sign_in
    if not rule.local and username.lower() not in {n.lower() for n in rule.break_glass}:
        _local_off(services, username, address)
    row = accounts.authenticate(services.db, username, password)
    if row is None:
        services.throttle.failed(username, address, now)
        services.audit_from(address, None, "login", outcome="failed", actor_name=username)
        raise BadCredentials("bad_credentials", "wrong username or password")
    services.throttle.succeeded(username)
    if not rule.local and row["role"] != "admin":
        _local_off(services, username, address)  # break glass is for administrators only
    return _open_session(services, row, address=address, previous_token=previous_token)


def _denied(services: Services, username: str, address: str, reason: str) -> None:
    """Audit a password sign-in refused by a rule (the throttle, local sign-in off)."""
    services.audit_from(
        address, None, "login", outcome="denied", actor_name=username, detail={"reason": reason}
    )


def _local_off(services: Services, username: str, address: str) -> None:
    _denied(services, username, address, "local_sign_in_off")
    raise Forbidden(
        "local_sign_in_off", "password sign-in is off; sign in with your school account"
    )


def _open_session(
    services: Services,
    row: Mapping[str, Any],
    *,
    address: str,
    previous_token: str | None,
    via: str | None = None,
    lifetime: timedelta | None = None,
) -> SignedIn:
    """The one place a session opens: the session from before sign-in ends, the new one is
    audited (with the provider it came through)."""
    if previous_token:
        services.sessions.revoke(previous_token)
    token, csrf = services.sessions.create(
        row["id"], address, services.now(), via=via, lifetime=lifetime
    )
    services.audit_from(
        address,
        None,
        "login",
        actor_name=row["username"],
        object_kind="user",
        object_id=row["id"],
        detail={"via": via} if via else None,
    )
    return SignedIn(user_id=row["id"], token=token, csrf_token=csrf)


class ProviderSignInRefused(Forbidden):
    """A sign-in through a provider was refused; ``code`` is the reason (also in the audit
    log): a bad answer, a claim missing, an account disabled or not allowed to be made."""


def refuse_provider_sign_in(
    services: Services,
    provider: str,
    reason: str,
    *,
    address: str,
    outcome: str = "denied",
    detail: Mapping[str, Any] | None = None,
) -> ProviderSignInRefused:
    """Audit a refused sign-in through ``provider`` (before any account was touched) and
    return the error to raise. ``detail`` holds nothing secret: never a code or a token."""
    services.audit_from(
        address,
        None,
        "login",
        outcome="denied" if outcome == "denied" else "failed",
        actor_name=f"oidc:{provider}",
        detail={"via": provider, "reason": reason, **(detail or {})},
    )
    return ProviderSignInRefused(reason, f"sign-in through {provider} refused: {reason}")


def sign_in_with_provider(
    services: Services,
    provider: ProviderSettings,
    claims: Mapping[str, Any],
    *,
    address: str,
    previous_token: str | None = None,
) -> SignedIn:
    """Open a session for the person the provider vouched for in verified ID token
    ``claims``: her linked account, or a new one when the entry allows it (just in time),
    with the role her groups give at this sign-in. Every refusal is audited and leaves
    accounts as they were. Raises ProviderSignInRefused."""
    try:
        person = identities.identity_from(provider, claims)
    except identities.ClaimsRefused as exc:
        raise refuse_provider_sign_in(
            services, provider.key, exc.reason, address=address, detail={"claim": exc.claim}
        ) from None
    db, now = services.db, services.now()
    who = {"subject": person.subject}  # how ICT links an account (never a secret)
    row = identities.account_for(db, provider.key, person.subject)
    if row is None and not provider.create_accounts:
        raise refuse_provider_sign_in(
            services, provider.key, "no_account", address=address, detail=who
        )
    if row is not None and row["disabled"]:
        raise refuse_provider_sign_in(
            services, provider.key, "account_disabled", address=address, detail=who
        )
    with db.atomic():
        if row is None:
            row = _create_account(services, provider, person, address)
        elif person.role is not None and person.role != row["role"]:
            accounts.update_user(db, services.sessions, row["id"], {"role": person.role})
            services.audit_from(
                address,
                None,
                "user_update",
                actor_name=f"oidc:{provider.key}",
                object_kind="user",
                object_id=row["id"],
                detail={"via": provider.key, "role": [row["role"], person.role]},
            )
            row = {**row, "role": person.role}
        if person.display_name and person.display_name != row["display_name"]:
            db.table("users").update(row["id"], {"display_name": person.display_name})
        identities.signed_in(db, provider.key, person.subject, now)
    lifetime = min(timedelta(hours=provider.session_hours), services.sessions.policy.absolute)
    return _open_session(
        services,
        row,
        address=address,
        previous_token=previous_token,
        via=provider.key,
        lifetime=lifetime,
    )


def _create_account(
    services: Services, provider: ProviderSettings, person: identities.Identity, address: str
) -> dict[str, Any]:
    """A just-in-time account, linked to the subject. Its password is random and never
    shown: the person signs in through the provider."""
    db, now = services.db, services.now()
    username = identities.free_username(db, person, provider.key)
    role = person.role or (
        provider.default_role if provider.default_role != "refuse" else "teacher"
    )
    made = accounts.create_user(
        db, username, accounts.generate_password() * 2, role, now, person.display_name or None
    )
    identities.link(db, provider.key, person.subject, made["id"], now)
    services.audit_from(
        address,
        None,
        "user_create",
        actor_name=f"oidc:{provider.key}",
        object_kind="user",
        object_id=made["id"],
        detail={"via": provider.key, "role": role, "subject": person.subject},
    )
    row = accounts.get_user(db, made["id"])
    assert row is not None
    return row


def sign_out(services: Services, user: User, token: str, *, address: str) -> str | None:
    """End the session ``token`` of ``user``. Returns the provider the session was opened
    through (its sign-out may be offered too), or None."""
    via = services.sessions.opened_via(token)
    services.sessions.revoke(token)
    services.audit_from(address, user, "logout", detail={"via": via} if via else None)
    return via


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
