"""Signing in and out, changing one's password, and the language switch."""

from __future__ import annotations

import math

from aiohttp import web

from ..access import signing_in
from ..access.passwords import MIN_LENGTH
from ..access.sessions import COOKIE_NAME
from ..infra.errors import BadCredentials, DomainError, Forbidden, Throttled
from ..middleware import clear_session_cookie, cookie_secure, set_session_cookie
from ..services import client_address, services_of
from . import oidc_pages
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
    form = await form_of(request)
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")[:1024]
    target = safe_next(form.get("next"))

    def again(message: str, status: int) -> web.Response:
        context = {"next": target, "error": message, "username": username}
        return render(request, "login.html", context, status=status)

    if not username or not password:
        return again(t(request, "Enter your username and password."), 400)
    try:
        session = signing_in.sign_in(
            services_of(request),
            username,
            password,
            address=client_address(request),
            previous_token=request.cookies.get(COOKIE_NAME),
        )
    except Throttled as exc:
        message = t(
            request,
            "Too many failed sign-ins. Try again in %(minutes)s minutes.",
            minutes=max(1, math.ceil(exc.retry_after_s / 60)),
        )
        return again(message, 429)
    except BadCredentials:
        return again(t(request, "Wrong username or password."), 401)
    except Forbidden:  # local_sign_in_off: only the break-glass administrators use a password
        message = t(request, "Password sign-in is off. Sign in with your school account.")
        return again(message, 403)
    response = web.HTTPSeeOther(target)
    set_session_cookie(request, response, session.token)
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    via = None
    if user is not None:
        token = request.cookies.get(COOKIE_NAME, "")
        services = services_of(request)
        via = signing_in.sign_out(services, user, token, address=client_address(request))
    provider_page = oidc_pages.after_sign_out(request, via)
    response = (
        web.HTTPSeeOther(provider_page) if provider_page else redirect("/login", "signed_out")
    )
    clear_session_cookie(request, response)
    raise response


@routes.get("/account/password")
async def password_page(request: web.Request) -> web.StreamResponse:
    signed_in(request)
    return render(request, "password.html", {"error": None, "min_length": MIN_LENGTH})


@routes.post("/account/password")
async def change_password(request: web.Request) -> web.StreamResponse:
    user = signed_in(request)
    form = await form_of(request)
    current, new, repeat = (form.get(k, "") for k in ("current", "new", "repeat"))

    def again(message: str) -> web.Response:
        context = {"error": message, "min_length": MIN_LENGTH}
        return render(request, "password.html", context, status=400)

    messages = {
        "bad_credentials": t(request, "Your current password is wrong."),
        "passwords_differ": t(
            request, "The two new passwords differ. Type the same password twice."
        ),
        "weak_password": t(
            request, "A password needs at least %(count)s characters.", count=MIN_LENGTH
        ),
    }
    try:
        session = signing_in.change_password(
            services_of(request),
            user,
            current,
            new,
            address=client_address(request),
            repeated=repeat,
        )
    except DomainError as exc:
        if exc.code not in messages:
            raise
        return again(messages[exc.code])
    response = redirect("/library", "password_changed")
    set_session_cookie(request, response, session.token)
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
