"""The unit's side of a recording (register, status, complete) and admin assignment."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ..access import accounts
from ..infra.paths import RECORDING_ID
from ..middleware import ApiError
from ..services import services_of
from ..units import recordings
from ..units.manifest import Completion, Manifest
from ..units.recordings import RecordingError
from .support import (
    ApiRoutes,
    bad_request,
    json_response,
    not_found,
    read_body,
    require_unit,
    require_user,
)

routes = ApiRoutes("recordings")


class Assignment(BaseModel):
    teacher: str = Field(min_length=1, max_length=64, description="Username of the owner-to-be.")


def _recording_id(request: web.Request) -> str:
    rid = request.match_info["recording_id"]
    if not RECORDING_ID.fullmatch(rid):
        raise not_found("recording")
    return rid


def _answer(exc: RecordingError) -> ApiError:
    codes = {400: "invalid", 404: "not_found", 409: "conflict"}
    return ApiError(exc.status, codes.get(exc.status, "error"), exc.message)


@routes.route(
    "PUT",
    "/recordings/{recording_id}",
    summary="Register a recording (idempotent)",
    auth="unit",
    body=Manifest,
    responses={
        201: "Registered",
        200: "Already registered, same manifest",
        400: "Malformed manifest",
        409: "Registered differently",
    },
)
async def register(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    unit = require_unit(request)
    manifest = await read_body(request, Manifest)
    if manifest.recording_id != _recording_id(request):
        raise bad_request("the manifest's recording_id differs from the URL")
    try:
        row, created = recordings.register(services.db, unit, manifest, services.now())
    except RecordingError as exc:
        raise _answer(exc) from None
    if created:
        services.audit(
            request,
            unit,
            "recording_register",
            object_kind="recording",
            object_id=row["id"],
            detail={"assigned": row["owner_id"] is not None},
        )
    return json_response(recordings.status(services.db, row), status=201 if created else 200)


@routes.route(
    "GET",
    "/recordings/{recording_id}",
    summary="Server-side state of my recording",
    auth="unit",
    responses={200: "State and the segments held", 404: "Unknown"},
)
async def recording_status(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    unit = require_unit(request)
    try:
        row = recordings.unit_recording(services.db, unit, _recording_id(request))
    except RecordingError as exc:
        raise _answer(exc) from None
    return json_response(recordings.status(services.db, row))


@routes.route(
    "POST",
    "/recordings/{recording_id}/complete",
    summary="No more segments will come: the counts per camera (idempotent)",
    auth="unit",
    body=Completion,
    responses={
        200: "Accepted; assembly starts when all segments are in (state `discarded`: no "
        "camera made a segment, so there is no lesson)",
        404: "Unknown",
        409: "Completed differently",
    },
)
async def complete(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    unit = require_unit(request)
    rid = _recording_id(request)
    done = await read_body(request, Completion)
    try:
        recordings.complete(services.db, unit, rid, done, services.now())
    except RecordingError as exc:
        raise _answer(exc) from None
    discarded = recordings.discard_if_empty(services.db, rid, done)
    if discarded is not None:
        return json_response(discarded)
    if services.assembler is not None:
        services.assembler.consider(rid)
    row = recordings.get(services.db, rid)
    assert row is not None
    return json_response(recordings.status(services.db, row))


@routes.route(
    "GET",
    "/unassigned-recordings",
    summary="Recordings from units without a teacher (metadata only, no media)",
    auth="admin",
)
async def unassigned(request: web.Request) -> web.StreamResponse:
    db = services_of(request).db
    rows = db.execute(
        """SELECT r.id, r.started_at, r.state, u.id, u.name FROM recordings r
           LEFT JOIN units u ON u.id = r.unit_id
           WHERE r.owner_id IS NULL ORDER BY r.started_at"""
    ).fetchall()
    return json_response(
        {
            "recordings": [
                {"id": r[0], "started_at": r[1], "state": r[2], "unit_id": r[3], "unit": r[4]}
                for r in rows
            ]
        }
    )


@routes.route(
    "POST",
    "/unassigned-recordings/{recording_id}/assign",
    summary="Give an unassigned recording to its teacher",
    auth="admin",
    body=Assignment,
    responses={
        200: "Assigned",
        400: "Not a teacher or coach",
        404: "No unassigned recording with this id",
    },
)
async def assign(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    rid = _recording_id(request)
    body = await read_body(request, Assignment)
    teacher = accounts.find_user(services.db, body.teacher)
    # Never to an admin account: that would let an admin give herself someone's lesson.
    if teacher is None or teacher["disabled"] or teacher["role"] == "admin":
        raise bad_request(f"no active teacher or coach named {body.teacher!r}")
    cursor = services.db.execute(
        "UPDATE recordings SET owner_id = ? WHERE id = ? AND owner_id IS NULL",
        [teacher["id"], rid],
    )
    if cursor.rowcount != 1:
        raise not_found("unassigned recording")
    services.audit(
        request,
        admin,
        "recording_assign",
        object_kind="recording",
        object_id=rid,
        detail={"teacher": teacher["username"]},
    )
    return json_response({"id": rid, "owner": teacher["username"]})
