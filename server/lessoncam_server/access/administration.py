"""Account administration: what an administrator does to accounts, with its rules and its
audit entries, one implementation for the JSON API and the admin pages.

``admin`` is None for ICT on the server's own command line (``lessoncam-server user``): the
same rules and audit entries, with no actor and no address.

Refusals: :class:`~.accounts.AccountError` (``role_unknown``, ``username_invalid``,
``username_taken``), :class:`~.passwords.WeakPassword`, ``self_lockout`` and ``not_found``.
"""

from __future__ import annotations

from typing import Any, cast

from ..infra.errors import Invalid, NotFound
from ..infra.numbers import whole_number
from ..services import Services
from . import accounts
from .principal import Role, User


def _existing(services: Services, user_id: str) -> dict[str, Any]:
    """The account ``user_id`` (as given in a URL)."""
    number = whole_number(user_id, 12)
    row = None if number is None else accounts.get_user(services.db, number)
    if row is None:
        raise NotFound("not_found", "no such user, or you have no access to it")
    return row


def create_account(
    services: Services,
    admin: User | None,
    username: str,
    role: str,
    *,
    password: str | None = None,
    display_name: str | None = None,
    address: str | None,
) -> tuple[dict[str, Any], str | None]:
    """``admin`` creates an account (``create_user`` checks the role, the username and the
    password); audited. Without a ``password`` one is generated.
    Returns the account (its public fields) and the generated password, to be shown once."""
    generated = None if password else accounts.generate_password()
    user = accounts.create_user(
        services.db,
        username,
        password or str(generated),
        cast(Role, role),
        services.now(),
        display_name,
    )
    services.audit_from(
        address,
        admin,
        "user_create",
        object_kind="user",
        object_id=user["id"],
        detail={"role": role},
    )
    return user, generated


def update_account(
    services: Services,
    admin: User | None,
    user_id: str,
    changes: dict[str, Any],
    *,
    address: str | None,
) -> dict[str, Any]:
    """``admin`` renames, changes the role of, disables or enables account ``user_id``
    (``changes``: ``display_name``, ``role``, ``disabled``); audited. Disabling ends every
    session of the account. An admin cannot disable herself or drop her own admin role
    (``self_lockout``). Returns the account's public fields."""
    row = _existing(services, user_id)
    if (
        admin is not None
        and row["id"] == admin.id
        and (changes.get("disabled") or changes.get("role", "admin") != "admin")
    ):
        raise Invalid(
            "self_lockout", "you cannot disable yourself or drop your admin role", status=400
        )
    accounts.update_user(services.db, services.sessions, row["id"], changes)
    services.audit_from(
        address, admin, "user_update", object_kind="user", object_id=row["id"], detail=changes
    )
    return accounts.public(accounts.get_user(services.db, row["id"]) or {})


def reset_password(
    services: Services,
    admin: User | None,
    user_id: str,
    *,
    address: str | None,
    password: str | None = None,
) -> tuple[dict[str, Any], str]:
    """``admin`` gives account ``user_id`` a new password (``password``, or a random one) and
    signs it out everywhere; audited. Returns the account's public fields and the password,
    to be shown once."""
    row = _existing(services, user_id)
    password = password or accounts.generate_password()
    accounts.set_password(services.db, row["id"], password, services.now())
    services.sessions.revoke_all(row["id"])
    services.audit_from(address, admin, "password_reset", object_kind="user", object_id=row["id"])
    return accounts.public(row), password
