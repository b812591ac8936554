"""Measures of a trajectory's focus pupil: the instruments, the measures taken (with the total
and bands computed) and entering or deleting one (rules in ``coaching/measures.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..coaching import measures
from ..config import BandRange, MeasuresConfig
from ..services import services_of
from .support import ApiRoutes, json_response, read_body, require_user
from .trajectory_access import trajectory_for

routes = ApiRoutes("measures")


class MeasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instrument: str = Field("sdq_teacher", max_length=32)
    moment: str = Field(description="start, middle or end.")
    measured_on: date = Field(description="When the form was filled in (not in the future).")
    scores: dict[str, int | None] = Field(description="Scale key -> score, every scale.")


def _band(found: BandRange | None) -> dict[str, Any] | None:
    return found.model_dump() if found else None


def measure_json(config: MeasuresConfig, measure: dict[str, Any]) -> dict[str, Any]:
    """A measure as the API shows it: its scores with the total, and each score's band."""
    tool = measures.instrument(config, measure["instrument"])
    scores = measures.with_total(tool, measure["scores"])
    bands = {
        row["key"]: _band(measures.band(row["bands"], scores[row["key"]]))
        for row in measures.rows(tool)
    }
    keys = ("id", "instrument", "moment", "measured_on", "created_at")
    return {**{k: measure[k] for k in keys}, "scores": scores, "bands": bands}


@routes.route(
    "GET", "/instruments", summary="The instruments a pupil is measured with", auth="user"
)
async def instruments(request: web.Request) -> web.StreamResponse:
    require_user(request)
    config = services_of(request).config.measures
    return json_response({"instruments": [i.model_dump() for i in config.instruments]})


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}/measures",
    summary="The pupil's measures, and each scale's change from the first to the last",
    auth="user",
    responses={200: "Measures", 404: "No such trajectory or no access"},
)
async def of_trajectory(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _user, row, _acc = trajectory_for(request, "view")
    config = services.config.measures
    found = measures.of_trajectory(services.db, row["id"])
    change = {
        tool.key: [
            {
                "scale": item["row"]["key"],
                "first": item["first"],
                "last": item["last"],
                "change": item["change"],
                "first_band": _band(item["first_band"]),
                "last_band": _band(item["last_band"]),
            }
            for item in measures.progress(tool, found)
        ]
        for tool in config.instruments
    }
    return json_response(
        {
            "measures": [measure_json(config, m) for m in found if _known(config, m)],
            "change": change,
        }
    )


def _known(config: MeasuresConfig, measure: dict[str, Any]) -> bool:
    return any(i.key == measure["instrument"] for i in config.instruments)


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/measures",
    summary="Enter a measure from the paper form I scored (the teacher)",
    auth="user",
    body=MeasureIn,
    responses={
        201: "Entered",
        403: "Not the teacher",
        409: "Entered already, or closed",
        422: "A score outside its scale",
    },
)
async def add(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, _acc = trajectory_for(request, "manage")
    body = await read_body(request, MeasureIn)
    found = measures.add(
        services, user, row, body.instrument, body.moment, body.measured_on, body.scores
    )
    return json_response({"measure": measure_json(services.config.measures, found)}, status=201)


@routes.route(
    "DELETE",
    "/trajectories/{trajectory_id}/measures/{measure_id}",
    summary="Delete a measure (to enter it again)",
    auth="user",
    responses={204: "Deleted", 403: "Not the teacher", 404: "No such measure"},
)
async def remove(request: web.Request) -> web.StreamResponse:
    _user, row, _acc = trajectory_for(request, "manage")
    measures.remove(services_of(request), row, request.match_info["measure_id"])
    return web.Response(status=204)
