"""The lesson page: the two-camera player (static/player.js) and the comments
(static/comments.js)."""

from __future__ import annotations

from aiohttp import web

from ..coaching import linking, reflections
from ..lessons import summary, viewings
from ..services import services_of
from .coding_pages import coding_panel
from .comment_pages import comment_panel
from .lesson_access import page_lesson
from .render import render
from .watch_view import lesson_watch

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
    trajectory = linking.trajectory_of_lesson(services.db, row["id"], user.id)
    config = services.config.reflection
    reflection = None
    if acc.manage:
        reflection = reflections.of_lesson(services.db, row["id"], user.id)
    elif trajectory is not None and row["owner_id"] is not None:  # a member reads the teacher's
        found = reflections.of_lesson(services.db, row["id"], row["owner_id"])
        if found is not None and found["state"] == "answered" and not found["private"]:
            reflection = found
    context = {
        "lesson": lesson,
        "reflection": reflection,
        "reflection_asked": acc.manage and reflections.is_asked(services.db, row, user.id, config),
        "row": row,
        "main": main,
        "second": second,
        "trajectory": trajectory,
        "open_trajectories": linking.accepting_trajectories(services.db, user.id)
        if acc.manage
        else [],
    }
    if row["state"] == "ready" and main is not None:
        context["comment_panel"] = comment_panel(request, row, acc)
        context["watch"] = lesson_watch(request, user, row, owner=acc.manage)
        context["coding_panel"] = coding_panel(request, row, acc)
    return render(request, "lesson.html", context)
