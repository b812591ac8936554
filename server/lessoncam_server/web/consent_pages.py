"""The parents' consent on the trajectory page: record it (or a change), record its
withdrawal (rules in ``coaching/consent.py``)."""

from __future__ import annotations

from aiohttp import web

from ..coaching import consent
from ..coaching.consent import ConsentDraft
from ..infra.errors import DomainError, Invalid
from ..services import client_address, services_of
from .render import redirect
from .trajectory_access import page_trajectory, parse_day, refusal
from .trajectory_view import act, show

routes = web.RouteTableDef()


@routes.post("/trajectories/{trajectory_id}/consent")
async def record_consent(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user, row, acc = page_trajectory(request, "manage")
    posted = await request.post()
    given = str(posted.get("given_on", ""))
    try:
        given_on = parse_day(given.strip())
        if given_on is None:
            raise Invalid("date_invalid", "the date of the consent is missing")
        draft = ConsentDraft(
            given_on=given_on,
            watchers=tuple(str(w)[:64] for w in posted.getall("watchers", [])[:50]),
            research=posted.get("research") == "1",
            recording=posted.get("recording") == "1",
            note=str(posted.get("note", ""))[:2000],
        )
        consent.record(services, user, row, draft, address=client_address(request))
    except DomainError as exc:
        return show(request, user, row, acc, refusal(request, exc), exc.status)
    raise redirect(f"/trajectories/{row['id']}", "consent_recorded")


@routes.post("/trajectories/{trajectory_id}/consent/withdraw")
async def withdraw_consent(request: web.Request) -> web.StreamResponse:
    address = client_address(request)
    return await act(
        request,
        "manage",
        lambda services, user, row, form: consent.withdraw(
            services, user, row, form.get("lessons", ""), address=address
        ),
        "consent_withdrawn",
    )
