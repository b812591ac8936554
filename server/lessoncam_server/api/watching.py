"""Watch together: start a session on a lesson, invite, remove, end, list my invitations, and
the session's WebSocket (aiohttp's own). The rules are in ``lessons/watching/``.

The socket needs the session cookie, an Origin of this server (a WebSocket is not covered by
the CSRF check: browsers send cookies with cross-site WebSocket requests), an invitation to
the session and access to the lesson; the room checks access again before every message that
changes what the others see, and once a second for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field

from ..access.principal import User
from ..access.sessions import COOKIE_NAME
from ..infra.errors import DomainError
from ..lessons.watching import records
from ..lessons.watching.messages import Refused
from ..lessons.watching.rooms import CLOSE_NO_ACCESS, WATCH_ROOMS, Room, Rooms
from ..services import SERVICES, client_address, services_of
from .lessons import lesson_for
from .support import (
    ApiRoutes,
    api_error,
    bad_request,
    json_response,
    not_found,
    read_body,
    require_user,
)

log = logging.getLogger(__name__)
routes = ApiRoutes("watch together")

#: aiohttp closes a connection whose message is bigger; the rooms refuse anything over 2 KiB.
MAX_FRAME_BYTES = 16 * 1024
#: aiohttp pings every so often: a connection that silently died is noticed.
HEARTBEAT_S = 10.0


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invite: list[str] = Field(
        default_factory=list, max_length=30, description="Usernames of people who may view it."
    )


class NewInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=100)


def rooms_of(request: web.Request) -> Rooms:
    return request.app[WATCH_ROOMS]


def describe(rooms: Rooms, room: Room, user: User) -> dict[str, Any]:
    session = room.session
    return {
        "id": room.id,
        "lesson_id": session.lesson_id,
        "host": session.host_id,
        "is_host": session.host_id == user.id,
        "leader": session.leader,
        "present": rooms.presence(room)["people"],
        "participants": records.participants(rooms.services.db, room.id),
        "join_url": f"/lessons/{session.lesson_id}?watch={room.id}",
        "socket_url": f"/api/v1/watch-sessions/{room.id}/socket",
    }


def _room(request: web.Request, user: User) -> Room:
    session_id = request.match_info["session_id"]
    try:
        return rooms_of(request).visible(session_id, user)
    except DomainError:
        services_of(request).audit(
            request,
            user,
            "access_denied",
            outcome="denied",
            object_kind="watch_session",
            object_id=session_id[:8],
            detail={"path": request.path[:200]},
        )
        raise not_found("watch-together session") from None


@routes.route(
    "POST",
    "/lessons/{lesson_id}/watch-sessions",
    summary="Start watching this lesson together, inviting people who may view it",
    auth="user",
    body=NewSession,
    responses={
        201: "Started",
        404: "No such lesson",
        409: "Not ready",
        422: "Someone named may not view it",
    },
)
async def start(request: web.Request) -> web.StreamResponse:
    user, row, _acc = lesson_for(request)
    body = await read_body(request, NewSession)
    rooms = rooms_of(request)
    try:
        room = rooms.start(row, user, body.invite)
    except DomainError as exc:
        raise api_error(exc) from None
    return json_response({"session": describe(rooms, room, user)}, status=201)


@routes.route(
    "GET",
    "/lessons/{lesson_id}/watch-sessions",
    summary="Running sessions on this lesson I may join; for the owner, who watched together",
    auth="user",
    responses={200: "Sessions", 404: "No such lesson"},
)
async def of_lesson(request: web.Request) -> web.StreamResponse:
    user, row, acc = lesson_for(request)
    rooms = rooms_of(request)
    running = [describe(rooms, room, user) for room in rooms.of_lesson(row["id"], user)]
    history = records.of_lesson(services_of(request).db, row["id"]) if acc.manage else None
    return json_response({"sessions": running, "history": history})


@routes.route(
    "GET",
    "/watch-invitations",
    summary="Sessions I am invited to, still running, on lessons I may view",
    auth="user",
)
async def invitations(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    services = services_of(request)
    found = records.open_invitations(services.db, user.id, services.now())
    running = rooms_of(request).rooms
    return json_response({"invitations": [i for i in found if i["session_id"] in running]})


@routes.route(
    "GET",
    "/watch-sessions/{session_id}",
    summary="A session I started or am invited to: who is invited, present, leading",
    auth="user",
    responses={200: "The session", 404: "No such session for me"},
)
async def show(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    return json_response({"session": describe(rooms_of(request), _room(request, user), user)})


@routes.route(
    "POST",
    "/watch-sessions/{session_id}/invitations",
    summary="Invite one more person (who may view the lesson) into my session",
    auth="user",
    body=NewInvitation,
    responses={201: "Invited", 403: "Not the host", 404: "No such session", 422: "Cannot view"},
)
async def invite(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    room = _room(request, user)
    body = await read_body(request, NewInvitation)
    try:
        invited = await rooms_of(request).invite(room, user, body.username)
    except DomainError as exc:
        raise api_error(exc) from None
    return json_response({"invited": invited["username"]}, status=201)


@routes.route(
    "DELETE",
    "/watch-sessions/{session_id}/invitations/{username}",
    summary="Take someone out of my session (disconnected at once)",
    auth="user",
    responses={204: "Removed", 403: "Not the host", 404: "No such session or person"},
)
async def remove(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    room = _room(request, user)
    try:
        await rooms_of(request).remove(room, user, request.match_info["username"])
    except DomainError as exc:
        raise api_error(exc) from None
    return web.Response(status=204)


@routes.route(
    "POST",
    "/watch-sessions/{session_id}/end",
    summary="End my session for everyone",
    auth="user",
    responses={204: "Ended", 403: "Not the host", 404: "No such session"},
)
async def end(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    room = _room(request, user)
    try:
        await rooms_of(request).end_by(room, user)
    except DomainError as exc:
        raise api_error(exc) from None
    return web.Response(status=204)


class _SocketPeer:
    """aiohttp's WebSocket as the rooms' ``Peer``."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_json(message)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, message=reason.encode()[:100])


