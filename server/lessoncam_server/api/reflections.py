"""Reflections: the school's forms, what I am asked to reflect on, my reflection on a lesson
(or declining it), a coach's or colleague's after a conversation, and a trajectory's
reflections as its members may read them (rules in ``coaching/reflections.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..coaching import linking, reflection_forms, reflections
from ..services import services_of
from .lessons import lesson_for
from .support import ApiRoutes, json_response, read_body, require_user
from .trajectory_access import trajectory_for

routes = ApiRoutes("reflections")


class ReflectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, int | str | None] = Field(
        description="Question key -> answer: a whole number (scale, minutes), text, an option key."
    )
    private: bool = Field(False, description="Only I may read it (not the trajectory's members).")


def reflection_json(found: dict[str, Any]) -> dict[str, Any]:
    """A reflection as the API shows it."""
    keys = ("id", "kind", "step_id", "subject_at", "state", "private", "answers", "created_at")
    shown = {k: found[k] for k in keys}
    shown["lesson_id"] = found["recording_id"]
    shown["author"] = found["author_username"]
    shown["form_version"] = found["form_version"]
    return shown


@routes.route("GET", "/reflection-forms", summary="The reflection forms in use", auth="user")
async def forms(request: web.Request) -> web.StreamResponse:
    require_user(request)
    config = services_of(request).config.reflection
    return json_response(
        {
            kind: reflection_forms.configured(config, kind).model_dump(mode="json")
            for kind in reflection_forms.KINDS
        }
    )


@routes.route(
    "GET",
    "/reflections/pending",
    summary="The lessons and conversations I am asked to reflect on",
    auth="user",
)
async def pending(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    lessons = reflections.asked_lessons(services.db, user.id, services.config.reflection)
    talks = reflections.asked_conversations(services.db, user.id)
    return json_response({"lessons": lessons, "conversations": talks})


@routes.route(
    "GET",
    "/lessons/{lesson_id}/reflection",
    summary="The teacher's reflection on a lesson (hers; or, unless private, to its members)",
    auth="user",
    responses={200: "Reflection", 404: "No such lesson or no access"},
)
async def of_lesson(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = lesson_for(request)
    config = services.config.reflection
    if row["owner_id"] == user.id:
        mine = reflections.of_lesson(services.db, row["id"], user.id)
        return json_response(
            {
                "asked": reflections.is_asked(services.db, row, user.id, config),
                "reflection": reflection_json(mine) if mine else None,
                "form": reflection_forms.configured(config, "lesson").model_dump(mode="json"),
                "prefill": reflections.prefill(services.db, "lesson", config, row["id"], user.id),
            }
        )
    theirs = None
    if row["owner_id"] is not None and linking.trajectory_of_lesson(
        services.db, row["id"], user.id
    ):
        found = reflections.of_lesson(services.db, row["id"], row["owner_id"])
        if found and found["state"] == "answered" and not found["private"]:
            theirs = reflection_json(found)
    return json_response({"asked": False, "reflection": theirs})


@routes.route(
    "PUT",
    "/lessons/{lesson_id}/reflection",
    summary="Answer the reflection form about my ready lesson",
    auth="user",
    body=ReflectionIn,
    responses={
        201: "Answered",
        403: "Not my lesson",
        409: "Answered already, or not ready",
        422: "An answer that does not fit the form",
    },
)
async def answer_lesson(request: web.Request) -> web.StreamResponse:
    user, row, _acc = lesson_for(request, "manage")
    body = await read_body(request, ReflectionIn)
    found = reflections.answer_lesson(services_of(request), user, row, body.answers, body.private)
    return json_response({"reflection": reflection_json(found)}, status=201)


@routes.route(
    "POST",
    "/lessons/{lesson_id}/reflection/decline",
    summary="I do not want to reflect on this lesson: stop asking",
    auth="user",
    responses={204: "Declined", 403: "Not my lesson", 409: "Answered or declined already"},
)
async def decline_lesson(request: web.Request) -> web.StreamResponse:
    user, row, _acc = lesson_for(request, "manage")
    reflections.decline_lesson(services_of(request), user, row)
    return web.Response(status=204)


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}/reflections",
    summary="The trajectory's reflections I may read (all but others' private ones)",
    auth="user",
    responses={200: "Reflections", 404: "No such trajectory or no access"},
)
async def of_trajectory(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "view")
    found = reflections.of_trajectory(services_of(request).db, row["id"], user.id)
    return json_response({"reflections": [reflection_json(f) for f in found]})


@routes.route(
    "PUT",
    "/trajectories/{trajectory_id}/steps/{step_id}/reflection",
    summary="Answer the short form about a conversation I took part in (coach or colleague)",
    auth="user",
    body=ReflectionIn,
    responses={
        201: "Answered",
        403: "Not a participant",
        404: "No such conversation",
        409: "Answered already, or closed",
        422: "An answer that does not fit the form",
    },
)
async def answer_conversation(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "contribute")
    body = await read_body(request, ReflectionIn)
    found = reflections.answer_conversation(
        services_of(request), user, row, request.match_info["step_id"], body.answers, body.private
    )
    return json_response({"reflection": reflection_json(found)}, status=201)
