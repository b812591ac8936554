"""Coaching trajectories as pages: the list (mine, the ones I am in, my invitations), starting
and changing one, its page (pupil, question, members, lessons, status), and putting a lesson
into one from the lesson page. The rules are in ``coaching/``; this module only turns forms
into calls and refusals into sentences in the reader's language."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..coaching import coordinators, linking, members, trajectories
from ..coaching.trajectories import Draft
from ..infra.errors import DomainError, Forbidden, Invalid
from ..lessons.guard import LessonDenied, checked_lesson
from ..services import client_address, services_of
from .i18n import N_, t
from .lesson_access import page_lesson
from .render import PageError, form_of, redirect, render, signed_in
from .trajectory_access import MESSAGES, UNAVAILABLE, page_trajectory, parse_day, refusal
from .trajectory_view import act, show

routes = web.RouteTableDef()


def _draft(form: dict[str, str]) -> Draft:
    year = form.get("pupil_birth_year", "").strip()
    start = parse_day(form.get("start_date", "").strip())
    if start is None:
        raise Invalid("date_invalid", "the start date is missing")
    return Draft(
        title=form.get("title", "")[:1000],
        question=form.get("question", "")[:20000],
        pupil_label=form.get("pupil_label", "")[:40],
        pupil_group=form.get("pupil_group", "")[:40],
        pupil_birth_year=int(year) if year.isdigit() and len(year) == 4 else None,
        support=form.get("support", ""),
        viewing_guide=form.get("viewing_guide", ""),
        viewing_question=form.get("viewing_question", "")[:1000],
        start_date=start,
        review_date=parse_day(form.get("review_date", "").strip()),
        record_new=form.get("record_new") == "1",
    )


def _form_page(
    request: web.Request,
    values: dict[str, Any],
    action: str,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    context = {"values": values, "action": action, "error": error}
    return render(request, "trajectory_form.html", context, status=status)


@routes.get("/trajectories")
async def list_page(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    db = services_of(request).db
    found = trajectories.of_user(db, user.id)
    context = {"found": found, "coordinator": coordinators.is_coordinator(db, user.id)}
    return render(request, "trajectories.html", context)


@routes.get("/trajectories/new")
async def new_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    today = services_of(request).now().date().isoformat()
    values = {"start_date": today, "support": "video_coach", "viewing_guide": "school"}
    return _form_page(request, values, "/trajectories/new")


@routes.post("/trajectories/new")
async def create(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    form = await form_of(request)
    try:
        row = trajectories.start(services, user, _draft(form), address=client_address(request))
    except Forbidden:
        raise PageError(
            403, N_("Administrator accounts own no lessons, so they start no trajectory.")
        ) from None
    except DomainError as exc:
        return _form_page(request, form, "/trajectories/new", refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")


def _values(row: dict[str, Any]) -> dict[str, Any]:
    """A trajectory's row as the form's fields."""
    keys = (
        "title",
        "question",
        "pupil_label",
        "pupil_group",
        "pupil_birth_year",
        "support",
        "viewing_guide",
        "viewing_question",
        "start_date",
        "review_date",
        "record_new",
    )
    return {k: row[k] if row[k] is not None else "" for k in keys}


@routes.get("/trajectories/{trajectory_id}/edit")
async def edit_page(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = page_trajectory(request, "manage")
    if row["status"] == "closed":
        raise PageError(409, MESSAGES["trajectory_closed"])
    return _form_page(request, _values(row), f"/trajectories/{row['id']}/edit")


@routes.post("/trajectories/{trajectory_id}/edit")
async def edit(request: web.Request) -> web.StreamResponse:
    user, row, _acc = page_trajectory(request, "manage")
    form = await form_of(request)
    action = f"/trajectories/{row['id']}/edit"
    try:
        trajectories.change(
            services_of(request), user, row, _draft(form), address=client_address(request)
        )
    except DomainError as exc:
        return _form_page(request, form, action, refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")


@routes.get("/trajectories/{trajectory_id}")
async def trajectory_page(request: web.Request) -> web.StreamResponse:
    user, row, acc = page_trajectory(request, "see")
    return show(request, user, row, acc)


@routes.post("/trajectories/{trajectory_id}/status")
async def status(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    return await act(
        request,
        "manage",
        lambda services, user, row, form: trajectories.set_status(
            services,
            user,
            row,
            form.get("status", ""),
            form.get("closing_note", "")[:20000],
            address=address,
        ),
    )


@routes.post("/trajectories/{trajectory_id}/members")
async def invite(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    return await act(
        request,
        "manage",
        lambda services, user, row, form: members.invite(
            services,
            user,
            row,
            form.get("username", "").strip()[:64],
            form.get("role", ""),
            address=address,
        ),
        "invited",
    )


@routes.post("/trajectories/{trajectory_id}/members/{member_id}/remove")
async def remove(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    member_id = request.match_info["member_id"]
    return await act(
        request,
        "manage",
        lambda services, user, row, _form: members.remove(
            services, user, row, member_id, address=address
        ),
    )


@routes.post("/trajectories/{trajectory_id}/invitation")
async def answer(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_trajectory(request, "respond")
    accept = (await form_of(request)).get("answer") == "accept"
    try:
        members.respond(services, user, row, accept, address=client_address(request))
    except DomainError as exc:
        raise PageError(exc.status, MESSAGES.get(exc.code, UNAVAILABLE)) from None
    if accept:
        raise redirect(f"/trajectories/{row['id']}", "joined")
    raise redirect("/trajectories", "declined")


@routes.post("/trajectories/{trajectory_id}/leave")
async def leave(request: web.Request) -> web.StreamResponse:
    user, row, acc = page_trajectory(request, "view")
    if acc.manage:
        raise PageError(403, N_("This is your own trajectory: close it instead."))
    members.leave(services_of(request), user, row, address=client_address(request))
    raise redirect("/trajectories", "left")


@routes.post("/trajectories/{trajectory_id}/lessons")
async def add_lesson(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "manage")
    lesson_id = (await form_of(request)).get("lesson_id", "")
    try:
        lesson, _lesson_acc = checked_lesson(request, user, "manage", lesson_id=lesson_id)
    except LessonDenied:
        return show(request, user, row, acc, t(request, "Choose one of your lessons."), 400)
    try:
        linking.link(services, user, row, lesson, address=client_address(request))
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "linked")


@routes.post("/trajectories/{trajectory_id}/lessons/{lesson_id}/remove")
async def take_out(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    lesson_id = request.match_info["lesson_id"]
    return await act(
        request,
        "manage",
        lambda services, user, row, _form: linking.unlink(
            services, user, row, lesson_id, address=address
        ),
        "unlinked",
    )


@routes.post("/lessons/{lesson_id}/trajectory")
async def lesson_trajectory(request: web.Request) -> web.StreamResponse:
    """From the lesson page: the owner puts her lesson into one of her open trajectories, or
    takes it out (an empty choice)."""
    services = services_of(request)
    user, lesson, _acc = page_lesson(request, "manage")
    chosen = (await form_of(request)).get("trajectory_id", "")
    current = linking.trajectory_of_lesson(services.db, lesson["id"], user.id)
    address = client_address(request)
    if current is not None and str(current["id"]) == chosen:
        raise redirect(f"/lessons/{lesson['id']}", "linked")
    target = None
    if chosen:
        number = int(chosen) if chosen.isdigit() and len(chosen) < 12 else 0
        target = linking.open_trajectory(services.db, number, user.id)
        if target is None:
            raise PageError(404, UNAVAILABLE)
        if not linking.has_consent(services.db, target["id"]):  # before anything changes
            raise PageError(409, MESSAGES["consent_missing"])
    if current is not None:
        current_row = trajectories.get(services.db, current["id"])
        assert current_row is not None
        linking.unlink(services, user, current_row, lesson["id"], address=address)
    if target is not None:
        try:
            linking.link(services, user, target, lesson, address=address)
        except DomainError as exc:
            raise PageError(exc.status, MESSAGES.get(exc.code, UNAVAILABLE)) from None
    raise redirect(f"/lessons/{lesson['id']}", "linked" if chosen else "unlinked")
