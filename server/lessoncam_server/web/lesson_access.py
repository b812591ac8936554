"""Finding the lesson a page is about, with the same per-request access check as the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import lessons, recordings
from ..paths import RECORDING_ID
from ..permissions import Access
from ..principal import User
from ..services import services_of
from .i18n import N_
from .render import PageError, lesson_unavailable, signed_in


def page_lesson(request: web.Request, need: str = "view") -> tuple[User, dict[str, Any], Access]:
    """The lesson in the URL if the signed-in person may ``need`` (view/comment/manage) it."""
    services = services_of(request)
    user = signed_in(request)
    rid = request.match_info["lesson_id"]
    row = recordings.get(services.db, rid) if RECORDING_ID.fullmatch(rid) else None
    acc = lessons.access(services.db, user.id, row, services.now()) if row else None
    if row is None or acc is None or not acc.view:
        services.audit(
            request,
            user,
            "access_denied",
            outcome="denied",
            object_kind="lesson",
            object_id=rid[:64],
            detail={"path": request.path},
        )
        raise lesson_unavailable()
    if not getattr(acc, need):
        services.audit(
            request,
            user,
            "access_denied",
            outcome="denied",
            object_kind="lesson",
            object_id=rid,
            detail={"need": need},
        )
        raise PageError(403, N_("Only the owner of this lesson may do this."))
    return user, row, acc
