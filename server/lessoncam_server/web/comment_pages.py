"""Comments as HTML: the list under the player (refreshed by static/comments.js after a change)
and a printable page. Changes go through the JSON API (``/api/v1/lessons/{id}/comments``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import comments
from ..permissions import Access
from ..services import services_of
from .lesson_access import page_lesson
from .render import render, signed_in

routes = web.RouteTableDef()


def comment_context(request: web.Request, row: dict[str, Any], acc: Access) -> dict[str, Any]:
    """What the comment list needs: the caller's visible threads and the viewing guide."""
    services = services_of(request)
    user_id = signed_in(request).id
    guide = services.config.viewing_guide
    return {
        "threads": comments.threads(services.db, row["id"], user_id, acc, guide),
        "guide": comments.viewing_guide(guide),
        "access": acc,
    }


@routes.get("/lessons/{lesson_id}/comments/list")
async def comment_list(request: web.Request) -> web.StreamResponse:
    _user, row, acc = page_lesson(request)
    context = {"lesson_id": row["id"], **comment_context(request, row, acc)}
    return render(request, "_comment_list.html", context)


@routes.get("/lessons/{lesson_id}/comments/print")
async def printable(request: web.Request) -> web.StreamResponse:
    _user, row, acc = page_lesson(request)
    context = {"row": row, "lesson_id": row["id"], **comment_context(request, row, acc)}
    return render(request, "comments_print.html", context)
