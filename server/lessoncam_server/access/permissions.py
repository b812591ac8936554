"""Who may do what with a lesson: a pure policy, checked on every request for every object.

Admins manage units and accounts but get no access to lessons through their role: only
ownership or an active share opens a lesson.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ShareRole = Literal["viewer", "commenter"]


@dataclass(frozen=True, slots=True)
class ShareFacts:
    user_id: int
    role: ShareRole
    expires_at: datetime | None
    revoked_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class Access:
    view: bool = False
    comment: bool = False
    manage: bool = False  # rename, share, delete, download

    @property
    def any(self) -> bool:
        return self.view


NO_ACCESS = Access()
OWNER_ACCESS = Access(view=True, comment=True, manage=True)


def lesson_access(
    user_id: int, owner_id: int | None, shares: Iterable[ShareFacts], now: datetime
) -> Access:
    """The access ``user_id`` has to a lesson owned by ``owner_id`` with the given shares."""
    if owner_id is None:
        return NO_ACCESS  # waiting for an admin to assign it: visible to no one
    if user_id == owner_id:
        return OWNER_ACCESS
    best = NO_ACCESS
    for share in shares:
        if share.user_id == user_id and share.active(now):
            best = Access(view=True, comment=best.comment or share.role == "commenter")
    return best
