"""Interaction coding as pages: the coding panel under the player (static/coding.js drives it
through the JSON API), the printable analysis of a coding, the agreement of two coders, and
the coding schemes with the coach's editor. The rules are in ``coding/``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from markupsafe import Markup

from ..access.permissions import Access
from ..coaching import linking
from ..coding import agreement, analysis, codings, store
from ..coding.schemes import Scheme
from ..infra.errors import DomainError, Invalid
from ..infra.numbers import whole_number
from ..lessons.fragments import format_time
from ..services import services_of
from .i18n import N_
from .lesson_access import page_lesson
from .render import PageError, form_of, redirect, render, render_fragment, signed_in

routes = web.RouteTableDef()


def coding_panel(request: web.Request, row: dict[str, Any], acc: Access) -> Markup:
    """The coding panel under the player: the schemes to code with and the trajectory the
    lesson is in; the codings themselves come from the API."""
    services = services_of(request)
    user = signed_in(request)
    schemes = [
        {"id": r["id"], "scheme": store.get(services.db, r["id"])[1]}
        for r in store.listing(services.db, services.config.coding)
    ]
    context = {
        "lesson": {"id": row["id"], "duration_s": row["duration_s"]},
        "access": acc,
        "schemes": schemes,
        "trajectory": linking.trajectory_of_lesson(services.db, row["id"], user.id),
    }
    return Markup(render_fragment(request, "_coding.html", context))  # noqa: S704 (our template)


def _coding_id(request: web.Request) -> int:
    number = whole_number(request.match_info["coding_id"], 12)
    if number is None:
        raise PageError(404, N_("This coding is not available to you."))
    return number


def _number(raw: str | None) -> float | None:
    """A number of seconds from a form field (``m:ss`` or seconds), or None when empty."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        if ":" in text:
            minutes, _, seconds = text.partition(":")
            return int(minutes) * 60 + float(seconds)
        return float(text)
    except ValueError:
        raise Invalid("fragment_invalid", "write a time as m:ss or seconds") from None


def _visible_coding(request: web.Request, lesson_id: str, coding_id: int) -> dict[str, Any]:
    services = services_of(request)
    try:
        return codings.get(services.db, lesson_id, coding_id, signed_in(request).id)
    except DomainError:
        raise PageError(404, N_("This coding is not available to you.")) from None


@routes.get("/lessons/{lesson_id}/codings/{coding_id}/analysis")
async def analysis_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _user, lesson, _acc = page_lesson(request)
    row = _visible_coding(request, lesson["id"], _coding_id(request))
    scheme = codings.scheme_of(services.db, row)
    duration = codings.lesson_duration(lesson)
    error = None
    try:
        part = analysis.span(
            duration, _number(request.query.get("from")), _number(request.query.get("to"))
        )
    except Invalid:
        error = N_("The fragment must start before it ends, within the lesson (m:ss).")
        part = analysis.span(duration)
    window = services.config.coding.transition_window_s
    result = analysis.analyse(scheme, codings.load(services.db, row["id"]), duration, part, window)
    return render(
        request,
        "coding_analysis.html",
        {
            "row": lesson,
            "coding": row,
            "pseudonym": codings.pseudonym(row["id"]),
            "scheme": scheme,
            "result": result,
            "error": error,
            "from": format_time(part.from_s),
            "to": format_time(part.to_s),
        },
    )


@routes.get("/lessons/{lesson_id}/coding-agreement")
async def agreement_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _user, lesson, _acc = page_lesson(request)
    ids = [whole_number(request.query.get(k, ""), 12) for k in ("a", "b")]
    if ids[0] is None or ids[1] is None:
        raise PageError(404, N_("This coding is not available to you."))
    first = _visible_coding(request, lesson["id"], ids[0])
    second = _visible_coding(request, lesson["id"], ids[1])
    if first["scheme_id"] != second["scheme_id"]:
        raise PageError(400, N_("Compare two codings made with the same scheme version."))
    scheme = codings.scheme_of(services.db, first)
    tolerance = services.config.coding.agreement_tolerance_s
    result = agreement.agreement(
        scheme,
        codings.load(services.db, first["id"]),
        codings.load(services.db, second["id"]),
        tolerance,
    )
    return render(
        request,
        "coding_agreement.html",
        {
            "row": lesson,
            "scheme": scheme,
            "result": result,
            "a": codings.pseudonym(first["id"]),
            "b": codings.pseudonym(second["id"]),
        },
    )


# --- schemes --------------------------------------------------------------------------------


def _schemes_context(request: web.Request, draft: str = "", error: str = "") -> dict[str, Any]:
    services = services_of(request)
    user = signed_in(request)
    rows = store.listing(services.db, services.config.coding)
    items = []
    for row in rows:
        scheme = store.get(services.db, row["id"])[1]
        definition = scheme.model_dump(mode="json")
        items.append(
            {
                "row": row,
                "scheme": scheme,
                "mine": row["created_by"] == user.id and row["origin"] == "coach",
                "json": json.dumps(definition, indent=2, ensure_ascii=False),
            }
        )
    example = Scheme.model_validate(
        {**services.config.coding.schemes[0].model_dump(mode="json"), "key": "my_scheme"}
    )
    return {
        "items": items,
        "may_make": user.role in store.MAKERS,
        "draft": draft or json.dumps(example.model_dump(mode="json"), indent=2, ensure_ascii=False),
        "error": error,
    }


@routes.get("/coding-schemes")
async def schemes_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    return render(request, "coding_schemes.html", _schemes_context(request))


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Invalid("scheme_invalid", f"the scheme is not valid JSON: {exc}") from None


@routes.post("/coding-schemes")
async def make_scheme(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    form = await form_of(request)
    text = form.get("definition", "")
    try:
        store.create(services.db, user, _parsed(text), services.now())
    except DomainError as exc:
        return _refused(request, exc, text, N_("Only coaches make coding schemes."))
    raise redirect("/coding-schemes", "saved")


def _refused(request: web.Request, exc: DomainError, text: str, forbidden: str) -> web.Response:
    """The schemes page again with what was typed and why it was not saved (a 403 page when
    the person may not do this at all)."""
    if exc.status == 403:
        raise PageError(403, forbidden) from None
    context = _schemes_context(request, draft=text, error=exc.message)
    return render(request, "coding_schemes.html", context, status=exc.status)


@routes.post("/coding-schemes/{scheme_id}")
async def save_scheme(request: web.Request) -> web.StreamResponse:
    """Save a coach's changed scheme: in place while no coding uses it, else as a new version."""
    services = services_of(request)
    user = signed_in(request)
    scheme_id = whole_number(request.match_info["scheme_id"], 12)
    form = await form_of(request)
    text = form.get("definition", "")
    try:
        if scheme_id is None:
            raise Invalid("not_found", "no such coding scheme")
        definition = _parsed(text)
        try:
            store.replace(services.db, user, scheme_id, definition)
        except DomainError as exc:
            if exc.code != "scheme_in_use":
                raise
            store.new_version(services.db, user, scheme_id, definition, services.now())
    except DomainError as exc:
        return _refused(request, exc, text, N_("Only the coach who made a scheme changes it."))
    raise redirect("/coding-schemes", "saved")
