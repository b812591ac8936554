"""The running sessions: each room holds a ``WatchSession`` and the open connections of the
people in it, checks every message (``messages.parse``, the flood bucket, the person's access
to the lesson and her sign-in, again, before anything that changes what others see) and sends
what changed to everyone. A sweep every second ends sessions that emptied or ran out, and
disconnects anyone whose access ended (a revoked share, a sign-out) even if she sends nothing.

Connections are ``Peer`` objects (the API wraps aiohttp's WebSocket in one), so the rooms can
be driven in tests without a network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from ...access import accounts
from ...access.principal import User
from ...infra.errors import Conflict, Forbidden, Invalid, NotFound
from ...services import Services
from ...units import recordings
from .. import library
from . import records
from .flood import Bucket
from .lifetime import Lifetime
from .messages import (
    STATE_CHANGING,
    CommentMade,
    LayoutChange,
    Lead,
    Leave,
    Ping,
    Pointer,
    Refused,
    StateChange,
    parse,
)
from .session import WatchSession

log = logging.getLogger(__name__)

#: WebSocket close codes the browser acts on: 4403 and 4404 mean "do not reconnect".
CLOSE_NO_ACCESS = 4403
CLOSE_ENDED = 4404
CLOSE_FLOOD = 1008
#: How often access and the sessions' lifetimes are checked when nobody sends anything.
SWEEP_EVERY_S = 1.0
MAX_INVITED = 30
#: Refusals worth an audit entry: someone tried what the page never sends.
AUDITED = frozenset({"other_lesson", "replayed", "not_invited", "no_access", "forbidden"})


class Peer(Protocol):
    """One browser's connection."""

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message (raises if the connection is gone)."""

    async def close(self, code: int, reason: str) -> None:
        """Close the connection with a WebSocket close code."""


@dataclass
class Connection:
    id: int
    user: User
    cookie: str
    peer: Peer
    address: str
    since_s: float
    bucket: Bucket = field(default_factory=Bucket)
    last_seq: int = 0
    can_comment: bool = False


@dataclass
class Room:
    session: WatchSession
    started_s: float
    connections: dict[int, Connection] = field(default_factory=dict)
    empty_since_s: float | None = None
    joined: bool = False  # anyone, ever
    names: dict[int, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.session.id


def wall_ms() -> float:
    return time.time() * 1000.0


class Rooms:
    """Every running session of this server process (on the app as ``WATCH_ROOMS``)."""

    def __init__(
        self,
        services: Services,
        lifetime: Lifetime | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], float] = wall_ms,
    ) -> None:
        self.services = services
        self.lifetime = lifetime or Lifetime()
        self.monotonic = monotonic
        self.now_ms = now_ms
        self.rooms: dict[str, Room] = {}
        self._next_connection = 0
        self._closing: set[asyncio.Task[None]] = set()

    # --- sessions ------------------------------------------------------------------------------

    def start(self, lesson: dict[str, Any], host: User, invite: list[str]) -> Room:
        """``host`` (who may view ``lesson``) starts a session and invites the people named in
        ``invite`` (usernames; each must be able to view the lesson)."""
        if lesson["state"] != "ready":
            raise Conflict("lesson_not_ready", "the lesson is not ready yet")
        db, now = self.services.db, self.services.now()
        invited = [self._invitee(lesson, host, name) for name in dict.fromkeys(invite)]
        if len(invited) > MAX_INVITED:
            raise Invalid("too_many_invited", f"invite at most {MAX_INVITED} people")
        session_id = secrets.token_urlsafe(16)
        records.create(db, session_id, lesson["id"], host.id, now)
        session = WatchSession(
            id=session_id,
            lesson_id=lesson["id"],
            host_id=host.id,
            duration_s=float(lesson["duration_s"] or 0.0),
        )
        for user in invited:
            records.invite(db, session_id, user["id"], host.id, now)
            session.invite(user["id"])
        room = Room(session=session, started_s=self.monotonic(), empty_since_s=self.monotonic())
        self.rooms[session_id] = room
        self.services.audit(
            None,
            host,
            "watch_start",
            object_kind="lesson",
            object_id=lesson["id"],
            detail={"session": session_id[:8], "invited": [u["username"] for u in invited]},
        )
        return room

    def _invitee(self, lesson: dict[str, Any], host: User, username: str) -> dict[str, Any]:
        user = accounts.find_user(self.services.db, username)
        if user is None or user["disabled"] or user["id"] == host.id:
            raise Invalid("unknown_user", f"there is no one else called {username!r}")
        if not records.may_view(self.services.db, user["id"], lesson, self.services.now()):
            raise Invalid(
                "cannot_view",
                f"{username} may not view this lesson: share it with her or him first",
            )
        return user

    def get(self, session_id: str) -> Room | None:
        return self.rooms.get(session_id)

    def visible(self, session_id: str, user: User) -> Room:
        """The running session ``session_id`` if ``user`` started it or is invited to it and
        may still view its lesson; NotFound otherwise (the same answer either way)."""
        room = self.rooms.get(session_id)
        if room is None or not room.session.may_join(user.id) or not self._may_view(room, user):
            raise NotFound("not_found", "no such watch-together session, or not for you")
        return room

    def of_lesson(self, lesson_id: str, user: User) -> list[Room]:
        return [
            room
            for room in self.rooms.values()
            if room.session.lesson_id == lesson_id and room.session.may_join(user.id)
        ]

    async def invite(self, room: Room, host: User, username: str) -> dict[str, Any]:
        self._must_host(room, host)
        lesson = self._lesson(room)
        if lesson is None:
            raise NotFound("not_found", "the lesson is gone")
        user = self._invitee(lesson, host, username)
        if len(room.session.invited) >= MAX_INVITED:
            raise Invalid("too_many_invited", f"invite at most {MAX_INVITED} people")
        records.invite(self.services.db, room.id, user["id"], host.id, self.services.now())
        room.session.invite(user["id"])
        await self._presence(room)
        return user

    async def remove(self, room: Room, host: User, username: str) -> None:
        """The host takes someone out of the session: she is disconnected at once."""
        self._must_host(room, host)
        user = accounts.find_user(self.services.db, username)
        if user is None or user["id"] not in room.session.invited:
            raise NotFound("not_found", f"{username} is not invited to this session")
        room.session.uninvite(user["id"])
        records.remove(self.services.db, room.id, user["id"], self.services.now())
        for connection in [c for c in room.connections.values() if c.user.id == user["id"]]:
            await self._drop(room, connection, CLOSE_NO_ACCESS, "removed")
        await self._presence(room)  # the invitation list changed, whether she was there or not

    def _must_host(self, room: Room, user: User) -> None:
        if room.session.host_id != user.id:
            raise Forbidden("not_host", "only the person who started the session may do this")

    async def end(self, room: Room, reason: str) -> None:
        """End the session: everyone is told and disconnected; the record keeps why."""
        if self.rooms.pop(room.id, None) is None:
            return
        records.end(self.services.db, room.id, reason, self.services.now())
        for connection in list(room.connections.values()):
            with contextlib.suppress(Exception):
                await connection.peer.send({"type": "ended", "reason": reason})
            await self._drop(room, connection, CLOSE_ENDED, reason, tell=False)
        log.info("watch session %s… ended: %s", room.id[:8], reason)

    async def end_by(self, room: Room, user: User) -> None:
        self._must_host(room, user)
        await self.end(room, "ended_by_host")

    async def close_all(self) -> None:
        for room in list(self.rooms.values()):
            await self.end(room, "server_stopped")
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=5)

    def open_presence(self, session_id: str) -> dict[int, float]:
        """Seconds each person has been present on the connections still open (not yet in
        the records: those are written when a connection closes), by user id."""
        room = self.rooms.get(session_id)
        if room is None:
            return {}
        now_s = self.monotonic()
        present: dict[int, float] = {}
        for connection in room.connections.values():
            # Two tabs of one person count once: the longer one.
            seconds = now_s - connection.since_s
            present[connection.user.id] = max(present.get(connection.user.id, 0.0), seconds)
        return present

    # --- connections ---------------------------------------------------------------------------

    async def connect(
        self, room: Room, user: User, cookie: str, peer: Peer, address: str
    ) -> Connection:
        """``user`` (signed in with ``cookie``, checked by the caller) joins ``room``: she gets
        the session's state at this moment, the others see her arrive."""
        acc = self._access(room, user)
        if acc is None:
            raise Refused("no_access")
        self._next_connection += 1
        connection = Connection(
            id=self._next_connection,
            user=user,
            cookie=cookie,
            peer=peer,
            address=address,
            since_s=self.monotonic(),
            can_comment=acc.comment,
        )
        room.session.join(connection.id, user.id)
        room.connections[connection.id] = connection
        room.names[user.id] = user.display_name
        room.empty_since_s = None
        room.joined = True
        records.joined(self.services.db, room.id, user.id, self.services.now())
        now_ms = self.now_ms()
        session = room.session
        await peer.send(
            {
                "type": "welcome",
                "you": user.id,
                "session": room.id,
                "lesson": session.lesson_id,
                "host": session.host_id,
                "can_comment": acc.comment,
                "server_ms": round(now_ms, 1),
                "state": session.timeline.settled(now_ms, session.duration_s).as_message(),
                "layout": session.layout.as_message(),
            }
        )
        await self._presence(room)
        return connection

    async def disconnect(self, room: Room, connection: Connection) -> None:
        """Her connection closed (she left, the network dropped, the tab closed)."""
        if room.connections.pop(connection.id, None) is None:
            return
        self._leave(room, connection)
        if self.rooms.get(room.id) is room:
            await self._presence(room)

    def _leave(self, room: Room, connection: Connection) -> None:
        room.session.leave(connection.id)
        present_s = self.monotonic() - connection.since_s
        records.left(self.services.db, room.id, connection.user.id, present_s, self.services.now())
        if not room.connections:
            room.empty_since_s = self.monotonic()

    async def _drop(
        self, room: Room, connection: Connection, code: int, reason: str, *, tell: bool = True
    ) -> None:
        """Take ``connection`` out of ``room``: the others hear of it first, then she is told
        why and her socket closes (in the background: a browser slow to answer the close
        must not hold up whoever caused it)."""
        if room.connections.pop(connection.id, None) is not None:
            self._leave(room, connection)
            if self.rooms.get(room.id) is room:
                await self._presence(room)
        if tell:
            with contextlib.suppress(Exception):
                await connection.peer.send({"type": "removed", "reason": reason})
        closing = asyncio.create_task(connection.peer.close(code, reason))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def receive(self, room: Room, connection: Connection, raw: str | bytes) -> None:
        """One message from ``connection``: acted on, or refused (told to her, logged)."""
        if not connection.bucket.allow(self.monotonic()):
            if connection.bucket.strikes == 1:
                self._refused(room, connection, Refused("rate_limited"))
                await self._tell_refused(connection, "rate_limited", None)
            if connection.bucket.exhausted:
                await self._drop(room, connection, CLOSE_FLOOD, "flood")
            return
        try:
            message = parse(raw, room.session.lesson_id, connection.last_seq)
            connection.last_seq = message.seq
            if isinstance(message, STATE_CHANGING) and not await self._still_allowed(
                room, connection
            ):
                return
            await self._act(room, connection, message)
        except Refused as refused:
            self._refused(room, connection, refused)
            await self._tell_refused(connection, refused.code, _seq_of(raw))

    async def _act(self, room: Room, connection: Connection, message: object) -> None:
        session, user_id = room.session, connection.user.id
        if isinstance(message, StateChange):
            now_ms = self.now_ms()
            timeline = session.steer(user_id, message, now_ms)
            await self._broadcast(
                room,
                {
                    "type": "state",
                    "state": timeline.as_message(),
                    "cause": message.cause,
                    "by": user_id,
                },
            )
        elif isinstance(message, LayoutChange):
            layout = session.lay_out(user_id, message)
            await self._broadcast(
                room, {"type": "layout", "layout": layout.as_message(), "by": user_id}
            )
        elif isinstance(message, Pointer):
            await self._broadcast(
                room,
                {
                    "type": "pointer",
                    "screen": message.screen,
                    "x": round(message.x, 4),
                    "y": round(message.y, 4),
                    "by": user_id,
                },
            )
        elif isinstance(message, CommentMade):
            if not connection.can_comment:
                raise Refused("forbidden")
            if not records.comment_fits(self.services.db, message.comment_id, session.lesson_id):
                raise Refused("other_lesson", f"comment {message.comment_id}")
            await self._broadcast(
                room, {"type": "comments", "comment_id": message.comment_id, "by": user_id}
            )
        elif isinstance(message, Lead):
            session.lead(user_id, message)
            await self._presence(room)
        elif isinstance(message, Ping):
            await connection.peer.send(
                {"type": "pong", "t": message.t, "server_ms": round(self.now_ms(), 1)}
            )
        elif isinstance(message, Leave):
            await self._drop(room, connection, 1000, "left", tell=False)

    # --- permission, again ---------------------------------------------------------------------

    def _lesson(self, room: Room) -> dict[str, Any] | None:
        return recordings.get(self.services.db, room.session.lesson_id)

    def _access(self, room: Room, user: User) -> Any:
        lesson = self._lesson(room)
        if lesson is None or lesson["state"] != "ready":
            return None
        acc = library.access(self.services.db, user.id, lesson, self.services.now())
        return acc if acc.view and room.session.may_join(user.id) else None

    def _may_view(self, room: Room, user: User) -> bool:
        return self._access(room, user) is not None

    def _signed_in(self, connection: Connection) -> bool:
        found = self.services.sessions.lookup(connection.cookie, self.services.now())
        return found is not None and found.id == connection.user.id

    async def _still_allowed(self, room: Room, connection: Connection) -> bool:
        """Before a message that changes what others see: is she still signed in, invited,
        and allowed to view the lesson? If not she is disconnected at once."""
        acc = self._access(room, connection.user) if self._signed_in(connection) else None
        if acc is None:
            self._refused(room, connection, Refused("no_access"))
            await self._drop(room, connection, CLOSE_NO_ACCESS, "no_access")
            return False
        connection.can_comment = acc.comment
        return True

    async def recheck(self, lesson_id: str | None = None) -> None:
        """Disconnect everyone (in the sessions on ``lesson_id``, or all) who may no longer
        be there: share revoked or expired, lesson deleted, signed out, removed."""
        for room in list(self.rooms.values()):
            if lesson_id is not None and room.session.lesson_id != lesson_id:
                continue
            if self._lesson(room) is None:
                await self.end(room, "lesson_gone")
                continue
            for connection in list(room.connections.values()):
                allowed = self._signed_in(connection) and self._may_view(room, connection.user)
                if not allowed:
                    self._refused(room, connection, Refused("no_access"))
                    await self._drop(room, connection, CLOSE_NO_ACCESS, "no_access")

    async def sweep(self) -> None:
        """Once a second: access, and sessions that emptied or ran out."""
        await self.recheck()
        now_s = self.monotonic()
        for room in list(self.rooms.values()):
            reason = self.lifetime.ended(
                now_s=now_s,
                started_s=room.started_s,
                empty_since_s=room.empty_since_s,
                joined=room.joined,
            )
            if reason is not None:
                await self.end(room, reason)

    async def run_sweeps(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                await self.sweep()
            except Exception:  # the sweep must live on; the next one tries again
                log.exception("watch-together sweep failed")

    # --- sending -------------------------------------------------------------------------------

    def presence(self, room: Room) -> dict[str, Any]:
        session = room.session
        return {
            "type": "presence",
            "host": session.host_id,
            "leader": session.leader,
            "people": [
                {"id": uid, "name": room.names.get(uid, "?")} for uid in session.present_users()
            ],
        }

    async def _presence(self, room: Room) -> None:
        await self._broadcast(room, self.presence(room))

    async def _broadcast(self, room: Room, message: dict[str, Any]) -> None:
        connections = list(room.connections.values())
        results = await asyncio.gather(
            *(c.peer.send(message) for c in connections), return_exceptions=True
        )
        for connection, result in zip(connections, results, strict=True):
            if isinstance(result, Exception):  # gone; its reader will notice and clean up
                log.debug("watch: send to connection %s failed: %s", connection.id, result)

    async def _tell_refused(self, connection: Connection, code: str, seq: int | None) -> None:
        with contextlib.suppress(Exception):
            await connection.peer.send({"type": "refused", "code": code, "seq": seq})

    def _refused(self, room: Room, connection: Connection, refused: Refused) -> None:
        log.warning(
            "watch session %s…: refused %s from %s: %s",
            room.id[:8],
            refused.code,
            connection.user.username,
            refused.detail,
        )
        if refused.code in AUDITED:
            self.services.audit_from(
                connection.address,
                connection.user,
                "watch_refused",
                outcome="denied",
                object_kind="lesson",
                object_id=room.session.lesson_id,
                detail={"code": refused.code, "session": room.id[:8]},
            )


def _seq_of(raw: str | bytes) -> int | None:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


WATCH_ROOMS = web.AppKey("watch_rooms", Rooms)
