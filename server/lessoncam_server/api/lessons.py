"""Lessons for people: the library, one lesson, its media (with Range), rename and delete.

Every handler looks the lesson up and checks the caller's access on every request: there is
no URL that serves a lesson's bytes without that check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from ..access.permissions import Access
from ..access.principal import User
from ..infra.paths import CAMERA_ID
from ..lessons import clips, deletion, summary, viewings
from ..lessons.guard import LessonDenied, checked_lesson
from ..lessons.library import visible_lessons
from ..media.store import StoreUnavailable
from ..services import services_of
from ..units import recordings
from .bucket_response import bucket_media, store_down
from .media_response import MediaFile, refuse_unsatisfiable
from .support import (
    ApiRoutes,
    forbidden,
    json_response,
    not_found,
    parse_query,
    read_body,
    require_user,
)

routes = ApiRoutes("lessons")


class LessonChange(BaseModel):
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)


def lesson_for(request: web.Request, need: str = "view") -> tuple[User, dict[str, Any], Access]:
    """The lesson named in the URL if the caller may ``need`` (view/comment/manage) it."""
    user = require_user(request)
    try:
        row, acc = checked_lesson(request, user, need)
    except LessonDenied as denied:
        if denied.why == "missing":
            raise not_found("lesson") from None
        raise forbidden(f"you may view this lesson but not {need} it") from None
    return user, row, acc


def _media_file(request: web.Request, row: dict[str, Any], kind: str) -> Path:
    services = services_of(request)
    if row["state"] != "ready":
        raise not_found("video (the lesson is not ready yet)")
    version = row["media_version"]
    if kind == "poster":
        return services.paths.poster(row["id"], version)
    camera = request.match_info["camera"]
    media = (
        summary.media_of(services.db, row["id"]).get(camera)
        if CAMERA_ID.fullmatch(camera)
        else None
    )
    if media is None:
        raise not_found("camera")
    if kind == "video":
        return services.paths.video(row["id"], camera, version)
    return services.paths.thumbnails(row["id"], camera, version)


async def _file(
    request: web.Request, row: dict[str, Any], path: Path, content_type: str, **headers: str
) -> web.StreamResponse:
    """The media file ``path`` of ``row`` from the store that holds the lesson."""
    # no-store: a lesson must not linger in a shared school laptop's cache. Never compressed,
    # so sendfile serves it and Range offsets stay byte offsets.
    answer = {"Cache-Control": "no-store", "Content-Type": content_type, **headers}
    try:
        store = services_of(request).stores.of(row)
    except StoreUnavailable as exc:
        raise store_down(exc) from None
    if store.kind != "local":
        return await bucket_media(request, store, row["id"], path.name, answer)
    if content_type == "video/mp4":
        refuse_unsatisfiable(request, path)
    return MediaFile(path, answer)


class LibraryQuery(BaseModel):
    limit: int = Field(100, ge=1, le=500, description="Lessons per page, newest first.")
    offset: int = Field(0, ge=0, description="Lessons to skip (a page's next_offset).")


@routes.route(
    "GET",
    "/lessons",
    summary="My lessons and the lessons shared with me, newest first, a page at a time",
    auth="user",
    query=LibraryQuery,
)
async def library(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    q = parse_query(request, LibraryQuery)
    found, total = visible_lessons(
        services.db, user.id, services.now(), limit=q.limit, offset=q.offset
    )
    # Summaries (a few queries each) only for the page asked for.
    out = [summary.summary(services.db, row, user.id, acc) for row, acc in found]
    more = q.offset + len(found) < total
    return json_response(
        {"lessons": out, "total": total, "next_offset": q.offset + len(found) if more else None}
    )


@routes.route(
    "GET",
    "/lessons/{lesson_id}",
    summary="One lesson (logged as a view)",
    auth="user",
    responses={200: "The lesson", 404: "No such lesson or no access"},
)
async def lesson_detail(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request)
    viewings.record_open(services, request, user, row)
    return json_response(summary.summary(services.db, row, user.id, acc))


@routes.route(
    "PATCH",
    "/lessons/{lesson_id}",
    summary="Rename or describe my lesson",
    auth="user",
    body=LessonChange,
    responses={200: "Changed", 403: "Not the owner", 404: "No such lesson"},
)
async def update_lesson(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = lesson_for(request, "manage")
    body = await read_body(request, LessonChange)
    changes = body.model_dump(exclude_none=True)
    if changes:
        services.db.table("recordings").update(row["id"], changes)
    services.audit(request, user, "lesson_update", object_kind="lesson", object_id=row["id"])
    fresh = recordings.get(services.db, row["id"]) or row
    return json_response(summary.summary(services.db, fresh, user.id, acc))


@routes.route(
    "DELETE",
    "/lessons/{lesson_id}",
    summary="Delete my lesson and all its files (?with_clips=1: its clips too)",
    auth="user",
    responses={204: "Deleted", 403: "Not the owner", 404: "No such lesson"},
)
async def delete_lesson(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = lesson_for(request, "manage")
    doomed = [row["id"]]
    if request.query.get("with_clips") == "1":
        doomed += [c["id"] for c in clips.of_lesson(services.db, row["id"])]
    for rid in doomed:
        if services.assembler is not None:
            services.assembler.forget(rid)
        deletion.delete(services.db, services.paths, rid)
        services.audit(request, user, "lesson_delete", object_kind="lesson", object_id=rid)
    return web.Response(status=204)


@routes.route(
    "GET",
    "/lessons/{lesson_id}/cameras/{camera}/video",
    summary="One camera's MP4, with Range support; ?download=1 to save it (owner)",
    auth="user",
    content="video/mp4",
    responses={
        200: "Whole file",
        206: "A range",
        304: "Not modified",
        307: "With [storage.s3] presigned: to the bucket, for at most 60 s",
        404: "No such lesson, camera or not ready",
        416: "Range not satisfiable",
        503: "The lesson is in the bucket and the bucket cannot be reached (Retry-After)",
    },
)
async def video(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    download = request.query.get("download") == "1"
    user, row, _acc = lesson_for(request, "manage" if download else "view")
    path = _media_file(request, row, "video")
    if download:
        if request.method == "GET":  # a HEAD only asks how big it is
            services.audit(
                request,
                user,
                "lesson_download",
                object_kind="lesson",
                object_id=row["id"],
                detail={"camera": request.match_info["camera"]},
            )
        name = f"lesson-{row['started_at'][:10]}-{request.match_info['camera']}.mp4"
        disposition = f'attachment; filename="{name}"'
        return await _file(request, row, path, "video/mp4", **{"Content-Disposition": disposition})
    return await _file(request, row, path, "video/mp4")


@routes.route(
    "GET",
    "/lessons/{lesson_id}/poster.jpg",
    summary="The lesson's poster image",
    auth="user",
    content="image/jpeg",
    responses={200: "JPEG", 404: "Not ready"},
)
async def poster(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = lesson_for(request)
    return await _file(request, row, _media_file(request, row, "poster"), "image/jpeg")


@routes.route(
    "GET",
    "/lessons/{lesson_id}/cameras/{camera}/thumbnails.jpg",
    summary="Seek-preview thumbnails tiled in one JPEG (layout in the lesson's camera)",
    auth="user",
    content="image/jpeg",
    responses={200: "JPEG", 404: "Not ready"},
)
async def thumbnails(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = lesson_for(request)
    return await _file(request, row, _media_file(request, row, "thumbnails"), "image/jpeg")
