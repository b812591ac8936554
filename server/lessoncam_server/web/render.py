"""Rendering a page: the signed-in person, the CSRF token, the language and the notices."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ..access.principal import User, principal_of
from ..access.sessions import COOKIE_NAME
from ..middleware import form_fields
from ..services import services_of
from .formatting import CURRENT_ZONE
from .i18n import CURRENT, LANGUAGES, N_, catalogue_for

# Messages shown after a form redirects (post/redirect/get); only these codes are accepted,
# so nothing a link carries is ever shown as text.
NOTICES = {
    "signed_out": N_("You are signed out."),
    "password_changed": N_("Your password was changed. Other devices were signed out."),
    "saved": N_("Saved."),
    "deleted": N_("The lesson was deleted."),
    "shared": N_("The lesson is shared."),
    "revoked": N_("The share was revoked."),
    "user_created": N_("The account was created."),
    "user_changed": N_("The account was changed."),
    "unit_changed": N_("The unit was changed."),
    "unit_revoked": N_("The unit was revoked. It can no longer upload."),
    "claimed": N_("The unit is yours for now: lessons that start on it are yours."),
    "released": N_("The claim has ended."),
    "invited": N_("The invitation was sent. The person sees it under Trajectories."),
    "joined": N_("You joined the trajectory: you can now watch and comment on its lessons."),
    "declined": N_("You declined the invitation."),
    "left": N_("You left the trajectory. Its lessons are no longer open to you."),
    "linked": N_("The lesson is in the trajectory now: its members can watch it."),
    "unlinked": N_("The lesson was taken out of the trajectory."),
    "deleted_step": N_("The step was deleted."),
    "from_session": N_(
        "The session is written down as a conversation. Check it, and add what you agreed."
    ),
    "reflected": N_("Thank you: your reflection is saved."),
    "reflection_declined": N_("You will not be asked about this lesson again."),
    "consent_recorded": N_("The parents' consent is recorded."),
    "consent_withdrawn": N_(
        "The withdrawal is recorded. The lessons are out of the trajectory (or deleted) now."
    ),
}


# Each language is named in itself, so a reader finds her own whatever the page shows.
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}


class PageError(web.HTTPException):
    """An error page with a message in the reader's language (``message`` is a msgid)."""

    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__()
        self.message = message


def lesson_unavailable() -> PageError:
    # Same page for "deleted", "never existed" and "not shared with you": nothing leaks.
    return PageError(
        404,
        N_(
            "This lesson is not available to you. It may have been deleted, "
            "or it was not shared with you."
        ),
    )


def current_user(request: web.Request) -> User | None:
    principal = principal_of(request)
    return principal if isinstance(principal, User) else None


def signed_in(request: web.Request) -> User:
    """The signed-in person, or a redirect to the sign-in page that says why."""
    user = current_user(request)
    if user is not None:
        return user
    target = f"/login?next={quote(request.path_qs, safe='')}"
    if request.cookies.get(COOKIE_NAME):
        target += "&reason=expired"  # a cookie that no longer opens a session
    raise web.HTTPSeeOther(target)


def signed_in_admin(request: web.Request) -> User:
    user = signed_in(request)
    if user.role != "admin":
        services_of(request).audit(
            request, user, "access_denied", outcome="denied", detail={"path": request.path}
        )
        raise PageError(403, N_("Only an administrator may open this page."))
    return user


def safe_next(target: str | None) -> str:
    """A redirect target after sign-in: a path on this server, never another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/library"


def _frame(request: web.Request) -> dict[str, Any]:
    catalogue = catalogue_for(request)
    user = current_user(request)
    notice = NOTICES.get(request.query.get("notice", ""))
    frame: dict[str, Any] = {
        "user": user,
        "csrf": user.csrf_token if user else "",
        "lang": catalogue.language,
        "languages": LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "here": request.path_qs,
        "tz": services_of(request).config.web.timezone,
        "notice": notice,
    }
    return frame


def render_fragment(request: web.Request, template: str, context: dict[str, Any]) -> str:
    """Render a piece of a page (no response) in the reader's language."""
    frame = {**_frame(request), **context}
    token = CURRENT.set(catalogue_for(request))
    zone_token = CURRENT_ZONE.set(ZoneInfo(frame["tz"]))
    try:
        return aiohttp_jinja2.get_env(request.app).get_template(template).render(frame)
    finally:
        CURRENT_ZONE.reset(zone_token)
        CURRENT.reset(token)


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> web.Response:
    """Render ``template`` in the reader's language, with the page frame's context."""
    catalogue = catalogue_for(request)
    frame = _frame(request)
    frame.update(context or {})
    token = CURRENT.set(catalogue)
    zone_token = CURRENT_ZONE.set(ZoneInfo(frame["tz"]))
    try:
        response = aiohttp_jinja2.render_template(template, request, frame, status=status)
    finally:
        CURRENT_ZONE.reset(zone_token)
        CURRENT.reset(token)
    # Lesson titles and names must not linger in a shared school laptop's cache.
    response.headers["Cache-Control"] = "no-store"
    # Forms need the browser to send our Origin (the server's CSRF check); "no-referrer" would
    # make it "null". Same-origin still tells other sites nothing.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def redirect(location: str, notice: str | None = None) -> web.HTTPSeeOther:
    if notice is not None:
        assert notice in NOTICES, notice
        location += ("&" if "?" in location else "?") + f"notice={notice}"
    return web.HTTPSeeOther(location)


async def form_of(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (files are not accepted by these forms); text that is
    not UTF-8 is a 400 page."""
    return await form_fields(request)
