"""For administrators: the audit log and server-wide settings (retention)."""

from __future__ import annotations

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..access import audit
from ..infra.timeutil import to_iso
from ..lessons import retention
from ..services import services_of
from .support import ApiRoutes, json_response, parse_query, read_body, require_user

routes = ApiRoutes("admin")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str | None = Field(None, max_length=40)
    actor: str | None = Field(None, max_length=64, description="Username or unit name.")
    object_id: str | None = Field(None, max_length=64)
    outcome: str | None = Field(None, max_length=10)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    limit: int = Field(200, ge=1, le=1000)
    before_id: int | None = Field(None, ge=1, description="Page: entries older than this id.")


class Settings(BaseModel):
    retention_days: int = Field(ge=retention.MIN_DAYS, le=retention.MAX_DAYS)


@routes.route(
    "GET",
    "/audit",
    summary="The audit log, newest first, with filters",
    auth="admin",
    query=AuditQuery,
)
async def audit_log(request: web.Request) -> web.StreamResponse:
    q = parse_query(request, AuditQuery)
    wanted = audit.AuditFilter(
        action=q.action,
        actor_name=q.actor,
        object_id=q.object_id,
        outcome=q.outcome,
        since=to_iso(q.since) if q.since else None,
        until=to_iso(q.until) if q.until else None,
        before_id=q.before_id or None,
    )
    return json_response({"entries": audit.entries(services_of(request).db, wanted, q.limit)})


@routes.route("GET", "/settings", summary="Server-wide settings", auth="admin")
async def get_settings(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    days = retention.retention_days(services.db, services.config.retention.days)
    return json_response({"retention_days": days})


@routes.route(
    "PUT",
    "/settings",
    summary="Change server-wide settings",
    auth="admin",
    body=Settings,
    responses={200: "Saved", 400: "Out of range"},
)
async def put_settings(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    body = await read_body(request, Settings)
    services.db.table("settings").upsert(
        {"key": retention.SETTING_KEY, "value": str(body.retention_days)}, pk="key"
    )
    services.audit(request, admin, "settings_update", detail=body.model_dump())
    return json_response(body.model_dump())
