"""Finding the lesson a page is about, with the same per-request access check as the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..access.permissions import Access
from ..access.principal import User
from ..lessons.guard import LessonDenied, checked_lesson
from .i18n import N_
from .render import PageError, lesson_unavailable, signed_in


def page_lesson(request: web.Request, need: str = "view") -> tuple[User, dict[str, Any], Access]:
    """The lesson in the URL if the signed-in person may ``need`` (view/comment/manage) it."""
    user = signed_in(request)
    try:
        row, acc = checked_lesson(request, user, need)
    except LessonDenied as denied:
        if denied.why == "missing":
            raise lesson_unavailable() from None
        raise PageError(403, N_("Only the owner of this lesson may do this.")) from None
    return user, row, acc
