"""Who may do what with a lesson and a coaching trajectory: pure policies, checked on every
request for every object.

Admins manage units and accounts but get no access to lessons through their role: only
ownership, an active share, or membership of the open trajectory the lesson is in (with the
parents' consent naming her) opens a lesson. The library's one query (``lessons/library.py``)
applies the same rule in SQL.
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
MEMBER_ACCESS = Access(view=True, comment=True)


@dataclass(frozen=True, slots=True)
class TrajectoryFacts:
    """A coaching trajectory as the policies read it: whose it is, its status, who accepted
    its invitation and is still in it (``members``), who is invited and has not answered, and
    whom the parents' consent in force names as allowed to watch (``watchers``)."""

    teacher_id: int
    status: str  # intake, running, closed
    members: frozenset[int] = frozenset()
    invited: frozenset[int] = frozenset()
    watchers: frozenset[int] = frozenset()

    @property
    def open(self) -> bool:
        return self.status != "closed"

    def opens_lessons_to(self, user_id: int, owner_id: int) -> bool:
        """A member sees and comments on the trajectory's lessons while it is open and the
        parents' consent names her; only the teacher's own lessons count (a lesson that
        changed hands is nobody's business)."""
        return (
            self.open
            and owner_id == self.teacher_id
            and user_id in self.members
            and user_id in self.watchers
        )


def lesson_access(
    user_id: int,
    owner_id: int | None,
    shares: Iterable[ShareFacts],
    now: datetime,
    trajectory: TrajectoryFacts | None = None,
) -> Access:
    """The access ``user_id`` has to a lesson owned by ``owner_id`` with the given shares, in
    ``trajectory`` (or in none)."""
    if owner_id is None:
        return NO_ACCESS  # waiting for an admin to assign it: visible to no one
    if user_id == owner_id:
        return OWNER_ACCESS
    if trajectory is not None and trajectory.opens_lessons_to(user_id, owner_id):
        return MEMBER_ACCESS
    best = NO_ACCESS
    for share in shares:
        if share.user_id == user_id and share.active(now):
            best = Access(view=True, comment=best.comment or share.role == "commenter")
    return best


@dataclass(frozen=True, slots=True)
class TrajectoryAccess:
    view: bool = False  # the trajectory page: its pupil, steps, members and lessons
    contribute: bool = False  # add to its steps (analysis, conversations) while it is open
    manage: bool = False  # the teacher: edit, invite, consent, link lessons, close
    respond: bool = False  # an open invitation: accept or decline (sees the title only)


NO_TRAJECTORY_ACCESS = TrajectoryAccess()


def trajectory_access(user_id: int, facts: TrajectoryFacts) -> TrajectoryAccess:
    """What ``user_id`` may do with the trajectory ``facts`` describe. Members who left or were
    removed, and everyone else (admins too), get nothing."""
    if user_id == facts.teacher_id:
        return TrajectoryAccess(view=True, contribute=facts.open, manage=True)
    if user_id in facts.members:
        return TrajectoryAccess(view=True, contribute=facts.open)
    if user_id in facts.invited and facts.open:
        return TrajectoryAccess(respond=True)
    return NO_TRAJECTORY_ACCESS
