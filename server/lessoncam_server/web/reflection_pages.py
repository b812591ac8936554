"""The reflection forms as pages: the teacher's about her lesson (or declining it), the
coach's or colleague's about a conversation (rules in ``coaching/reflections.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..coaching import reflection_forms, reflections
from ..config import ReflectionForm
from ..infra.errors import DomainError
from ..services import services_of
from .i18n import N_, t
from .lesson_access import page_lesson
from .render import PageError, form_of, redirect, render
from .trajectory_access import page_trajectory

routes = web.RouteTableDef()

MESSAGES = {
    "answer_required": N_("Answer every question that is not marked optional."),
    "answer_out_of_range": N_("An answer lies outside its scale."),
    "answer_invalid": N_("An answer does not fit its question."),
    "answer_too_long": N_("An answer may have at most 2,000 characters."),
    "unknown_question": N_("The form has changed meanwhile. Reload the page and answer again."),
    "reflection_exists": N_("You answered this form already."),
    "lesson_not_ready": N_("Reflect once the lesson is ready."),
    "not_participant": N_("The coach or colleague who took part in the conversation answers this."),
}


def _form_page(
    request: web.Request,
    form: ReflectionForm,
    action: str,
    back: str,
    subject: str,
    values: dict[str, Any],
    error: DomainError | None = None,
    decline: bool = False,
) -> web.Response:
    message = None
    if error is not None:
        if error.code not in MESSAGES:
            raise error
        message = t(request, MESSAGES[error.code])
    context = {
        "form": form,
        "action": action,
        "back": back,
        "subject": subject,
        "values": values,
        "error": message,
        "decline": decline,
    }
    return render(request, "reflection_form.html", context, status=error.status if error else 200)


@routes.get("/lessons/{lesson_id}/reflection")
async def lesson_form(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_lesson(request, "manage")
    config = services.config.reflection
    mine = reflections.of_lesson(services.db, row["id"], user.id)
    if mine is not None and mine["state"] == "answered":
        raise redirect(f"/lessons/{row['id']}")  # answered: it shows on the lesson page
    values = reflections.prefill(services.db, "lesson", config, row["id"], user.id)
    asked = reflections.is_asked(services.db, row, user.id, config)
    return _lesson_page(request, row, values, decline=asked)


def _lesson_page(
    request: web.Request,
    row: dict[str, Any],
    values: dict[str, Any],
    error: DomainError | None = None,
    decline: bool = False,
) -> web.Response:
    form = reflection_forms.configured(services_of(request).config.reflection, "lesson")
    action, back = f"/lessons/{row['id']}/reflection", f"/lessons/{row['id']}"
    subject = row["title"] or row["started_at"]
    return _form_page(request, form, action, back, subject, values, error, decline)


@routes.post("/lessons/{lesson_id}/reflection")
async def answer_lesson(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_lesson(request, "manage")
    posted = await form_of(request)
    form = reflection_forms.configured(services.config.reflection, "lesson")
    answers = reflection_forms.parse_form_answers(form, posted)
    try:
        reflections.answer_lesson(services, user, row, answers, posted.get("private") == "1")
    except DomainError as exc:
        return _lesson_page(request, row, {**answers, "private": posted.get("private") == "1"}, exc)
    raise redirect(f"/lessons/{row['id']}", "reflected")


@routes.post("/lessons/{lesson_id}/reflection/decline")
async def decline_lesson(request: web.Request) -> web.StreamResponse:
    user, row, _acc = page_lesson(request, "manage")
    try:
        reflections.decline_lesson(services_of(request), user, row)
    except DomainError as exc:
        raise PageError(exc.status, MESSAGES.get(exc.code, MESSAGES["reflection_exists"])) from None
    raise redirect(f"/lessons/{row['id']}", "reflection_declined")


def _conversation_page(
    request: web.Request, row: dict[str, Any], values: dict[str, Any], error: DomainError | None
) -> web.Response:
    form = reflection_forms.configured(services_of(request).config.reflection, "conversation")
    step_id = request.match_info["step_id"]
    return _form_page(
        request,
        form,
        f"/trajectories/{row['id']}/steps/{step_id}/reflection",
        f"/trajectories/{row['id']}",
        row["title"],
        values,
        error,
    )


@routes.get("/trajectories/{trajectory_id}/steps/{step_id}/reflection")
async def conversation_form(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = page_trajectory(request, "contribute")
    return _conversation_page(request, row, {}, None)


@routes.post("/trajectories/{trajectory_id}/steps/{step_id}/reflection")
async def answer_conversation(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_trajectory(request, "contribute")
    posted = await form_of(request)
    form = reflection_forms.configured(services.config.reflection, "conversation")
    answers = reflection_forms.parse_form_answers(form, posted)
    private = posted.get("private") == "1"
    try:
        reflections.answer_conversation(
            services, user, row, request.match_info["step_id"], answers, private
        )
    except DomainError as exc:
        return _conversation_page(request, row, {**answers, "private": private}, exc)
    raise redirect(f"/trajectories/{row['id']}", "reflected")
