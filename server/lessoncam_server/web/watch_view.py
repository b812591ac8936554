"""What the lesson page and the library show of watching together: the start form (with the
people who may view the lesson), the session this page joins (``?watch=``), the sessions on
this lesson she may join, and her invitations. The session itself runs in ``static/watch.js``
against ``api/watching.py``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..access.principal import User
from ..coaching import linking
from ..infra.errors import DomainError
from ..lessons.watching import records
from ..lessons.watching.rooms import WATCH_ROOMS
from ..services import services_of

#: The lesson page lists this many of the latest sessions.
HISTORY = 5


def lesson_watch(
    request: web.Request, user: User, row: dict[str, Any], *, owner: bool
) -> dict[str, Any]:
    """The lesson page's watch-together panel; for the ``owner`` also who watched together
    (the latest sessions, who took part and for how long); and the lesson's open trajectory,
    if she is in it, where a session can be recorded as a conversation."""
    services = services_of(request)
    rooms = request.app[WATCH_ROOMS]
    wanted = request.query.get("watch", "")
    session: dict[str, Any] | None = None
    if wanted:
        try:
            room = rooms.visible(wanted, user)
        except DomainError:
            room = None
        if room is not None and room.session.lesson_id == row["id"]:
            invited = room.session.invited | {room.session.host_id}
            session = {
                "id": room.id,
                "is_host": room.session.host_id == user.id,
                "more": [
                    c
                    for c in records.candidates(services.db, row, user.id, services.now())
                    if c["id"] not in invited
                ],
            }
    running = [
        {"id": room.id, "host": room.names.get(room.session.host_id, "")}
        for room in rooms.of_lesson(row["id"], user)
        if session is None or room.id != session["id"]
    ]
    trajectory = linking.trajectory_of_lesson(services.db, row["id"], user.id)
    return {
        "history": records.watched_together(services.db, row["id"])[:HISTORY] if owner else [],
        # A session on a lesson of her open trajectory can become its conversation.
        "trajectory": trajectory if trajectory and trajectory["status"] != "closed" else None,
        "session": session,
        "unknown": bool(wanted) and session is None,
        "running": running,
        "candidates": []
        if session
        else records.candidates(services.db, row, user.id, services.now()),
    }


def invitations(request: web.Request, user: User) -> list[dict[str, Any]]:
    """Her invitations to sessions still running, for the library."""
    services = services_of(request)
    running = request.app[WATCH_ROOMS].rooms
    found = records.open_invitations(services.db, user.id, services.now())
    return [i for i in found if i["session_id"] in running]
