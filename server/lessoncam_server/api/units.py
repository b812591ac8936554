"""Units: enrolment codes and the fleet for admins; enrolment and heartbeats for units."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlite_utils import Database

from lessoncam_common.durable import write_atomic

from ..access import accounts
from ..infra.db import query_row, query_rows
from ..infra.paths import UNIT_ID
from ..infra.timeutil import to_iso
from ..middleware import ApiError
from ..services import services_of
from ..units import claims, fleet
from .support import (
    ApiRoutes,
    bad_request,
    json_response,
    not_found,
    read_body,
    require_unit,
    require_user,
)

routes = ApiRoutes("units")

JPEG_MAGIC = b"\xff\xd8\xff"


class NewCode(BaseModel):
    unit_name: str = Field(min_length=1, max_length=60, description="e.g. 'Group 5'")
    teacher: str | None = Field(None, max_length=64, description="Username the unit is for.")


class Enrolment(BaseModel):
    code: str = Field(min_length=4, max_length=40)


class UnitChange(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=60)
    teacher: str | None = Field(None, max_length=64, description="Username; empty string unsets.")


class Heartbeat(BaseModel):
    state: str = Field(max_length=32)
    version: str = Field("", max_length=64)
    free_disk_bytes: int | None = Field(None, ge=0)
    temperature_c: float | None = Field(None, ge=-50, le=150)
    queue_length: int | None = Field(None, ge=0)
    last_error: str | None = Field(None, max_length=500)
    tracking: str | None = Field(None, max_length=32)
    snapshot_jpeg_base64: str | None = Field(None, description="Small JPEG for aiming.")


def _teacher_id(db: Database, username: str) -> int:
    """The id of an active teacher or coach (lessons never go to an admin through a unit)."""
    teacher = accounts.find_user(db, username)
    if teacher is None or teacher["disabled"] or teacher["role"] == "admin":
        raise bad_request(f"no active teacher or coach named {username!r}")
    return int(teacher["id"])


def _unit_row(request: web.Request) -> dict[str, Any]:
    unit_id = request.match_info["unit_id"]
    if not UNIT_ID.fullmatch(unit_id):
        raise not_found("unit")
    unit = query_row(services_of(request).db, "SELECT * FROM units WHERE id = ?", [unit_id])
    if unit is None:
        raise not_found("unit")
    return unit


@routes.route(
    "POST",
    "/enrolment-codes",
    summary="Create a single-use enrolment code",
    auth="admin",
    body=NewCode,
    responses={201: "The code, shown once"},
)
async def create_code(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    body = await read_body(request, NewCode)
    lifetime = timedelta(minutes=services.config.security.enrolment_code_minutes)
    teacher_id = _teacher_id(services.db, body.teacher) if body.teacher else None
    code, expires = fleet.new_enrolment_code(
        services.db, body.unit_name, admin.id, services.now(), lifetime, teacher_id
    )
    services.audit(request, admin, "enrolment_code_create", detail={"unit_name": body.unit_name})
    return json_response({"code": code, "expires_at": to_iso(expires)}, status=201)


@routes.route(
    "POST",
    "/enrol",
    summary="A unit exchanges its enrolment code for its token",
    auth="none",
    body=Enrolment,
    responses={201: "Enrolled: unit id and token (shown once)", 400: "Bad code"},
)
async def enrol(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    body = await read_body(request, Enrolment)
    try:
        unit, token = fleet.enrol(services.db, body.code, services.now())
    except fleet.EnrolmentRefused as exc:
        services.audit(request, None, "unit_enrol", outcome="failed", detail={"reason": str(exc)})
        raise ApiError(400, "enrolment_refused", str(exc)) from None
    services.audit(request, unit, "unit_enrol", object_kind="unit", object_id=unit.id)
    return json_response({"unit_id": unit.id, "name": unit.name, "token": token}, status=201)


@routes.route("GET", "/unit", summary="The calling unit's own record", auth="unit")
async def unit_self(request: web.Request) -> web.StreamResponse:
    unit = require_unit(request)
    return json_response(
        {"unit_id": unit.id, "name": unit.name, "assigned": unit.teacher_id is not None}
    )


@routes.route(
    "POST",
    "/unit/heartbeat",
    summary="A unit reports its health",
    auth="unit",
    body=Heartbeat,
    responses={204: "Stored", 400: "Invalid", 413: "Snapshot too big"},
)
async def heartbeat(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    unit = require_unit(request)
    beat = await read_body(request, Heartbeat)
    now = services.now()
    fleet.store_heartbeat(services.db, unit.id, beat.model_dump(), now)
    if beat.snapshot_jpeg_base64:
        try:
            jpeg = base64.b64decode(beat.snapshot_jpeg_base64, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("snapshot_jpeg_base64 is not valid base64") from None
        if len(jpeg) > services.config.uploads.snapshot_max_kib * 1024:
            raise ApiError(413, "too_large", "the snapshot is too large; send a smaller JPEG")
        if not jpeg.startswith(JPEG_MAGIC):
            raise bad_request("the snapshot is not a JPEG")
        write_atomic(services.paths.snapshot(unit.id), jpeg)
        services.db.table("units").update(unit.id, {"snapshot_at": to_iso(now)})
    return web.Response(status=204)


@routes.route(
    "GET", "/units", summary="The fleet: every unit with its last heartbeat", auth="admin"
)
async def list_units(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    now = services.now()
    rows = query_rows(
        services.db,
        """SELECT u.*, t.username AS teacher FROM units u
           LEFT JOIN users t ON t.id = u.teacher_id ORDER BY u.name""",
    )
    described = [fleet.describe(r, now) for r in rows]
    for unit in described:
        unit["claim"] = claims.describe(claims.active(services.db, unit["id"], now), None)
    return json_response({"units": described})


@routes.route(
    "PATCH",
    "/units/{unit_id}",
    summary="Rename a unit or set its teacher",
    auth="admin",
    body=UnitChange,
    responses={200: "Changed", 404: "No such unit"},
)
async def update_unit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    row = _unit_row(request)
    body = await read_body(request, UnitChange)
    changes: dict[str, object] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.teacher is not None:
        if body.teacher == "":
            changes["teacher_id"] = None
        else:
            changes["teacher_id"] = _teacher_id(services.db, body.teacher)
    if changes:
        services.db.table("units").update(row["id"], changes)
    services.audit(
        request,
        admin,
        "unit_update",
        object_kind="unit",
        object_id=str(row["id"]),
        detail=body.model_dump(exclude_none=True),
    )
    return json_response({"unit": fleet.describe(_unit_row(request), services.now())})


@routes.route(
    "POST",
    "/units/{unit_id}/revoke",
    summary="Revoke a unit's token",
    auth="admin",
    responses={204: "Revoked", 404: "No such unit"},
)
async def revoke_unit(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    row = _unit_row(request)
    fleet.revoke(services.db, str(row["id"]), services.now())
    services.audit(request, admin, "unit_revoke", object_kind="unit", object_id=str(row["id"]))
    return web.Response(status=204)


@routes.route(
    "GET",
    "/units/{unit_id}/snapshot",
    summary="The unit's latest aiming snapshot",
    auth="admin",
    content="image/jpeg",
    responses={200: "JPEG", 404: "No such unit or no snapshot"},
)
async def snapshot(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    row = _unit_row(request)
    path = services.paths.snapshot(str(row["id"]))
    if not path.exists():
        raise not_found("snapshot")
    return web.FileResponse(path, headers={"Cache-Control": "no-store"})
