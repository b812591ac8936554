"""The owner's sharing page: share with named accounts, optional expiry, revoke; who watched
(alone, and together); the clips cut from the lesson; downloads."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ..access import directory
from ..access.permissions import ShareRole
from ..access.principal import User
from ..infra.errors import Invalid
from ..infra.timeutil import to_iso
from ..lessons import clips, sharing, summary, viewings
from ..lessons.watching import records
from ..lessons.watching.rooms import WATCH_ROOMS
from ..services import client_address, services_of
from ..units import recordings
from .i18n import t
from .lesson_access import page_lesson
from .render import form_of, redirect, render

routes = web.RouteTableDef()


def _shares(request: web.Request, recording_id: str) -> list[dict[str, Any]]:
    """The lesson's shares, the revoked ones last, each saying whether it is active now."""
    services = services_of(request)
    now = to_iso(services.now())
    shares = sharing.shares_of(services.db, recording_id)
    for share in shares:
        share["active"] = share["revoked_at"] is None and (
            share["expires_at"] is None or share["expires_at"] > now
        )
    return sorted(shares, key=lambda share: share["revoked_at"] is not None)


def _people(request: web.Request, user: User) -> list[dict[str, str]]:
    return directory.active_people(services_of(request).db, leave_out=user.id)


def _page(
    request: web.Request, user: User, row: dict[str, Any], error: str | None, status: int = 200
) -> web.Response:
    return render(
        request,
        "sharing.html",
        {
            "lesson": row,
            "shares": _shares(request, row["id"]),
            "people": _people(request, user),
            "cameras": _downloadable(request, row),
            "error": error,
            "viewers": viewings.viewers(services_of(request).db, row["id"]),
            "watched_together": records.watched_together(services_of(request).db, row["id"]),
            "clips": clips.of_lesson(services_of(request).db, row["id"]),
        },
        status=status,
    )


@routes.get("/lessons/{lesson_id}/sharing")
async def sharing_page(request: web.Request) -> web.StreamResponse:
    user, row, _acc = page_lesson(request, "manage")
    return _page(request, user, row, None)


def _expiry(text: str, zone: ZoneInfo) -> datetime:
    """The end of the chosen day, local time: a share 'until 3 March' works all of 3 March."""
    day = date.fromisoformat(text)
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _downloadable(request: web.Request, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The lesson's cameras that have a video, main first, with what the page names them by."""
    if row["state"] != "ready":
        return []
    made = summary.media_of(services_of(request).db, row["id"])
    cameras = recordings.manifest_of(row).cameras
    return [
        {"id": cam.id, "role": cam.role, "label": cam.label}
        for cam in sorted(cameras, key=lambda cam: cam.role != "main")
        if cam.id in made
    ]


@routes.post("/lessons/{lesson_id}/sharing")
async def share(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = page_lesson(request, "manage")
    form = await form_of(request)
    username = form.get("username", "").strip()[:64]
    role: ShareRole = "commenter" if form.get("role") == "commenter" else "viewer"
    expires: datetime | None = None
    if form.get("expires"):
        try:
            expires = _expiry(form["expires"], ZoneInfo(services.config.web.timezone))
        except ValueError:
            return _page(request, user, row, t(request, "The end date is not a valid date."), 400)
    try:
        sharing.share_lesson(
            services, user, row, username, role, expires, address=client_address(request)
        )
    except Invalid as exc:
        messages = {
            "share_unknown_account": t(request, "Choose an account to share with."),
            "share_own_lesson": t(request, "This is your own lesson already."),
            "share_expired": t(request, "The end date lies in the past."),
        }
        if exc.code not in messages:
            raise
        return _page(request, user, row, messages[exc.code], 400)
    raise redirect(f"/lessons/{row['id']}/sharing", "shared")


@routes.post("/lessons/{lesson_id}/sharing/{share_id}/revoke")
async def revoke(request: web.Request) -> web.StreamResponse:
    user, row, _acc = page_lesson(request, "manage")
    share_id = request.match_info["share_id"]
    sharing.revoke_share(services_of(request), user, row, share_id, address=client_address(request))
    await request.app[WATCH_ROOMS].recheck(row["id"])  # out of any session at once
    raise redirect(f"/lessons/{row['id']}/sharing", "revoked")
