"""Sharing a lesson with named accounts, as viewer or commenter, optionally until a date."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from ..access import accounts
from ..infra.timeutil import to_iso
from ..lessons import sharing
from ..services import services_of
from .lessons import lesson_for
from .support import ApiRoutes, bad_request, json_response, not_found, read_body

routes = ApiRoutes("shares")


class NewShare(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "commenter"] = "viewer"
    expires_at: AwareDatetime | None = None


def _shares(request: web.Request, recording_id: str) -> list[dict[str, Any]]:
    rows = services_of(request).db.execute(
        """SELECT s.id, u.username, u.display_name, s.role, s.created_at, s.expires_at,
                  s.revoked_at FROM shares s JOIN users u ON u.id = s.user_id
           WHERE s.recording_id = ? ORDER BY s.created_at""",
        [recording_id],
    )
    cols = [c[0] for c in rows.description]
    return [dict(zip(cols, r, strict=True)) for r in rows.fetchall()]


@routes.route(
    "GET",
    "/lessons/{lesson_id}/shares",
    summary="Who my lesson is shared with",
    auth="user",
    responses={200: "Shares", 403: "Not the owner", 404: "No such lesson"},
)
async def list_shares(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = lesson_for(request, "manage")
    return json_response({"shares": _shares(request, row["id"])})


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
    now = services.now()
    target = accounts.find_user(services.db, body.username)
    if target is None or target["disabled"]:
        raise bad_request(f"there is no active account named {body.username!r}")
    if target["id"] == user.id:
        raise bad_request("this is your own lesson already")
    if body.expires_at is not None and body.expires_at <= now:
        raise bad_request("expires_at lies in the past")
    share_id, created = sharing.grant(
        services.db, row["id"], target["id"], body.role, body.expires_at, user.id, now
    )
    services.audit(
        request,
        user,
        "share_create",
        object_kind="lesson",
        object_id=row["id"],
        detail={
            "with": target["username"],
            "role": body.role,
            "expires_at": to_iso(body.expires_at) if body.expires_at else None,
        },
    )
    share = next(s for s in _shares(request, row["id"]) if s["id"] == share_id)
    return json_response({"share": share}, status=201 if created else 200)


@routes.route(
    "DELETE",
    "/lessons/{lesson_id}/shares/{share_id}",
    summary="Revoke a share",
    auth="user",
    responses={204: "Revoked", 403: "Not the owner", 404: "No such share"},
)
async def revoke_share(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = lesson_for(request, "manage")
    revoked = sharing.revoke(services.db, row["id"], request.match_info["share_id"], services.now())
    if revoked is None:
        raise not_found("share")
    services.audit(
        request,
        user,
        "share_revoke",
        object_kind="lesson",
        object_id=row["id"],
        detail={"share": revoked},
    )
    return web.Response(status=204)
