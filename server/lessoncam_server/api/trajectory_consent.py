"""The parents' consent for a trajectory's pupil: read it, record it (replacing the one in
force), record its withdrawal (the rules in ``coaching/consent.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..access.permissions import TrajectoryAccess
from ..coaching import consent
from ..coaching.consent import ConsentDraft
from ..services import client_address, services_of
from .support import ApiRoutes, json_response, read_body
from .trajectory_access import trajectory_for

routes = ApiRoutes("trajectories")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    given_on: date = Field(description="The date on the parents' signed form.")
    recording: bool = Field(True, description="Consent to recording (needed for any lesson).")
    watchers: list[str] = Field(
        default_factory=list, max_length=50, description="Members allowed to watch (usernames)."
    )
    research: bool = Field(False, description="Pseudonymised answers and measures for research.")
    note: str = Field("", max_length=2000, description="Where the form is kept; no names.")


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lessons: str = Field(description="take_out (out of the trajectory) or delete (with clips).")


def consent_json(found: dict[str, Any] | None, acc: TrajectoryAccess) -> dict[str, Any] | None:
    """A consent record as the API shows it (its note to the teacher only)."""
    if found is None:
        return None
    keys = ("id", "given_on", "recording", "research", "recorded_at", "ended_at", "ended_how")
    shown = {k: found[k] for k in keys}
    shown["recorded_by"] = found["recorded_by_name"]
    shown["watchers"] = [
        {"username": w["username"], "display_name": w["display_name"]} for w in found["watchers"]
    ]
    if acc.manage:
        shown["note"] = found["note"]
        shown["withdrawn_lessons"] = found["withdrawn_lessons"]
    return shown


@routes.route(
    "GET",
    "/trajectories/{trajectory_id}/consent",
    summary="The parents' consent in force, and (to the teacher) every earlier record",
    auth="user",
    responses={200: "Consent", 404: "No such trajectory or no access"},
)
async def consent_of(request: web.Request) -> web.StreamResponse:
    db = services_of(request).db
    _user, row, acc = trajectory_for(request, "view")
    past = consent.history(db, row["id"]) if acc.manage else []
    return json_response(
        {
            "consent": consent_json(consent.current(db, row["id"]), acc),
            "history": [consent_json(c, acc) for c in past],
        }
    )


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/consent",
    summary="Record the parents' consent (it replaces the one in force)",
    auth="user",
    body=ConsentIn,
    responses={
        201: "Recorded",
        403: "Not the teacher",
        409: "Closed",
        422: "No consent to recording, a date in the future, or someone not invited",
    },
)
async def recordconsent_json(request: web.Request) -> web.StreamResponse:
    user, row, acc = trajectory_for(request, "manage")
    body = await read_body(request, ConsentIn)
    draft = ConsentDraft(
        given_on=body.given_on,
        watchers=tuple(body.watchers),
        research=body.research,
        recording=body.recording,
        note=body.note,
    )
    found = consent.record(services_of(request), user, row, draft, address=client_address(request))
    return json_response({"consent": consent_json(found, acc)}, status=201)


@routes.route(
    "POST",
    "/trajectories/{trajectory_id}/consent/withdrawal",
    summary="The parents withdrew consent: it ends now; lessons taken out or deleted",
    auth="user",
    body=WithdrawalIn,
    responses={200: "Withdrawn", 403: "Not the teacher", 409: "No consent in force"},
)
async def withdrawconsent_json(request: web.Request) -> web.StreamResponse:
    user, row, _acc = trajectory_for(request, "manage")
    body = await read_body(request, WithdrawalIn)
    done = consent.withdraw(
        services_of(request), user, row, body.lessons, address=client_address(request)
    )
    return json_response(done)
