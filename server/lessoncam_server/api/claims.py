"""Unit claims: a teacher uses a unit for her lessons for a while (rules in ``claims.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..lessons.fragments import InvalidInput
from ..middleware import ApiError
from ..services import services_of
from ..units import claims, fleet
from .comments import refused
from .support import ApiRoutes, forbidden, json_response, not_found, read_body, require_user

routes = ApiRoutes("claims")


class NewClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: str = Field(max_length=64)
    hours: int | None = Field(None, description="Fewer hours than the server's maximum.")


def _active_unit(request: web.Request, unit_id: str) -> dict[str, Any]:
    unit = fleet.active_unit(services_of(request).db, unit_id)
    if unit is None:
        raise not_found("unit")
    return unit


@routes.route(
    "GET",
    "/unit-claims",
    summary="Every unit with its default teacher and who is using it now",
    auth="user",
)
async def list_claims(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    now = services.now()
    out = [
        {
            "unit_id": unit["id"],
            "name": unit["name"],
            "online": unit["online"],
            "default_teacher": unit["teacher"],
            "claim": unit["claim"],
        }
        for unit in claims.claimable_units(services.db, user.id, now)
    ]
    return json_response({"units": out, "max_hours": services.config.unit_claims.hours})


@routes.route(
    "POST",
    "/unit-claims",
    summary="Use a unit for my lessons (or extend my claim)",
    auth="user",
    body=NewClaim,
    responses={
        201: "Claimed",
        200: "My claim extended",
        403: "Administrators cannot claim units",
        404: "No such unit",
        409: "Another teacher is using the unit",
        422: "Too many hours",
    },
)
async def create_claim(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    body = await read_body(request, NewClaim)
    unit = _active_unit(request, body.unit_id)
    if user.role == "admin":
        raise forbidden("administrator accounts do not own lessons; a teacher claims a unit")
    limit = services.config.unit_claims.hours
    hours = body.hours if body.hours is not None else limit
    if not 1 <= hours <= limit:
        raise ApiError(422, "claim_hours", f"a claim lasts from 1 to {limit} hours")
    try:
        claim, created = claims.claim(services.db, unit["id"], user.id, hours, services.now())
    except InvalidInput as exc:
        raise refused(exc) from None
    services.audit(
        request,
        user,
        "unit_claim",
        object_kind="unit",
        object_id=unit["id"],
        detail={"until": claim["expires_at"], "extended": not created},
    )
    return json_response({"claim": claims.describe(claim, user.id)}, status=201 if created else 200)


@routes.route(
    "DELETE",
    "/unit-claims/{unit_id}",
    summary="End the claim on a unit (its holder, the unit's default teacher, or an admin)",
    auth="user",
    responses={204: "Ended", 403: "Not yours to end", 404: "No such unit or no claim"},
)
async def end_claim(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    unit = _active_unit(request, request.match_info["unit_id"])
    now = services.now()
    held = claims.active(services.db, unit["id"], now)
    if held is None:
        raise not_found("claim")
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
        raise forbidden("only the teacher using the unit, its own teacher or an admin may end it")
    claims.release(services.db, held["id"], user.id, now)
    services.audit(
        request,
        user,
        "unit_release",
        object_kind="unit",
        object_id=unit["id"],
        detail={"claimed_by": held["username"]},
    )
    return web.Response(status=204)