def _same_origin(request: web.Request) -> bool:
    # Browsers always send Origin with a WebSocket; one from another site (or none) is refused.
    origin = request.headers.get("Origin")
    return origin in (f"{request.scheme}://{request.host}", f"https://{request.host}")


@routes.route(
    "GET",
    "/watch-sessions/{session_id}/socket",
    summary="The session's WebSocket (JSON messages; see docs/watch-together.md)",
    auth="user",
    responses={
        101: "Switching protocols",
        400: "Not a WebSocket request",
        403: "Another site's page",
        404: "No such session for me",
    },
)
async def socket(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    services = services_of(request)
    if not _same_origin(request):
        services.audit(
            request, user, "access_denied", outcome="denied", detail={"path": request.path}
        )
        raise api_error(
            DomainError("cross_origin", "requests from other sites are not accepted", status=403)
        )
    room = _room(request, user)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    if not ws.can_prepare(request).ok:
        raise bad_request("open this address as a WebSocket", "websocket_required")
    await ws.prepare(request)
    rooms = rooms_of(request)
    try:
        connection = await rooms.connect(
            room,
            user,
            request.cookies.get(COOKIE_NAME, ""),
            _SocketPeer(ws),
            client_address(request),
        )
    except Refused as refused:
        await ws.close(code=CLOSE_NO_ACCESS, message=refused.code.encode())
        return ws
    try:
        async for message in ws:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await rooms.receive(room, connection, message.data)
    finally:
        # aiohttp may cancel this handler once the client has gone: the others must still
        # hear that she left, and her time must still be recorded.
        await asyncio.shield(rooms.disconnect(room, connection))
    return ws


def setup(app: web.Application) -> None:
    """The running sessions on ``app``: made after the database opens (a previous process's
    sessions end), swept every second, all ended when the server stops."""

    async def rooms_ctx(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        ended = records.end_all_open(services.db, "server_restarted", services.now())
        if ended:
            log.info("ended %d watch-together sessions left open by the previous process", ended)
        rooms = Rooms(services)
        app[WATCH_ROOMS] = rooms
        sweeper = asyncio.create_task(rooms.run_sweeps())
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper

    async def on_shutdown(app: web.Application) -> None:
        if WATCH_ROOMS in app:
            await app[WATCH_ROOMS].close_all()

    app.cleanup_ctx.append(rooms_ctx)
    app.on_shutdown.append(on_shutdown)
