"""The steps of the coaching cycle in a trajectory (intake, analyses, conversations,
evaluation), its goals, and the timeline that shows them (rules in ``coaching/``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..coaching import goals, session_conversations, steps
from ..coaching.fragments import Fragment
from ..coaching.steps import StepDraft
from ..coaching.timeline import timeline
from ..lessons.library import visible_lessons
from ..services import client_address, services_of
from .support import ApiRoutes, json_response, read_body
from .trajectory_access import trajectory_for
from .watching import rooms_of

routes = ApiRoutes("trajectories")


class FragmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lesson_id: str = Field(max_length=64)
    start_s: float
    end_s: float


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="intake, analysis, conversation or evaluation.")
    body: str = Field(max_length=20000, description="The notes.")
    held_on: date = Field(description="When it happened (not in the future).")
    agreed_question: str = Field("", max_length=20000, description="Intake: the question.")
    lesson_id: str | None = Field(None, max_length=64, description="Analysis: its lesson.")
    minutes: int | None = Field(None, description="Conversation: how long it took.")
    participants: list[str] = Field(
        default_factory=list, max_length=20, description="Conversation: who took part."
    )
    agreements: str = Field("", max_length=20000, description="Conversation: what I will try.")
    fragments: list[FragmentIn] = Field(default_factory=list, max_length=50)


class SessionConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(
        "", max_length=20000, description="The notes to start with (a sentence when empty)."
    )


class GoalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=2000)
    fragments: list[FragmentIn] = Field(default_factory=list, max_length=50)


class GoalPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str | None = Field(None, description="open, working or reached.")
    text: str | None = Field(None, max_length=2000)
    fragments: list[FragmentIn] = Field(
        default_factory=list, max_length=50, description="Fragments to add that show it."
    )


def _fragments(given: list[FragmentIn]) -> tuple[Fragment, ...]:
    return tuple(Fragment(f.lesson_id, f.start_s, f.end_s) for f in given)


def _shown_fragment(fragment: dict[str, Any]) -> dict[str, Any]:
    return {k: fragment[k] for k in ("lesson_id", "start_s", "end_s")}


def _step(step: dict[str, Any], watched: dict[int, dict[str, Any]]) -> dict[str, Any]:
    keys = ("id", "kind", "held_on", "body", "minutes", "created_at")
    shown = {k: step[k] for k in keys}
    shown["author"] = step["author_username"]
    shown["lesson_id"] = step["recording_id"]
    shown["agreed_question"] = step["agreed_question"] or None
    shown["agreements"] = step["agreements"] or None
    shown["participants"] = step["participants"]
    shown["fragments"] = [_shown_fragment(f) for f in step["fragments"]]
    shown["watched_together"] = watched.get(step["id"])
    return shown


def _watched(request: web.Request, row: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return session_conversations.by_step(services_of(request).db, row["id"])


def _goal(goal: dict[str, Any]) -> dict[str, Any]:
    shown = {k: goal[k] for k in ("id", "text", "state", "created_at", "changed_at")}
    shown["fragments"] = [_shown_fragment(f) for f in goal["fragments"]]
    return shown


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}/timeline",
    summary="The steps of the cycle in order (start, intake, lessons with their analyses, "
    "conversations, evaluation, closing) and the goals",
    auth="user",
    responses={200: "Timeline", 404: "No such trajectory or no access"},
)
async def timeline_of(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = trajectory_for(request, "view")
    found, _total = visible_lessons(
        services.db, user.id, services.now(), limit=500, offset=0, trajectory_id=row["id"]
    )
    entries = timeline(
        row, [lesson for lesson, _ in found], steps.of_trajectory(services.db, row["id"])
    )
    watched = _watched(request, row)
    out = []
    for entry in entries:
        shown: dict[str, Any] = {"kind": entry["kind"], "day": entry["day"]}
        if "step" in entry:
            shown["step"] = _step(entry["step"], watched)
        if "lesson" in entry:
            shown["lesson_id"] = entry["lesson"]["id"]
            shown["analyses"] = [_step(s, watched) for s in entry["analyses"]]
        out.append(shown)
    goals_found = goals.of_trajectory(services.db, row["id"])
    return json_response({"timeline": out, "goals": [_goal(g) for g in goals_found]})


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/steps",
    summary="Write down a step: the intake, an analysis of a lesson, a conversation, evaluation",
    auth="user",
    body=StepIn,
    responses={
        201: "Written",
        403: "Not a member",
        409: "Closed, or the intake exists",
        422: "Invalid",
    },
)
async def add_step(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "contribute")
    body = await read_body(request, StepIn)
    step = steps.add(services_of(request), user, row, _draft(body), address=client_address(request))
    return json_response({"step": _step(step, _watched(request, row))}, status=201)


def _draft(body: StepIn) -> StepDraft:
    return StepDraft(
        kind=body.kind,
        body=body.body,
        held_on=body.held_on,
        agreed_question=body.agreed_question,
        lesson_id=body.lesson_id,
        minutes=body.minutes,
        participants=tuple(body.participants),
        agreements=body.agreements,
        fragments=_fragments(body.fragments),
    )


@routes.route(
    "PUT",
    "/trajectories/{trajectory_id}/steps/{step_id}",
    summary="Rewrite a step (its author): every field is replaced, the kind stays",
    auth="user",
    body=StepIn,
    responses={
        200: "Rewritten",
        403: "Not the author",
        404: "No such step",
        409: "Closed",
        422: "Invalid, or another kind",
    },
)
async def change_step(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "contribute")
    body = await read_body(request, StepIn)
    step = steps.change(
        services_of(request),
        user,
        row,
        request.match_info["step_id"],
        _draft(body),
        address=client_address(request),
    )
    return json_response({"step": _step(step, _watched(request, row))})


@routes.route(
    "DELETE",
    "/trajectories/{trajectory_id}/steps/{step_id}",
    summary="Delete a step (its author, or the teacher)",
    auth="user",
    responses={204: "Deleted", 403: "Not the author", 404: "No such step", 409: "Closed"},
)
async def remove_step(request: web.Request) -> web.StreamResponse:
    user, row, acc = trajectory_for(request, "contribute")
    steps.remove(
        services_of(request),
        user,
        row,
        acc,
        request.match_info["step_id"],
        address=client_address(request),
    )
    return web.Response(status=204)


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}/watch-sessions",
    summary="The watch-together sessions on the trajectory's lessons I took part in, newest "
    "first, each with the conversation step it was recorded as (or null)",
    auth="user",
    responses={200: "Sessions", 404: "No such trajectory or no access"},
)
async def watched_sessions(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "view")
    found = session_conversations.took_part_in(services_of(request).db, row["id"], user.id)
    return json_response({"sessions": found})


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/watch-sessions/{session_id}/conversation",
    summary="Record a watch-together session I took part in as a conversation: date, the "
    "participants who are in the trajectory, minutes present and the comments made as "
    "fragments; then change it as any step",
    auth="user",
    body=SessionConversationIn,
    responses={
        201: "Recorded",
        403: "Not a member, or not present in the session",
        404: "No such trajectory or session",
        409: "Closed, or recorded already",
        422: "A session on a lesson of another trajectory",
    },
)
async def session_conversation(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "contribute")
    body = await read_body(request, SessionConversationIn)
    session_id = request.match_info["session_id"]
    done = session_conversations.record(
        services_of(request),
        user,
        row,
        session_id,
        body=body.body,
        live=rooms_of(request).open_presence(session_id),
        address=client_address(request),
    )
    made = done.proposal
    return json_response(
        {
            "step": _step(done.step, _watched(request, row)),
            "left_out": session_conversations.left_out_rows(made),
            "fragments_left_out": made.spans_dropped,
        },
        status=201,
    )


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/goals",
    summary="Add a goal, with fragments that show it",
    auth="user",
    body=GoalIn,
    responses={201: "Added", 403: "Not a member", 409: "Closed", 422: "Invalid"},
)
async def add_goal(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "contribute")
    body = await read_body(request, GoalIn)
    goal = goals.add(services_of(request), user, row, body.text, _fragments(body.fragments))
    return json_response({"goal": _goal(goal)}, status=201)


@routes.route(
    "PATCH",
    "/trajectories/{trajectory_id}/goals/{goal_id}",
    summary="Move a goal (open, working, reached), reword it, or add fragments that show it",
    auth="user",
    body=GoalPatch,
    responses={200: "Changed", 403: "Not a member", 404: "No such goal", 409: "Closed"},
)
async def change_goal(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "contribute")
    body = await read_body(request, GoalPatch)
    goal = goals.change(
        services_of(request),
        user,
        row,
        request.match_info["goal_id"],
        state=body.state,
        text=body.text,
        shown_in=_fragments(body.fragments),
    )
    return json_response({"goal": _goal(goal)})
