"""What the player measures: the seconds a person actually played a lesson (reported every
15 s and when she leaves the page). The reflection's "minutes watching" come from them."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..lessons import viewings
from ..services import services_of
from .lessons import lesson_for
from .support import ApiRoutes, json_response, read_body

routes = ApiRoutes("lessons")


class PlaybackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    played_s: float = Field(description="Seconds played since the last report (0 to 60).")


@routes.route(
    "POST",
    "/lessons/{lesson_id}/playback",
    summary="Report seconds I played this lesson (the player does, every 15 s)",
    auth="user",
    body=PlaybackIn,
    responses={200: "Counted", 404: "No such lesson or no access", 422: "Out of range"},
)
async def report(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = lesson_for(request)
    body = await read_body(request, PlaybackIn)
    total = viewings.record_playback(services.db, row, user.id, body.played_s, services.now())
    return json_response({"played_s": round(total, 3)})
