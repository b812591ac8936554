"""The pupil's measures on the trajectory page: a table and a chart per scale (with the total
and the published bands), and the teacher's form to enter one (rules in
``coaching/measures.py``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..coaching import measures
from ..infra.errors import DomainError, Invalid
from ..services import services_of
from .i18n import N_
from .render import form_of, redirect
from .trajectory_access import page_trajectory, parse_day, refusal
from .trajectory_view import show

routes = web.RouteTableDef()

MESSAGES = {
    "instrument_unknown": N_("Choose an instrument."),
    "moment_invalid": N_("Choose the moment: start, middle or end."),
    "measure_date_future": N_("Enter a measure once it was taken: the date lies ahead."),
    "measure_exists": N_("This moment is entered already. Delete it first to enter it again."),
    "unknown_scale": N_("The instrument has changed meanwhile. Reload the page."),
    "score_required": N_("Give every scale's score."),
    "score_out_of_range": N_("A score lies outside its scale."),
}


@routes.post("/trajectories/{trajectory_id}/measures")
async def add(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "manage")
    form = await form_of(request)
    try:
        day = parse_day(form.get("measured_on", "").strip())
        if day is None:
            raise Invalid("date_invalid", "the date is missing")
        tool = measures.instrument(services.config.measures, form.get("instrument", ""))
        scores: dict[str, Any] = {}
        for scale in tool.scales:
            raw = form.get(f"score_{scale.key}", "").strip()
            scores[scale.key] = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 6 else raw
        measures.add(services, user, row, tool.key, form.get("moment", ""), day, scores)
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")


@routes.post("/trajectories/{trajectory_id}/measures/{measure_id}/delete")
async def remove(request: web.Request) -> web.StreamResponse:
    user, row, acc = page_trajectory(request, "manage")
    try:
        measures.remove(services_of(request), row, request.match_info["measure_id"])
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc, MESSAGES), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "saved")
