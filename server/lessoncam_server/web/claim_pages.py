"""Units for teachers: "I am using unit Group 5" (a claim), until when, and ending it.

The rules live in ``claims.py``: one holder at a time, at most ``[unit_claims] hours``, lessons
that start while the claim holds are the holder's; admins cannot claim.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..lessons.fragments import InvalidInput
from ..services import services_of
from ..units import claims, fleet
from .i18n import N_, t
from .render import PageError, form_of, redirect, render, signed_in

routes = web.RouteTableDef()

NO_SUCH_UNIT = N_("This unit does not exist or was revoked.")


def _units(request: web.Request, user_id: int) -> list[dict[str, Any]]:
    services = services_of(request)
    return [
        {
            "id": unit["id"],
            "name": unit["name"],
            "online": unit["online"],
            "default_teacher": unit["teacher"]["display_name"] if unit["teacher"] else None,
            "is_default_teacher": unit["teacher_id"] == user_id,
            "claim": unit["claim"],
        }
        for unit in claims.claimable_units(services.db, user_id, services.now())
    ]


def _page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    user = signed_in(request)
    hours = services_of(request).config.unit_claims.hours
    context = {"units": _units(request, user.id), "max_hours": hours, "error": error}
    return render(request, "units.html", context, status=status)


def _unit(request: web.Request) -> dict[str, Any]:
    unit = fleet.active_unit(services_of(request).db, request.match_info["unit_id"])
    if unit is None:
        raise PageError(404, NO_SUCH_UNIT)
    return unit


@routes.get("/units")
async def units_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    return _page(request)


@routes.post("/units/{unit_id}/claim")
async def claim(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    unit = _unit(request)
    if user.role == "admin":
        message = t(request, "Administrator accounts do not own lessons, so they cannot claim.")
        return _page(request, message, 403)
    form = await form_of(request)
    limit = services.config.unit_claims.hours
    raw = form.get("hours", str(limit))
    hours = int(raw) if raw.isdigit() and len(raw) < 4 else 0
    if not 1 <= hours <= limit:
        message = t(request, "Choose from 1 to %(max)s hours.", max=limit)
        return _page(request, message, 400)
    try:
        held, created = claims.claim(services.db, unit["id"], user.id, hours, services.now())
    except InvalidInput as exc:
        if exc.code != "unit_claimed":
            raise
        current = claims.active(services.db, unit["id"], services.now()) or {}
        message = t(
            request,
            "%(name)s is using this unit now. Ask her or him to stop, or wait.",
            name=current.get("display_name", "?"),
        )
        return _page(request, message, 409)
    services.audit(
        request,
        user,
        "unit_claim",
        object_kind="unit",
        object_id=unit["id"],
        detail={"until": held["expires_at"], "extended": not created},
    )
    raise redirect("/units", "claimed")


@routes.post("/units/{unit_id}/release")
async def release(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    unit = _unit(request)
    now = services.now()
    held = claims.active(services.db, unit["id"], now)
    if held is None:
        raise redirect("/units", "released")
    if not claims.may_end(user, held, unit):
        services.audit(
            request,
            user,
            "access_denied",
            outcome="denied",
            object_kind="unit",
            object_id=unit["id"],
            detail={"path": request.path},
        )
        raise PageError(
            403, N_("Only the person using the unit, its own teacher or an admin may end this.")
        )
    claims.release(services.db, held["id"], user.id, now)
    services.audit(
        request,
        user,
        "unit_release",
        object_kind="unit",
        object_id=unit["id"],
        detail={"claimed_by": held["username"]},
    )
    raise redirect("/units", "released")
