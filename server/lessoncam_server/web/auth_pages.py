"""Signing in and out, changing one's password, and the language switch."""

from __future__ import annotations

import math

from aiohttp import web

from ..access import accounts
from ..access.passwords import MIN_LENGTH, WeakPassword, verify_password
from ..access.sessions import COOKIE_NAME
from ..middleware import clear_session_cookie, cookie_secure, set_session_cookie
from ..services import client_address, services_of
from .i18n import LANGUAGE_COOKIE, LANGUAGES, t
from .render import current_user, form_of, redirect, render, safe_next, signed_in

routes = web.RouteTableDef()

LANGUAGE_COOKIE_DAYS = 365


@routes.get("/")
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/library" if current_user(request) else "/login")


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if current_user(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    message = None
    if request.query.get("reason") == "expired":
        message = t(request, "Your session has ended. Please sign in again.")
    return render(
        request,
        "login.html",
        {"next": safe_next(request.query.get("next")), "error": message, "username": ""},
    )


@routes.post("/login")
async def login(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    form = await form_of(request)
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")[:1024]
    target = safe_next(form.get("next"))

    def again(message: str, status: int) -> web.Response:
        context = {"next": target, "error": message, "username": username}
        return render(request, "login.html", context, status=status)

    if not username or not password:
        return again(t(request, "Enter your username and password."), 400)
    now, address = services.now(), client_address(request)
    wait = services.throttle.retry_after(username, address, now)
    if wait is not None:
        services.audit(
            request,
            None,
            "login",
            outcome="denied",
            actor_name=username,
            detail={"reason": "throttled"},
        )
        message = t(
            request,
            "Too many failed sign-ins. Try again in %(minutes)s minutes.",
            minutes=max(1, math.ceil(wait / 60)),
        )
        return again(message, 429)
    row = accounts.authenticate(services.db, username, password)
    if row is None:
        services.throttle.failed(username, address, now)
        services.audit(request, None, "login", outcome="failed", actor_name=username)
        return again(t(request, "Wrong username or password."), 401)
    services.throttle.succeeded(username)
    old = request.cookies.get(COOKIE_NAME)
    if old:
        services.sessions.revoke(old)  # rotate: never keep a token from before sign-in
    token, _csrf = services.sessions.create(row["id"], address, now)
    services.audit(
        request, None, "login", actor_name=row["username"], object_kind="user", object_id=row["id"]
    )
    response = web.HTTPSeeOther(target)
    set_session_cookie(request, response, token)
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    services = services_of(request)
    if user is not None:
        services.sessions.revoke(request.cookies.get(COOKIE_NAME, ""))
        services.audit(request, user, "logout")
    response = redirect("/login", "signed_out")
    clear_session_cookie(request, response)
    raise response


@routes.get("/account/password")
async def password_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    return render(request, "password.html", {"error": None, "min_length": MIN_LENGTH})


@routes.post("/account/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = signed_in(request)
    form = await form_of(request)
    current, new, repeat = (form.get(k, "") for k in ("current", "new", "repeat"))

    def again(message: str) -> web.Response:
        context = {"error": message, "min_length": MIN_LENGTH}
        return render(request, "password.html", context, status=400)

    row = accounts.get_user(services.db, user.id)
    if row is None or not verify_password(row["password_hash"], current):
        services.audit(request, user, "password_change", outcome="failed")
        return again(t(request, "Your current password is wrong."))
    if new != repeat:
        return again(t(request, "The two new passwords differ. Type the same password twice."))
    try:
        accounts.set_password(services.db, user.id, new, services.now())
    except WeakPassword:
        return again(
            t(request, "A password needs at least %(count)s characters.", count=MIN_LENGTH)
        )
    services.sessions.revoke_all(user.id)
    token, _csrf = services.sessions.create(user.id, client_address(request), services.now())
    services.audit(request, user, "password_change")
    response = redirect("/library", "password_changed")
    set_session_cookie(request, response, token)
    raise response


@routes.post("/language")
async def set_language(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    language = form.get("language", "")
    response = web.HTTPSeeOther(safe_next(form.get("next")))
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_DAYS * 86400,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=cookie_secure(request),
        )
    raise response
