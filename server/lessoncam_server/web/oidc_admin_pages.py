"""The administrator's form that links an existing account to a school account (issue 17)."""

from __future__ import annotations

from aiohttp import web

from ..access.oidc.linking import link_account
from ..infra.errors import Conflict, Invalid, NotFound
from ..services import client_address, services_of
from .i18n import N_
from .render import PageError, form_of, redirect, signed_in_admin

routes = web.RouteTableDef()

MESSAGES = {
    "provider_unknown": N_("Choose one of the school's sign-in providers."),
    "subject_invalid": N_("Give the subject (sub or oid) the provider uses for this person."),
    "not_found": N_("There is no account with that username."),
    "already_linked": N_("This account is already linked to that provider. It is linked once."),
    "subject_taken": N_("That school account already signs in to another lessoncam account."),
}


@routes.post("/admin/users/links")
async def link(request: web.Request) -> web.StreamResponse:
    admin = signed_in_admin(request)
    form = await form_of(request)
    try:
        link_account(
            services_of(request),
            admin,
            form.get("username", "")[:64],
            form.get("provider", "")[:32],
            form.get("subject", "")[:300],
            address=client_address(request),
        )
    except (Invalid, NotFound, Conflict) as exc:
        status = 404 if isinstance(exc, NotFound) else exc.status
        raise PageError(status, MESSAGES.get(exc.code, MESSAGES["subject_invalid"])) from None
    raise redirect("/admin/users", "user_changed")
