"""The library (my lessons and lessons shared with me), renaming, describing and deleting."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from aiohttp import web

from ..coaching import reflections
from ..infra.numbers import whole_number
from ..lessons import clips, deletion
from ..lessons.library import LibraryFilter, library_page
from ..services import services_of
from . import watch_view
from .lesson_access import page_lesson
from .memo import rendered
from .render import form_of, redirect, render, signed_in

routes = web.RouteTableDef()

TITLE_MAX = 200
DESCRIPTION_MAX = 5000


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filter(query: dict[str, str]) -> LibraryFilter:
    page = query.get("page", "1")
    return LibraryFilter(
        text=query.get("q", "")[:200],
        date_from=_day(query.get("from", "")),
        date_to=_day(query.get("to", "")),
        page=whole_number(page, 6) or 1,
    )


@routes.get("/library")
async def library(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    wanted = _filter(dict(request.query))
    zone = ZoneInfo(services.config.web.timezone)
    found = library_page(services.db, user.id, services.now(), wanted, zone)
    busy = any(lesson["state"] in ("receiving", "assembling") for lesson in found.lessons)
    context = {"found": found, "wanted": wanted}
    made_of = [found.lessons, found.total, found.page, found.pages, wanted]
    lesson_list = rendered(request, "_library_list.html", context, made_of)
    asked = {
        "lessons": reflections.asked_lessons(services.db, user.id, services.config.reflection),
        "conversations": reflections.asked_conversations(services.db, user.id),
    }
    return render(
        request,
        "library.html",
        {
            **context,
            "refresh": busy,
            "lesson_list": lesson_list,
            "asked": asked,
            "watch_invitations": watch_view.invitations(request, user),
        },
    )


@routes.get("/lessons/{lesson_id}/edit")
async def edit_page(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = page_lesson(request, "manage")
    return render(request, "lesson_edit.html", {"lesson": row, "error": None})


@routes.post("/lessons/{lesson_id}/edit")
async def edit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_lesson(request, "manage")
    form = await form_of(request)
    title = form.get("title", "").strip()
    description = form.get("description", "").strip()
    if len(title) > TITLE_MAX or len(description) > DESCRIPTION_MAX:
        row = {**row, "title": title, "description": description}
        return render(request, "lesson_edit.html", {"lesson": row, "error": "too_long"}, 400)
    services.db.table("recordings").update(row["id"], {"title": title, "description": description})
    services.audit(request, user, "lesson_update", object_kind="lesson", object_id=row["id"])
    raise redirect(f"/lessons/{row['id']}", "saved")


@routes.get("/lessons/{lesson_id}/delete")
async def delete_page(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = page_lesson(request, "manage")
    context = {"lesson": row, "clips": clips.of_lesson(services_of(request).db, row["id"])}
    return render(request, "lesson_delete.html", context)


@routes.post("/lessons/{lesson_id}/delete")
async def delete(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_lesson(request, "manage")
    form = await form_of(request)
    doomed = [row["id"]]
    if form.get("with_clips") == "1":
        doomed += [c["id"] for c in clips.of_lesson(services.db, row["id"])]
    for rid in doomed:
        deletion.delete(services.db, services.paths, rid)
        services.audit(request, user, "lesson_delete", object_kind="lesson", object_id=rid)
    raise redirect("/library", "deleted")
