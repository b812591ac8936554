"""Sharing a lesson with named accounts, as viewer or commenter, optionally until a date."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from ..infra.errors import Invalid
from ..lessons import sharing
from ..lessons.watching.rooms import WATCH_ROOMS
from ..services import client_address, services_of
from .lessons import lesson_for
from .support import ApiRoutes, bad_request, json_response, not_found, read_body

routes = ApiRoutes("shares")


class NewShare(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "commenter"] = "viewer"
    expires_at: AwareDatetime | None = None


@routes.route(
    "GET",
    "/lessons/{lesson_id}/shares",
    summary="Who my lesson is shared with",
    auth="user",
    responses={200: "Shares", 403: "Not the owner", 404: "No such lesson"},
)
async def list_shares(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = lesson_for(request, "manage")
    return json_response({"shares": sharing.shares_of(services_of(request).db, row["id"])})


@routes.route(
    "POST",
    "/lessons/{lesson_id}/shares",
    summary="Share my lesson with an account",
    auth="user",
    body=NewShare,
    responses={
        201: "Shared",
        200: "Share updated",
        400: "No such account",
        403: "Not the owner",
        404: "No such lesson",
    },
)
async def create_share(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = lesson_for(request, "manage")
    body = await read_body(request, NewShare)
    try:
        share_id, created = sharing.share_lesson(
            services,
            user,
            row,
            body.username,
            body.role,
            body.expires_at,
            address=client_address(request),
        )
    except Invalid as exc:
        # The API has answered these with the general code since the start: keep it.
        raise bad_request(exc.message) from None
    share = next(s for s in sharing.shares_of(services.db, row["id"]) if s["id"] == share_id)
    return json_response({"share": share}, status=201 if created else 200)


@routes.route(
    "DELETE",
    "/lessons/{lesson_id}/shares/{share_id}",
    summary="Revoke a share",
    auth="user",
    responses={204: "Revoked", 403: "Not the owner", 404: "No such share"},
)
async def revoke_share(request: web.Request) -> web.StreamResponse:
    user, row, _acc = lesson_for(request, "manage")
    revoked = sharing.revoke_share(
        services_of(request),
        user,
        row,
        request.match_info["share_id"],
        address=client_address(request),
    )
    if revoked is None:
        raise not_found("share")
    # Whoever watches it together through this share is disconnected at once.
    await request.app[WATCH_ROOMS].recheck(row["id"])
    return web.Response(status=204)
