"""Research: a teacher's agreement per trajectory, the coordinators an admin names, and the
pseudonymised export (JSON, CSV and one workbook, with its codebook) and summary a coordinator reads
(rules in ``coaching/research.py`` and ``coaching/coordinators.py``). Every export is
audited."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..access.principal import User
from ..coaching import coordinators, research, research_summary
from ..infra.errors import Forbidden
from ..services import client_address, services_of
from .support import ApiRoutes, json_response, not_found, parse_query, read_body, require_user
from .trajectory_access import trajectory_for

routes = ApiRoutes("research")


class AgreementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agreed: bool = Field(description="The trajectory's answers and measures may be used.")


class ExportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trajectory: int | None = Field(None, description="One trajectory only (it must be in it).")
    sep: Literal["comma", "semicolon"] = Field("comma", description="CSV: the separator.")


def _coordinator(request: web.Request) -> User:
    services = services_of(request)
    user = require_user(request)
    if not coordinators.is_coordinator(services.db, user.id):
        services.audit(
            request, user, "access_denied", outcome="denied", detail={"path": request.path}
        )
        raise Forbidden("not_coordinator", "only a research coordinator may read this")
    return user


def _exported(request: web.Request, fmt: str, table: str | None = None) -> research.Dataset:
    """The export a coordinator asked for (the query names one trajectory, or all), audited
    with its format (and table)."""
    services = services_of(request)
    user = _coordinator(request)
    query = parse_query(request, ExportQuery)
    data = research.dataset(services.db, services.config.measures, query.trajectory)
    detail: dict[str, object] = {"format": fmt, "trajectories": data.trajectories}
    if table is not None:
        detail["table"] = table
    services.audit(request, user, "research_export", detail=detail)
    return data


@routes.route(
    "PUT",
    "/trajectories/{trajectory_id}/research",
    summary="I agree (or no longer agree) that my trajectory is used for research",
    auth="user",
    body=AgreementIn,
    responses={200: "Recorded", 403: "Not the teacher", 404: "No such trajectory"},
)
async def agreement(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "manage")
    body = await read_body(request, AgreementIn)
    research.agree(services_of(request), user, row, body.agreed, address=client_address(request))
    return json_response({"agreed": body.agreed})


@routes.route(
    "GET",
    "/research/export",
    summary="The pseudonymised export: reflections, measures, conversations and the codebook",
    auth="user",
    query=ExportQuery,
    responses={200: "Export", 403: "Not a coordinator", 409: "That trajectory is not in it"},
)
async def export(request: web.Request) -> web.StreamResponse:
    data = _exported(request, "json")
    return json_response(
        {"trajectories": data.trajectories, **{t: data.table(t) for t in research.TABLES}}
    )


@routes.route(
    "GET",
    "/research/export/{table}.csv",
    summary="One table of the export as CSV: reflections, measures, conversations or codebook",
    auth="user",
    query=ExportQuery,
    content="text/csv",
    responses={200: "CSV", 403: "Not a coordinator", 404: "No such table"},
)
async def export_csv(request: web.Request) -> web.StreamResponse:
    table = request.match_info["table"]
    if table not in research.TABLES:
        _coordinator(request)  # a non-coordinator learns nothing, not even the table names
        raise not_found("table")
    data = _exported(request, "csv", table)
    query = parse_query(request, ExportQuery)
    text = research.to_csv(data.table(table), ";" if query.sep == "semicolon" else ",")
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="lessoncam-research-{table}.csv"',
            "Cache-Control": "no-store",
        },
    )


@routes.route(
    "GET",
    "/research/export.xlsx",
    summary="The whole export as one workbook: a sheet per table, the codebook last",
    auth="user",
    query=ExportQuery,
    content="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    responses={200: "Workbook", 403: "Not a coordinator", 409: "That trajectory is not in it"},
)
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=research.to_xlsx(_exported(request, "xlsx")),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": 'attachment; filename="lessoncam-research.xlsx"',
            "Cache-Control": "no-store",
        },
    )


@routes.route(
    "GET",
    "/research/summary",
    summary="Per form of support: recordings, mean answers, minutes, measures at start and end",
    auth="user",
    responses={200: "Summary", 403: "Not a coordinator"},
)
async def summary(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    _coordinator(request)
    data = research.dataset(services.db, services.config.measures)
    ids = [t["id"] for t in research.eligible(services.db)]
    counts = research_summary.recordings_by_support(services.db, ids)
    return json_response({"summary": research_summary.summary(data, counts)})


@routes.route("GET", "/research/coordinators", summary="Who may export for research", auth="admin")
async def list_coordinators(request: web.Request) -> web.StreamResponse:
    return json_response({"coordinators": coordinators.listed(services_of(request).db)})


@routes.route(
    "PUT",
    "/research/coordinators/{username}",
    summary="Name an account a research coordinator",
    auth="admin",
    responses={204: "Named", 422: "No such account, or an administrator"},
)
async def grant(request: web.Request) -> web.StreamResponse:
    coordinators.grant(
        services_of(request),
        require_user(request),
        request.match_info["username"],
        address=client_address(request),
    )
    return web.Response(status=204)


@routes.route(
    "DELETE",
    "/research/coordinators/{username}",
    summary="End an account's role as research coordinator",
    auth="admin",
    responses={204: "Ended", 404: "Not a coordinator"},
)
async def revoke(request: web.Request) -> web.StreamResponse:
    coordinators.revoke(
        services_of(request),
        require_user(request),
        request.match_info["username"],
        address=client_address(request),
    )
    return web.Response(status=204)
