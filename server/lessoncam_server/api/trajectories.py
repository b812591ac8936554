"""Coaching trajectories: start and change one, its status, its members, its lessons.

Every handler finds the trajectory in the URL with the caller's access (``coaching/
trajectories.checked``) and the lesson, where there is one, with the lesson guard; the rules
are in ``coaching/``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..access.permissions import TrajectoryAccess
from ..coaching import consent, linking, members, trajectories
from ..coaching.trajectories import Draft
from ..infra.errors import Forbidden
from ..lessons import summary
from ..lessons.library import visible_lessons
from ..services import client_address, services_of
from .lessons import lesson_for
from .support import ApiRoutes, json_response, read_body, require_user
from .trajectory_access import trajectory_for
from .trajectory_consent import consent_json

routes = ApiRoutes("trajectories")


class PupilIn(BaseModel):
    """The focus pupil as a pseudonym only; any other field (a name, a photo) is refused."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(max_length=40, description="'Pupil A', 'Leerling B' or initials ('J.K.').")
    group: str = Field(max_length=40, description="The group: 'Groep 5', '5B', '4/5'.")
    birth_year: int | None = Field(None, description="Optional year of birth.")


class TrajectoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=1000)
    question: str = Field(max_length=20000, description="The teacher's question for help.")
    pupil: PupilIn
    support: str = Field(description="video_coach, support_teacher, colleague or own.")
    viewing_guide: str = Field("school", description="school, question or open.")
    viewing_question: str = Field("", max_length=1000, description="With viewing_guide question.")
    start_date: date
    review_date: date | None = Field(None, description="When to look back (planned).")
    record_new: bool = Field(False, description="New lessons from my units go into it.")


class TrajectoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=1000)
    question: str | None = Field(None, max_length=20000)
    pupil: PupilIn | None = None
    support: str | None = None
    viewing_guide: str | None = None
    viewing_question: str | None = Field(None, max_length=1000)
    start_date: date | None = None
    review_date: date | None = None
    record_new: bool | None = None


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="running or closed (intake -> running -> closed).")
    closing_note: str = Field("", max_length=20000, description="Needed to close.")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    role: str = Field("coach", description="coach or colleague.")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool


def _draft(body: TrajectoryIn) -> Draft:
    return Draft(
        title=body.title,
        question=body.question,
        pupil_label=body.pupil.label,
        pupil_group=body.pupil.group,
        pupil_birth_year=body.pupil.birth_year,
        support=body.support,
        viewing_guide=body.viewing_guide,
        viewing_question=body.viewing_question,
        start_date=body.start_date,
        review_date=body.review_date,
        record_new=body.record_new,
    )


def _full(request: web.Request, row: dict[str, Any], acc: TrajectoryAccess) -> dict[str, Any]:
    """The trajectory as the caller may see it, with its members (to those who see it)."""
    services = services_of(request)
    shown = trajectories.describe(row, acc)
    if acc.view:
        shown["consent"] = consent_json(consent.current(services.db, row["id"]), acc)
        shown["members"] = [
            {k: m[k] for k in ("id", "username", "display_name", "role", "state", "invited_at")}
            | {"accepted_at": m["accepted_at"], "ended_at": m["ended_at"]}
            for m in members.members_of(services.db, row["id"])
        ]
    return shown


@routes.route(
    "GET",
    "/trajectories",
    summary="My trajectories, those I am a member of, and my open invitations",
    auth="user",
)
async def list_trajectories(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    found = trajectories.of_user(services_of(request).db, user.id)
    keys = ("id", "title", "status", "teacher_name", "role", "lessons", "start_date", "review_date")
    return json_response(
        {group: [{k: r[k] for k in keys} for r in rows] for group, rows in found.items()}
    )


@routes.route(
    "POST",
    "/trajectories",
    summary="Start a trajectory around a focus pupil (a pseudonym only)",
    auth="user",
    body=TrajectoryIn,
    responses={201: "Started", 403: "Administrators start none", 422: "Invalid"},
)
async def start(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    body = await read_body(request, TrajectoryIn)
    row = trajectories.start(
        services_of(request), user, _draft(body), address=client_address(request)
    )
    acc = TrajectoryAccess(view=True, contribute=True, manage=True)
    return json_response({"trajectory": _full(request, row, acc)}, status=201)


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}",
    summary="One trajectory (its title only, to someone invited who has not answered)",
    auth="user",
    responses={200: "The trajectory", 404: "No such trajectory or no access"},
)
async def detail(request: web.Request) -> web.StreamResponse:
    _user, row, acc = trajectory_for(request, "see")
    return json_response({"trajectory": _full(request, row, acc)})


