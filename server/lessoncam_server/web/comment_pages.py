"""Comments as HTML: the list under the player (refreshed by static/comments.js after a change)
and a printable page. Changes go through the JSON API (``/api/v1/lessons/{id}/comments``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from markupsafe import Markup

from ..access.permissions import Access
from ..lessons import comments
from ..services import services_of
from .lesson_access import page_lesson
from .memo import rendered
from .render import render, signed_in

routes = web.RouteTableDef()


def comment_context(request: web.Request, row: dict[str, Any], acc: Access) -> dict[str, Any]:
    """What the comment pages need: the reader's visible threads, the rendered list and the
    viewing guide."""
    services = services_of(request)
    user_id = signed_in(request).id
    guide = services.config.viewing_guide
    threads = comments.threads(services.db, row["id"], user_id, acc, guide)
    context: dict[str, Any] = {
        "threads": threads,
        "guide": comments.viewing_guide(guide),
        "access": acc,
    }
    # The list shows the threads (with each comment's rights for this reader) and the
    # reader's rights on the lesson; nothing else.
    made_of = [threads, acc.comment, acc.manage]
    context["comment_list"] = rendered(request, "_comment_list.html", context, made_of)
    return context


@routes.get("/lessons/{lesson_id}/comments/list")
async def comment_list(request: web.Request) -> web.StreamResponse:
    _user, row, acc = page_lesson(request)
    html = comment_context(request, row, acc)["comment_list"]
    return web.Response(
        text=str(html), content_type="text/html", headers={"Cache-Control": "no-store"}
    )


@routes.get("/lessons/{lesson_id}/comments/print")
async def printable(request: web.Request) -> web.StreamResponse:
    _user, row, acc = page_lesson(request)
    context = {"row": row, "lesson_id": row["id"], **comment_context(request, row, acc)}
    private_notes = request.query.get("private") == "true"  # the box ticked in the panel
    context["threads"] = comments.for_export(context["threads"], private_notes)
    return render(request, "comments_print.html", context)


# Everything the comment panel shows of each comment this reader may see, serialized by
# SQLite: a cheap, exact key for the rendered panel (any edit, reply, deletion, rename or
# visibility change alters it), so an unchanged panel costs one query, not 200 comments.
FINGERPRINT = """
SELECT count(*), group_concat(
    c.id || '|' || COALESCE(c.parent_id, '') || '|' || c.start_s || '|' || COALESCE(c.end_s, '')
    || '|' || c.visibility || '|' || c.tags || '|' || COALESCE(c.author_id, '') || '|'
    || COALESCE(u.display_name, '') || '|' || c.created_at || '|' || COALESCE(c.edited_at, '')
    || '|' || c.body, char(30))
FROM comments c LEFT JOIN users u ON u.id = c.author_id
WHERE c.recording_id = :rid AND (c.visibility = 'shared' OR c.author_id = :user)
"""


def comment_panel(request: web.Request, row: dict[str, Any], acc: Access) -> Markup:
    """The whole panel under the player (form, list, message texts), rendered once per
    distinct content."""
    services = services_of(request)
    user_id = signed_in(request).id
    fingerprint = services.db.execute(FINGERPRINT, {"rid": row["id"], "user": user_id}).fetchone()
    lesson = {"id": row["id"], "duration_s": row["duration_s"]}

    def context() -> dict[str, Any]:
        return {**comment_context(request, row, acc), "lesson": lesson}

    made_of = [lesson, tuple(fingerprint), user_id, acc.comment, acc.manage]
    return rendered(request, "_comments.html", context, made_of)
