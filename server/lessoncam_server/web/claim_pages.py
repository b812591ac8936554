"""Units for teachers: "I am using unit Group 5" (a claim), until when, and ending it.

The rules live in ``units/claims.py``: one holder at a time, at most ``[unit_claims] hours``,
lessons that start while the claim holds are the holder's; admins cannot claim.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..coaching import linking
from ..infra.errors import DomainError, Forbidden, NotFound
from ..services import client_address, services_of
from ..units import claims
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
    context = {
        "units": _units(request, user.id),
        "max_hours": hours,
        "error": error,
        "trajectories": linking.accepting_trajectories(services_of(request).db, user.id),
    }
    return render(request, "units.html", context, status=status)


@routes.get("/units")
async def units_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    return _page(request)


@routes.post("/units/{unit_id}/claim")
async def claim(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    unit_id = request.match_info["unit_id"]
    limit = services.config.unit_claims.hours
    form = await form_of(request)
    raw = form.get("hours", str(limit))
    hours = int(raw) if raw.isdigit() and len(raw) < 4 else 0  # 0: refused as too few
    chosen = form.get("trajectory_id", "")
    trajectory_id = int(chosen) if chosen.isdigit() and len(chosen) < 12 else None
    try:
        claims.claim_unit(
            services,
            user,
            unit_id,
            hours,
            address=client_address(request),
            trajectory_id=trajectory_id,
        )
    except DomainError as exc:
        if exc.code == "not_found":
            raise PageError(404, NO_SUCH_UNIT) from None
        if exc.code == "forbidden":
            message = t(request, "Administrator accounts do not own lessons, so they cannot claim.")
            return _page(request, message, 403)
        if exc.code == "claim_hours":
            return _page(request, t(request, "Choose from 1 to %(max)s hours.", max=limit), 400)
        if exc.code == "trajectory_not_yours":
            message = t(request, "Lessons can go into one of your own open trajectories only.")
            return _page(request, message, 422)
        if exc.code != "unit_claimed":
            raise
        current = claims.active(services.db, unit_id, services.now()) or {}
        message = t(
            request,
            "%(name)s is using this unit now. Ask her or him to stop, or wait.",
            name=current.get("display_name", "?"),
        )
        return _page(request, message, 409)
    raise redirect("/units", "claimed")


@routes.post("/units/{unit_id}/release")
async def release(request: web.Request) -> web.StreamResponse:
    try:
        claims.end_claim(
            services_of(request),
            signed_in(request),
            request.match_info["unit_id"],
            address=client_address(request),
            path=request.path,
        )
    except NotFound:
        raise PageError(404, NO_SUCH_UNIT) from None
    except Forbidden:
        raise PageError(
            403, N_("Only the person using the unit, its own teacher or an admin may end this.")
        ) from None
    raise redirect("/units", "released")
