"""The per-request check on a lesson named in a URL, shared by the JSON API and the pages:
find it, check the caller's access, and audit every denial. The caller turns a denial into
its own answer (a JSON 404/403, or a page in the reader's language)."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web

from ..access.permissions import Access
from ..access.principal import User
from ..infra.paths import RECORDING_ID
from ..services import services_of
from ..units import recordings
from . import library


class LessonDenied(Exception):
    """``missing``: no such lesson for this caller (never says which); ``forbidden``: the
    caller may view it but not do ``need``."""

    def __init__(self, why: Literal["missing", "forbidden"], need: str) -> None:
        super().__init__(why)
        self.why = why
        self.need = need


def checked_lesson(
    request: web.Request, user: User, need: str = "view", *, lesson_id: str | None = None
) -> tuple[dict[str, Any], Access]:
    """The lesson in the URL (or ``lesson_id``, as a form gave it) and the caller's access, if
    it allows ``need``."""
    services = services_of(request)
    rid = request.match_info["lesson_id"] if lesson_id is None else lesson_id
    row = recordings.get(services.db, rid) if RECORDING_ID.fullmatch(rid) else None
    acc = library.access(services.db, user.id, row, services.now()) if row else None
    if row is None or acc is None or not acc.view:
        detail: dict[str, Any] = {"path": request.path}
        why: Literal["missing", "forbidden"] = "missing"
    elif not getattr(acc, need):
        detail, why = {"need": need}, "forbidden"
    else:
        return row, acc
    services.audit(
        request,
        user,
        "access_denied",
        outcome="denied",
        object_kind="lesson",
        object_id=rid[:64],
        detail=detail,
    )
    raise LessonDenied(why, need)
