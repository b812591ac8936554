"""Clips of a lesson (cut, list) and who viewed a lesson: both for the lesson's owner only.

A clip, once made, is a lesson of its own: it is shared, played, downloaded, renamed and
deleted through the ordinary ``/lessons/{id}`` endpoints.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..access.permissions import OWNER_ACCESS
from ..lessons import clips, summary, viewings
from ..services import services_of
from .lessons import lesson_for
from .support import ApiRoutes, json_response, read_body

routes = ApiRoutes("clips")


class NewClip(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_s: float = Field(description="Start of the fragment, seconds from the lesson's start.")
    end_s: float = Field(description="End of the fragment (at least 1 s after the start).")
    title: str = Field("", description=f"At most {clips.MAX_TITLE} characters.")


@routes.route(
    "POST",
    "/lessons/{lesson_id}/clips",
    summary="Cut a fragment of my lesson into a clip of its own (every camera, no re-encode)",
    auth="user",
    body=NewClip,
    responses={
        202: "The clip, being cut (state 'assembling')",
        403: "Not the owner",
        404: "No such lesson",
        409: "The lesson is not ready",
        422: "Bad times or title",
    },
)
async def create_clip(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = lesson_for(request, "manage")
    body = await read_body(request, NewClip)
    clip = clips.create(services.db, row, body.start_s, body.end_s, body.title, services.now())
    services.audit(
        request,
        user,
        "clip_create",
        object_kind="lesson",
        object_id=clip["id"],
        detail={
            "source": row["id"],
            "start_s": clip["source_start_s"],
            "end_s": clip["source_end_s"],
        },
    )
    if services.assembler is not None:
        services.assembler.submit(clip["id"])
    return json_response(
        {"clip": summary.summary(services.db, clip, user.id, OWNER_ACCESS)}, status=202
    )


@routes.route(
    "GET",
    "/lessons/{lesson_id}/clips",
    summary="The clips cut from my lesson",
    auth="user",
    responses={200: "Clips", 403: "Not the owner", 404: "No such lesson"},
)
async def list_clips(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _user, row, _acc = lesson_for(request, "manage")
    return json_response({"clips": clips.of_lesson(services.db, row["id"])})


@routes.route(
    "GET",
    "/lessons/{lesson_id}/views",
    summary="Who opened my lesson, and when (first, last, how often)",
    auth="user",
    responses={200: "Viewers", 403: "Not the owner", 404: "No such lesson"},
)
async def list_views(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _user, row, _acc = lesson_for(request, "manage")
    return json_response({"views": viewings.viewers(services.db, row["id"])})
