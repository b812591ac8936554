"""Which lessoncam account a provider's person is, and with which role.

Matched on the provider's stable subject (``sub``, or Entra's ``oid``) through the
``oidc_identities`` table, never on an e-mail address. The role comes from the groups claim
when the provider's entry maps groups, at every sign-in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from ...infra.db import query_row
from ...infra.timeutil import to_iso
from ..accounts import USERNAME, find_user
from .settings import ProviderSettings, Role

MAX_SUBJECT_CHARS = 255


class ClaimsRefused(Exception):
    """The claims do not let this person in: ``reason`` (``missing_claim``, ``requirement``,
    ``no_group``) and the ``claim`` concerned, for the audit log."""

    def __init__(self, reason: str, claim: str) -> None:
        super().__init__(f"{reason}: {claim}")
        self.reason = reason
        self.claim = claim


@dataclass(frozen=True)
class Identity:
    """A person as the provider describes her; ``role`` None leaves the account's role alone."""

    subject: str
    display_name: str
    username_hint: str
    role: Role | None


def identity_from(settings: ProviderSettings, claims: Mapping[str, Any]) -> Identity:
    """Read the person from verified ID token ``claims``; ClaimsRefused when a claim the
    entry needs is missing, a required value differs, or no group gives a role."""
    subject = claims.get(settings.subject_claim)
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_CHARS:
        raise ClaimsRefused("missing_claim", settings.subject_claim)
    for claim, wanted in sorted(settings.require.items()):
        if claim not in claims:
            raise ClaimsRefused("missing_claim", claim)
        if claims[claim] != wanted:
            raise ClaimsRefused("requirement", claim)
    role: Role | None = None
    if settings.maps_roles:
        groups = claims.get(settings.groups_claim)
        if groups is None:
            # A token without the claim must not quietly demote (or promote) anyone.
            raise ClaimsRefused("missing_claim", settings.groups_claim)
        found = role_for(settings, groups if isinstance(groups, list) else [groups])
        if found is None:
            raise ClaimsRefused("no_group", settings.groups_claim)
        role = found
    elif settings.default_role == "refuse":
        raise ClaimsRefused("no_group", settings.groups_claim)
    name = _text(claims.get(settings.name_claim))
    hint = _text(claims.get(settings.username_claim)) or _text(claims.get("email"))
    return Identity(subject, name[:120], hint, role)


def role_for(settings: ProviderSettings, groups: list[Any]) -> Role | None:
    """The highest role one of ``groups`` gives, else the default (None: refused)."""
    names = {str(g) for g in groups}
    for role, mapped in (
        ("admin", settings.admin_groups),
        ("coach", settings.coach_groups),
        ("teacher", settings.teacher_groups),
    ):
        if names.intersection(mapped):
            return role  # type: ignore[return-value]
    return None if settings.default_role == "refuse" else settings.default_role


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def account_for(db: Database, provider: str, subject: str) -> dict[str, Any] | None:
    """The account linked to ``subject`` at ``provider``, or None."""
    return query_row(
        db,
        "SELECT u.* FROM oidc_identities i JOIN users u ON u.id = i.user_id "
        "WHERE i.provider = ? AND i.subject = ?",
        [provider, subject],
    )


def linked_subject(db: Database, provider: str, user_id: int) -> str | None:
    row = db.execute(
        "SELECT subject FROM oidc_identities WHERE provider = ? AND user_id = ?",
        [provider, user_id],
    ).fetchone()
    return None if row is None else str(row[0])


def links_of(db: Database, user_id: int) -> list[dict[str, Any]]:
    cursor = db.execute(
        "SELECT provider, subject, linked_at, last_sign_in_at FROM oidc_identities "
        "WHERE user_id = ? ORDER BY provider",
        [user_id],
    )
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def link(db: Database, provider: str, subject: str, user_id: int, now: datetime) -> None:
    db.table("oidc_identities").insert(
        {"provider": provider, "subject": subject, "user_id": user_id, "linked_at": to_iso(now)}
    )


def signed_in(db: Database, provider: str, subject: str, now: datetime) -> None:
    db.execute(
        "UPDATE oidc_identities SET last_sign_in_at = ? WHERE provider = ? AND subject = ?",
        [to_iso(now), provider, subject],
    )


def free_username(db: Database, identity: Identity, provider: str) -> str:
    """A username for a new account: the hint made valid, numbered when taken. A taken name
    is never the person's own account (that would be matching on a name)."""
    base = re.sub(r"[^a-z0-9._@-]+", "-", identity.username_hint.lower()).strip("-._@")[:56]
    if not USERNAME.fullmatch(base):
        digest = hashlib.sha256(f"{provider}\0{identity.subject}".encode()).hexdigest()[:10]
        base = f"{provider}-{digest}"
    candidate, number = base, 1
    while find_user(db, candidate) is not None:
        number += 1
        candidate = f"{base}-{number}"
    return candidate
