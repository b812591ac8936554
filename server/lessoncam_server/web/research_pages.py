"""Research as pages: the coordinator's summary per form of support with the downloads (CSV
and codebook, through the JSON API's audited export), the admins' list of coordinators, and
the teacher's agreement on her trajectory page."""

from __future__ import annotations

from aiohttp import web

from ..access import directory
from ..coaching import coordinators, reflection_forms, research, research_summary
from ..infra.errors import DomainError, NotFound
from ..services import client_address, services_of
from .i18n import N_, t
from .render import PageError, form_of, redirect, render, signed_in, signed_in_admin
from .trajectory_access import page_trajectory

routes = web.RouteTableDef()

MESSAGES = {
    "coordinator_unknown_account": N_("Choose an account."),
    "coordinator_admin": N_("Administrator accounts cannot be research coordinators."),
}


@routes.get("/research")
async def summary_page(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    if not coordinators.is_coordinator(services.db, user.id):
        services.audit(
            request, user, "access_denied", outcome="denied", detail={"path": request.path}
        )
        raise PageError(403, N_("Only a research coordinator may open this page."))
    data = research.dataset(services.db, services.config.measures)
    ids = [tr["id"] for tr in research.eligible(services.db)]
    rows = research_summary.summary(data, research_summary.recordings_by_support(services.db, ids))
    form = reflection_forms.configured(services.config.reflection, "lesson")
    context = {
        "rows": rows,
        "trajectories": data.trajectories,
        "questions": [q for q in form.questions if q.type in ("scale", "minutes")],
        "instruments": services.config.measures.instruments,
        "tables": research.TABLES,
    }
    return render(request, "research.html", context)


@routes.post("/trajectories/{trajectory_id}/research")
async def agreement(request: web.Request) -> web.StreamResponse:
    user, row, _acc = page_trajectory(request, "manage")
    agreed = (await form_of(request)).get("agreed") == "1"
    research.agree(services_of(request), user, row, agreed, address=client_address(request))
    raise redirect(f"/trajectories/{row['id']}", "saved")


def _admin_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    db = services_of(request).db
    context = {
        "coordinators": coordinators.listed(db),
        "people": directory.active_people(db, admins=False),
        "error": error,
    }
    return render(request, "admin/research.html", context, status=status)


@routes.get("/admin/research")
async def admin_page(request: web.Request) -> web.StreamResponse:
    signed_in_admin(request)
    return _admin_page(request)


@routes.post("/admin/research")
async def grant(request: web.Request) -> web.StreamResponse:
    admin = signed_in_admin(request)
    username = (await form_of(request)).get("username", "").strip()[:64]
    try:
        coordinators.grant(services_of(request), admin, username, address=client_address(request))
    except DomainError as exc:
        if exc.code not in MESSAGES:
            raise
        return _admin_page(request, t(request, MESSAGES[exc.code]), exc.status)
    raise redirect("/admin/research", "saved")


@routes.post("/admin/research/{username}/revoke")
async def revoke(request: web.Request) -> web.StreamResponse:
    admin = signed_in_admin(request)
    try:
        coordinators.revoke(
            services_of(request),
            admin,
            request.match_info["username"],
            address=client_address(request),
        )
    except NotFound:
        raise PageError(404, N_("This account is no research coordinator.")) from None
    raise redirect("/admin/research", "saved")