@routes.route(
    "PATCH",
    "/trajectories/{trajectory_id}",
    summary="Change my open trajectory",
    auth="user",
    body=TrajectoryPatch,
    responses={
        200: "Changed",
        403: "Not the teacher",
        404: "No such trajectory",
        409: "Closed",
        422: "Invalid",
    },
)
async def change(request: web.Request) -> web.StreamResponse:
    user, row, acc = trajectory_for(request, "manage")
    patch = (await read_body(request, TrajectoryPatch)).model_dump(exclude_unset=True)
    current: dict[str, Any] = {
        "title": row["title"],
        "question": row["question"],
        "pupil": {
            "label": row["pupil_label"],
            "group": row["pupil_group"],
            "birth_year": row["pupil_birth_year"],
        },
        "support": row["support"],
        "viewing_guide": row["viewing_guide"],
        "viewing_question": row["viewing_question"],
        "start_date": row["start_date"],
        "review_date": row["review_date"],
        "record_new": bool(row["record_new"]),
    }
    merged = TrajectoryIn.model_validate({**current, **patch})
    fresh = trajectories.change(
        services_of(request), user, row, _draft(merged), address=client_address(request)
    )
    return json_response({"trajectory": _full(request, fresh, acc)})


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/status",
    summary="Move my trajectory on: running, or closed with a closing note",
    auth="user",
    body=StatusIn,
    responses={
        200: "Changed",
        403: "Not the teacher",
        409: "Not allowed from here",
        422: "Invalid",
    },
)
async def status(request: web.Request) -> web.StreamResponse:
    user, row, acc = trajectory_for(request, "manage")
    body = await read_body(request, StatusIn)
    fresh = trajectories.set_status(
        services_of(request),
        user,
        row,
        body.status,
        body.closing_note,
        address=client_address(request),
    )
    return json_response({"trajectory": _full(request, fresh, acc)})


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/members",
    summary="Invite a coach or colleague (by account) into my trajectory",
    auth="user",
    body=MemberIn,
    responses={201: "Invited", 403: "Not the teacher", 409: "Invited already, or closed"},
)
async def invite(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "manage")
    body = await read_body(request, MemberIn)
    member = members.invite(
        services_of(request), user, row, body.username, body.role, address=client_address(request)
    )
    return json_response({"member": _member(member)}, status=201)


def _member(member: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "username", "display_name", "role", "state", "invited_at", "accepted_at")
    return {k: member[k] for k in keys}


@routes.route(
    "DELETE",
    "/trajectories/{trajectory_id}/members/{member_id}",
    summary="Remove a member from my trajectory, or withdraw an invitation",
    auth="user",
    responses={204: "Removed", 403: "Not the teacher", 404: "No such member"},
)
async def remove(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "manage")
    members.remove(
        services_of(request),
        user,
        row,
        request.match_info["member_id"],
        address=client_address(request),
    )
    return web.Response(status=204)


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/invitation",
    summary="Accept or decline my invitation to a trajectory",
    auth="user",
    body=AnswerIn,
    responses={200: "Answered", 404: "No open invitation", 409: "Closed"},
)
async def answer(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "respond")
    body = await read_body(request, AnswerIn)
    member = members.respond(
        services_of(request), user, row, body.accept, address=client_address(request)
    )
    return json_response({"member": _member(member)})


@routes.route(
    "DELETE",
    "/trajectories/{trajectory_id}/membership",
    summary="Leave a trajectory: its page and its lessons are no longer mine to see",
    auth="user",
    responses={204: "Left", 403: "The teacher cannot leave her own", 404: "Not a member"},
)
async def leave(request: web.Request) -> web.StreamResponse:
    user, row, acc = trajectory_for(request, "view")
    if acc.manage:
        # Her own trajectory: she closes it instead.
        raise Forbidden("forbidden", "this is your own trajectory: close it instead")
    members.leave(services_of(request), user, row, address=client_address(request))
    return web.Response(status=204)


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}/lessons",
    summary="The trajectory's lessons I may open, newest first",
    auth="user",
    responses={200: "Lessons", 404: "No such trajectory or no access"},
)
async def lessons(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = trajectory_for(request, "view")
    found, total = visible_lessons(
        services.db, user.id, services.now(), limit=500, offset=0, trajectory_id=row["id"]
    )
    out = [summary.summary(services.db, lesson, user.id, acc) for lesson, acc in found]
    return json_response({"lessons": out, "total": total})


@routes.route(
    "PUT",
    "/trajectories/{trajectory_id}/lessons/{lesson_id}",
    summary="Put one of my lessons into my open trajectory",
    auth="user",
    responses={
        201: "Linked",
        200: "In it already",
        403: "Not your trajectory or not your lesson",
        404: "No such trajectory or lesson",
        409: "Closed, or the lesson is in another trajectory",
    },
)
async def link(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "manage")
    _user, lesson, _lesson_acc = lesson_for(request, "manage")
    linked = linking.link(services_of(request), user, row, lesson, address=client_address(request))
    return json_response(
        {"trajectory_id": row["id"], "lesson_id": lesson["id"]}, 201 if linked else 200
    )


@routes.route(
    "DELETE",
    "/trajectories/{trajectory_id}/lessons/{lesson_id}",
    summary="Take a lesson out of my trajectory: its members no longer see it",
    auth="user",
    responses={204: "Taken out", 403: "Not the teacher", 404: "Not in this trajectory"},
)
async def unlink(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "manage")
    linking.unlink(
        services_of(request),
        user,
        row,
        request.match_info["lesson_id"],
        address=client_address(request),
    )
    return web.Response(status=204)
