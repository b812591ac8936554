"""An administrator links an existing lessoncam account to a person at a provider, once:
from then on that person signs in to that account (with its lessons) instead of getting a new
one. The subject is the provider's stable id (``sub``, Entra's ``oid``): a refused sign-in's
audit line shows it, so ICT can copy it from there."""

from __future__ import annotations

from typing import Any

from ...infra.errors import Conflict, Invalid, NotFound
from ...services import Services
from .. import accounts
from ..principal import User
from . import identities


def link_account(
    services: Services,
    admin: User | None,
    username: str,
    provider_key: str,
    subject: str,
    *,
    address: str | None,
) -> dict[str, Any]:
    """Link ``username`` to ``subject`` at ``provider_key``; audited. Raises Invalid
    (``provider_unknown``, ``subject_invalid``), NotFound, or Conflict (``already_linked``:
    an account is linked once per provider; ``subject_taken``)."""
    db = services.db
    if provider_key not in {p.key for p in services.config.oidc}:
        raise Invalid("provider_unknown", f"no [[oidc]] provider with key {provider_key!r}")
    subject = subject.strip()
    if not subject or len(subject) > identities.MAX_SUBJECT_CHARS:
        raise Invalid("subject_invalid", "give the subject (sub or oid) the provider uses")
    row = accounts.find_user(db, username.strip())
    if row is None:
        raise NotFound("not_found", f"no account named {username!r}")
    if identities.linked_subject(db, provider_key, row["id"]) is not None:
        raise Conflict("already_linked", f"{row['username']} is already linked to {provider_key}")
    if identities.account_for(db, provider_key, subject) is not None:
        raise Conflict("subject_taken", "that subject already signs in to another account")
    with db.atomic():
        identities.link(db, provider_key, subject, row["id"], services.now())
        services.audit_from(
            address,
            admin,
            "account_link",
            object_kind="user",
            object_id=row["id"],
            detail={"via": provider_key, "subject": subject},
        )
    return accounts.public(row)
