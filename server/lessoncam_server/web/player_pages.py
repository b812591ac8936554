"""The lesson page: the two-camera player (static/player.js) and the comments
(static/comments.js)."""

from __future__ import annotations

from aiohttp import web

from ..lessons import summary, viewings
from ..services import services_of
from .comment_pages import comment_panel
from .lesson_access import page_lesson
from .render import render

routes = web.RouteTableDef()


@routes.get("/lessons/{lesson_id}")
async def lesson_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_lesson(request)
    viewings.record_open(services, request, user, row)
    lesson = summary.summary(services.db, row, user.id, acc)
    playable = [c for c in lesson["cameras"] if c["video_url"]]
    main = next((c for c in playable if c["role"] == "main"), playable[0] if playable else None)
    second = next((c for c in playable if c is not main), None)
    context = {"lesson": lesson, "row": row, "main": main, "second": second}
    if row["state"] == "ready" and main is not None:
        context["comment_panel"] = comment_panel(request, row, acc)
    return render(request, "lesson.html", context)
