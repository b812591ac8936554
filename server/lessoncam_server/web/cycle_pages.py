"""The steps of the coaching cycle on the trajectory page: write down the intake, an analysis
of a lesson, a conversation (or record a watch-together session as one) or the evaluation;
its author rewrites one; delete one; add goals and move them (rules in ``coaching/steps.py``,
``coaching/session_conversations.py`` and ``coaching/goals.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from ..access.principal import User
from ..coaching import goals, members, session_conversations, steps
from ..coaching.fragments import Fragment, parse_spans
from ..coaching.steps import StepDraft
from ..infra.errors import DomainError, Invalid
from ..infra.numbers import whole_number
from ..lessons.fragments import format_time
from ..lessons.library import visible_lessons
from ..lessons.watching.rooms import WATCH_ROOMS
from ..services import client_address, services_of
from .i18n import N_, t
from .render import PageError, redirect, render, signed_in
from .trajectory_access import page_trajectory, parse_day, refusal
from .trajectory_view import show

routes = web.RouteTableDef()

# The refusals of the steps and goals, as a person reads them (with those of
# ``trajectory_access.MESSAGES``).
STEP_MESSAGES = {
    "intake_exists": N_("The intake is written down already."),
    "step_kind_invalid": N_("Choose what to write down."),
    "step_date_future": N_("Write a step down once it has happened: the date lies ahead."),
    "body_empty": N_("Write the notes first."),
    "body_too_long": N_("The notes may have at most 5,000 characters."),
    "agreed_question_too_long": N_("The agreed question may have at most 5,000 characters."),
    "agreements_too_long": N_("The agreements may have at most 5,000 characters."),
    "analysis_needs_lesson": N_("Choose the lesson the analysis is about."),
    "fragment_other_lesson": N_("An analysis refers to fragments of its own lesson."),
    "minutes_invalid": N_("Give the length of the conversation in minutes (1 to 600)."),
    "participant_unknown": N_("Only the teacher and the members can take part."),
    "fragment_invalid": N_("Write fragments as start-end in minutes and seconds, like 1:20-2:05."),
    "too_many_fragments": N_("At most 20 fragments at a time."),
    "lesson_not_in_trajectory": N_("Choose a lesson of this trajectory that you can open."),
    "lesson_not_ready": N_("Fragments can be marked once the lesson is ready."),
    "time_past_end": N_("A fragment lies past the end of the lesson."),
    "time_negative": N_("A fragment cannot start before the lesson."),
    "time_invalid": N_("A fragment's time is not a number of seconds."),
    "end_before_start": N_("A fragment must end after it starts."),
    "goal_empty": N_("Write the goal first."),
    "goal_too_long": N_("A goal may have at most 500 characters."),
    "goal_state_invalid": N_("Choose the goal's state."),
    "not_author": N_("Only its author or the teacher may delete this."),
    "step_kind_fixed": N_("A step keeps its kind: write a new one instead."),
}
# Recording a watch-together session as a conversation: its own refusals, and the steps'.
SESSION_MESSAGES = {
    **STEP_MESSAGES,
    "not_found": N_("That watch-together session is not one you were invited to."),
    "not_present": N_("Only someone who took part in the session can record it."),
    "session_other_lesson": N_("That session was on a lesson of another trajectory."),
    "session_recorded": N_("This session is written down as a conversation already."),
}


def _fragments(form: Mapping[str, object], lesson: str | None = None) -> tuple[Fragment, ...]:
    """The fragments a form names: one lesson (``lesson``, or the one chosen) and its spans as
    typed."""
    lesson_id = lesson or str(form.get("fragment_lesson", ""))[:64]
    spans = parse_spans(str(form.get("fragments", ""))[:2000])
    if spans and not lesson_id:
        raise Invalid("lesson_not_in_trajectory", "choose the lesson of the fragments")
    return tuple(Fragment(lesson_id, start, end) for start, end in spans)


def _draft(form: MultiDictProxy[Any], kind: str, keep: tuple[Fragment, ...] = ()) -> StepDraft:
    """The step a form describes. ``keep``: the fragments to keep when the form does not
    change them (the edit page's fragments unchanged, or of several lessons)."""
    held_on = parse_day(str(form.get("held_on", "")).strip())
    if held_on is None:
        raise Invalid("date_invalid", "the date is missing")
    lesson_id = str(form.get("lesson_id", ""))[:64] or None
    typed = str(form.get("fragments", ""))[:2000]
    if form.get("keep_fragments") == "1" or (
        keep
        and typed == form.get("fragments_was")
        and (kind == "analysis" or form.get("fragment_lesson") == form.get("fragment_lesson_was"))
    ):
        fragments = keep
    else:
        # An analysis's fragments are of its own lesson.
        fragments = _fragments(form, lesson_id if kind == "analysis" else None)
    people = form.getall("participants", [])
    return StepDraft(
        kind=kind,
        body=str(form.get("body", ""))[:20000],
        held_on=held_on,
        agreed_question=str(form.get("agreed_question", ""))[:20000],
        lesson_id=lesson_id,
        minutes=whole_number(str(form.get("minutes", "")).strip(), 4),
        participants=tuple(str(p)[:64] for p in people[:20]),
        agreements=str(form.get("agreements", ""))[:20000],
        fragments=fragments,
    )


@routes.post("/trajectories/{trajectory_id}/steps")
async def add_step(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "contribute")
    form = await request.post()
    try:
        draft = _draft(form, str(form.get("kind", "")))
        steps.add(services, user, row, draft, address=client_address(request))
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, STEP_MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")


def _edit_page(
    request: web.Request,
    row: dict[str, Any],
    step: dict[str, Any],
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    services = services_of(request)
    lessons = {f["lesson_id"] for f in step["fragments"]}
    found, _total = visible_lessons(
        services.db,
        signed_in(request).id,
        services.now(),
        limit=500,
        offset=0,
        trajectory_id=row["id"],
    )
    members_now = [
        {"username": m["username"], "display_name": m["display_name"]}
        for m in members.members_of(services.db, row["id"])
        if m["state"] == "member"
    ]
    context = {
        "trajectory": row,
        "step": step,
        "error": error,
        "today": services.now().date().isoformat(),
        "ready_lessons": [lesson for lesson, _ in found if lesson["state"] == "ready"],
        "participants": [
            {"username": row["teacher_username"], "display_name": row["teacher_name"]},
            *members_now,
        ],
        "taking_part": set(step["participant_usernames"]),
        "left_out": session_conversations.left_out_of(services.db, step["id"]),
        # The page edits the fragments of one lesson (as the add form makes them); fragments of
        # several lessons (made through the API) are kept as they are.
        "several_lessons": len(lessons) > 1,
        "fragment_lesson": next(iter(lessons), ""),
        "fragments_text": "; ".join(
            f"{format_time(f['start_s'])}-{format_time(f['end_s'])}" for f in step["fragments"]
        ),
    }
    return render(request, "step_edit.html", context, status=status)


def _own_step(request: web.Request) -> tuple[User, dict[str, Any], dict[str, Any]]:
    user, row, _acc = page_trajectory(request, "contribute")
    raw = request.match_info["step_id"]
    step = next(
        (s for s in steps.of_trajectory(services_of(request).db, row["id"]) if str(s["id"]) == raw),
        None,
    )
    if step is None or step["author_id"] != user.id or row["status"] == "closed":
        raise PageError(404, N_("You cannot change this step."))
    return user, row, step


@routes.get("/trajectories/{trajectory_id}/steps/{step_id}/edit")
async def edit_step_page(request: web.Request) -> web.StreamResponse:
    _user, row, step = _own_step(request)
    return _edit_page(request, row, step)


@routes.post("/trajectories/{trajectory_id}/steps/{step_id}/edit")
async def edit_step(request: web.Request) -> web.StreamResponse:
    user, row, step = _own_step(request)
    form = await request.post()
    kept = tuple(Fragment(f["lesson_id"], f["start_s"], f["end_s"]) for f in step["fragments"])
    try:
        steps.change(
            services_of(request),
            user,
            row,
            str(step["id"]),
            _draft(form, step["kind"], kept),
            address=client_address(request),
        )
    except DomainError as exc:
        return _edit_page(request, row, step, refusal(request, exc, STEP_MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")


@routes.post("/trajectories/{trajectory_id}/steps/{step_id}/delete")
async def remove_step(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "contribute")
    try:
        step_id = request.match_info["step_id"]
        steps.remove(services, user, row, acc, step_id, address=client_address(request))
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, STEP_MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "deleted_step")


@routes.post("/trajectories/{trajectory_id}/watch-sessions/{session_id}/conversation")
async def record_session(request: web.Request) -> web.StreamResponse:
    """Record a watch-together session as a conversation, then edit it as any step."""
    services = services_of(request)
    user, row, acc = page_trajectory(request, "contribute")
    session_id = request.match_info["session_id"]
    try:
        done = session_conversations.record(
            services,
            user,
            row,
            session_id,
            body=t(request, "We watched the lesson together."),
            live=request.app[WATCH_ROOMS].open_presence(session_id),
            address=client_address(request),
        )
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, SESSION_MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}/steps/{done.step['id']}/edit", "from_session")


@routes.post("/trajectories/{trajectory_id}/goals")
async def add_goal(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "contribute")
    form = await request.post()
    try:
        goals.add(services, user, row, str(form.get("text", ""))[:2000], _fragments(form))
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, STEP_MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")


@routes.post("/trajectories/{trajectory_id}/goals/{goal_id}")
async def change_goal(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "contribute")
    form = await request.post()
    try:
        goals.change(
            services,
            user,
            row,
            request.match_info["goal_id"],
            state=str(form["state"]) if "state" in form else None,
            shown_in=_fragments(form),
        )
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, STEP_MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")
