"""Coaching trajectories as pages: the list (mine, the ones I am in, my invitations), starting
and changing one, its page (pupil, question, members, lessons, status), and putting a lesson
into one from the lesson page. The rules are in ``coaching/``; this module only turns forms
into calls and refusals into sentences in the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..access.permissions import TrajectoryAccess
from ..access.principal import User
from ..coaching import consent, linking, members, trajectories
from ..coaching.consent import ConsentDraft
from ..coaching.trajectories import Draft, Need
from ..infra.errors import DomainError, Forbidden, Invalid, NotFound
from ..lessons.guard import LessonDenied, checked_lesson
from ..lessons.library import LibraryFilter, library_page
from ..services import Services, client_address, services_of
from .i18n import N_, t
from .lesson_access import page_lesson
from .render import PageError, form_of, redirect, render, signed_in

routes = web.RouteTableDef()

# What each refusal of ``coaching/`` says to a person (msgids; translated where shown).
MESSAGES = {
    "title_empty": N_("Give the trajectory a title."),
    "title_too_long": N_("The title may have at most 200 characters."),
    "question_empty": N_("Write down your question for help."),
    "question_too_long": N_("The question may have at most 5,000 characters."),
    "pupil_not_pseudonym": N_(
        "Name the pupil by a pseudonym only: 'Pupil A', 'Leerling B' or initials such as "
        "'J.K.'. Never a name."
    ),
    "pupil_group_invalid": N_("Give the group as a number, such as 'Groep 5', '5B' or '4/5'."),
    "birth_year_invalid": N_("That year of birth cannot be right; leave it out if unsure."),
    "support_invalid": N_("Choose a form of support."),
    "viewing_guide_invalid": N_("Choose a viewing guide."),
    "viewing_question_empty": N_("Write down the question to watch for."),
    "viewing_question_too_long": N_("The question to watch for may have at most 200 characters."),
    "review_before_start": N_("The review date lies before the start date."),
    "date_invalid": N_("A date is not valid."),
    "closing_note_empty": N_("Write a closing note: what came of it?"),
    "closing_note_too_long": N_("The closing note may have at most 5,000 characters."),
    "status_change": N_("The trajectory cannot go back to an earlier step."),
    "trajectory_closed": N_("This trajectory is closed: nothing can change in it."),
    "member_unknown_account": N_("Choose a person to invite."),
    "member_self": N_("This is your own trajectory already."),
    "member_admin": N_("Administrator accounts cannot join a trajectory."),
    "member_already": N_("This person is invited or a member already."),
    "member_role": N_("Choose a role."),
    "lesson_in_other_trajectory": N_(
        "This lesson is in another trajectory. Take it out of that one first."
    ),
    "lesson_not_yours": N_("Only your own lessons go into your trajectory."),
    "consent_recording_required": N_(
        "Without consent to recording nothing can be recorded. If the parents withdrew their "
        "consent, record the withdrawal."
    ),
    "consent_date_future": N_("The date of the consent cannot lie in the future."),
    "consent_note_too_long": N_("The note may have at most 500 characters."),
    "consent_watcher_unknown": N_("Only people invited into this trajectory can be named."),
    "withdrawal_choice": N_("Choose what happens to the lessons."),
    "consent_missing": N_(
        "Record the parents' consent to recording first: until then no lesson goes into this "
        "trajectory."
    ),
}
UNAVAILABLE = N_(
    "This trajectory is not available to you. It may be closed to you, or you were not invited."
)
ONLY_TEACHER = N_("Only the teacher of this trajectory may do this.")


def page_trajectory(
    request: web.Request, need: Need = "view"
) -> tuple[User, dict[str, Any], TrajectoryAccess]:
    """The trajectory in the URL if the signed-in person may ``need`` it."""
    user = signed_in(request)
    try:
        row, acc = trajectories.checked(
            services_of(request),
            user,
            request.match_info["trajectory_id"],
            need,
            address=client_address(request),
            path=request.path,
        )
    except NotFound:
        raise PageError(404, UNAVAILABLE) from None
    except Forbidden:
        raise PageError(403, ONLY_TEACHER) from None
    return user, row, acc


def refusal(request: web.Request, exc: DomainError) -> str:
    """The sentence for a refusal this module knows; others go on to the error page."""
    if exc.code not in MESSAGES:
        raise exc
    return t(request, MESSAGES[exc.code])


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid("date_invalid", "not a date") from None


def _draft(form: dict[str, str]) -> Draft:
    year = form.get("pupil_birth_year", "").strip()
    start = _day(form.get("start_date", "").strip())
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
        review_date=_day(form.get("review_date", "").strip()),
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
    found = trajectories.of_user(services_of(request).db, user.id)
    return render(request, "trajectories.html", {"found": found})


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


def _page(
    request: web.Request,
    user: User,
    row: dict[str, Any],
    acc: TrajectoryAccess,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    services = services_of(request)
    if not acc.view:  # invited only: the invitation, nothing of the pupil
        invitation = next(
            m
            for m in members.members_of(services.db, row["id"])
            if m["user_id"] == user.id and m["state"] == "invited"
        )
        shown = {"trajectory": row, "invitation": invitation}
        return render(request, "trajectory_invitation.html", shown, status=status)
    found = library_page(
        services.db,
        user.id,
        services.now(),
        LibraryFilter(trajectory_id=row["id"]),
        ZoneInfo(services.config.web.timezone),
    )
    people = members.members_of(services.db, row["id"])
    in_force = consent.current(services.db, row["id"])
    context: dict[str, Any] = {
        "consent": in_force,
        "watcher_ids": {w["id"] for w in in_force["watchers"]} if in_force else set(),
        "today": services.now().date().isoformat(),
        "trajectory": row,
        "access": acc,
        "members": [m for m in people if m["state"] in ("invited", "member")],
        "former": [m for m in people if m["state"] not in ("invited", "member")],
        "lessons": found.lessons,
        "linkable": linking.linkable_lessons(services.db, user.id) if acc.manage else [],
        "invitable": members.invitable(services.db, row) if acc.manage else [],
        "error": error,
    }
    return render(request, "trajectory.html", context, status=status)


@routes.get("/trajectories/{trajectory_id}")
async def trajectory_page(request: web.Request) -> web.StreamResponse:
    user, row, acc = page_trajectory(request, "see")
    return _page(request, user, row, acc)


Action = Callable[[Services, User, dict[str, Any], dict[str, str]], object]


async def _act(
    request: web.Request, need: Need, action: Action, notice: str = "saved"
) -> web.StreamResponse:
    """Carry out ``action(services, user, row, form)`` on the trajectory in the URL; a refusal
    shows the trajectory page again with the reason."""
    services = services_of(request)
    user, row, acc = page_trajectory(request, need)
    form = await form_of(request)
    try:
        action(services, user, row, form)
    except DomainError as exc:
        return _page(request, user, row, acc, refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", notice)


@routes.post("/trajectories/{trajectory_id}/status")
async def status(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    return await _act(
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
    return await _act(
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
    return await _act(
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
        return _page(request, user, row, acc, t(request, "Choose one of your lessons."), 400)
    try:
        linking.link(services, user, row, lesson, address=client_address(request))
    except DomainError as exc:
        return _page(request, user, row, acc, refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "linked")


@routes.post("/trajectories/{trajectory_id}/lessons/{lesson_id}/remove")
async def take_out(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    lesson_id = request.match_info["lesson_id"]
    return await _act(
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


@routes.post("/trajectories/{trajectory_id}/consent")
async def record_consent(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "manage")
    posted = await request.post()
    given = str(posted.get("given_on", ""))
    try:
        given_on = _day(given.strip())
        if given_on is None:
            raise Invalid("date_invalid", "the date of the consent is missing")
        draft = ConsentDraft(
            given_on=given_on,
            watchers=tuple(str(w)[:64] for w in posted.getall("watchers", [])[:50]),
            research=posted.get("research") == "1",
            recording=posted.get("recording") == "1",
            note=str(posted.get("note", ""))[:2000],
        )
        consent.record(services, user, row, draft, address=client_address(request))
    except DomainError as exc:
        return _page(request, user, row, acc, refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "consent_recorded")


@routes.post("/trajectories/{trajectory_id}/consent/withdraw")
async def withdraw_consent(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    return await _act(
        request,
        "manage",
        lambda services, user, row, form: consent.withdraw(
            services, user, row, form.get("lessons", ""), address=address
        ),
        "consent_withdrawn",
    )
