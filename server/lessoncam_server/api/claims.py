"""Unit claims: a teacher uses a unit for her lessons for a while (rules in ``units/claims.py``)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..services import client_address, services_of
from ..units import claims
from .support import ApiRoutes, json_response, not_found, read_body, require_user

routes = ApiRoutes("claims")


class NewClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: str = Field(max_length=64)
    hours: int | None = Field(None, description="Fewer hours than the server's maximum.")
    trajectory_id: int | None = Field(
        None, description="One of my open trajectories: the claim's lessons go into it."
    )


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
        422: "Too many hours, or not one of my open trajectories",
    },
)
async def create_claim(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    body = await read_body(request, NewClaim)
    claim, created = claims.claim_unit(
        services_of(request),
        user,
        body.unit_id,
        body.hours,
        address=client_address(request),
        trajectory_id=body.trajectory_id,
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
    ended = claims.end_claim(
        services_of(request),
        require_user(request),
        request.match_info["unit_id"],
        address=client_address(request),
        path=request.path,
    )
    if ended is None:
        raise not_found("claim")
    return web.Response(status=204)
