"""The lesson page: the two-camera player (its behaviour lives in static/player.js)."""

from __future__ import annotations

from aiohttp import web

from .. import lessons
from ..services import services_of
from .lesson_access import page_lesson
from .render import render

routes = web.RouteTableDef()


@routes.get("/lessons/{lesson_id}")
async def lesson_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_lesson(request)
    services.audit(request, user, "lesson_view", object_kind="lesson", object_id=row["id"])
    lesson = lessons.summary(services.db, row, user.id, acc)
    playable = [c for c in lesson["cameras"] if c["video_url"]]
    main = next((c for c in playable if c["role"] == "main"), playable[0] if playable else None)
    second = next((c for c in playable if c is not main), None)
    return render(
        request,
        "lesson.html",
        {"lesson": lesson, "row": row, "main": main, "second": second},
    )
