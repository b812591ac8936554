"""Signing in and out, and the signed-in user's own account."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ..access import accounts
from ..access.passwords import WeakPassword, verify_password
from ..access.sessions import COOKIE_NAME
from ..middleware import ApiError, clear_session_cookie, set_session_cookie
from ..services import client_address, services_of
from .support import ApiRoutes, json_response, read_body, require_user

routes = ApiRoutes("session")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


def _me(user_id: int, request: web.Request, csrf: str) -> dict[str, object]:
    row = accounts.get_user(services_of(request).db, user_id) or {}
    return {"user": accounts.public(row), "csrf_token": csrf}


@routes.route(
    "POST",
    "/session",
    summary="Sign in; sets the session cookie and returns the CSRF token",
    auth="none",
    body=LoginRequest,
    responses={200: "Signed in", 401: "Wrong username or password", 429: "Too many tries"},
)
async def login(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    body = await read_body(request, LoginRequest)
    now, address = services.now(), client_address(request)
    wait = services.throttle.retry_after(body.username, address, now)
    if wait is not None:
        services.audit(
            request,
            None,
            "login",
            outcome="denied",
            actor_name=body.username,
            detail={"reason": "throttled"},
        )
        raise ApiError(
            429,
            "throttled",
            f"too many failed sign-ins; try again in {int(wait) + 1} seconds",
            **{"Retry-After": str(int(wait) + 1)},
        )
    row = accounts.authenticate(services.db, body.username, body.password)
    if row is None:
        services.throttle.failed(body.username, address, now)
        services.audit(request, None, "login", outcome="failed", actor_name=body.username)
        raise ApiError(401, "bad_credentials", "wrong username or password")
    services.throttle.succeeded(body.username)
    old = request.cookies.get(COOKIE_NAME)
    if old:
        services.sessions.revoke(old)  # rotate: never reuse a token from before sign-in
    token, csrf = services.sessions.create(row["id"], address, now)
    services.audit(
        request, None, "login", actor_name=row["username"], object_kind="user", object_id=row["id"]
    )
    response = json_response(_me(row["id"], request, csrf))
    set_session_cookie(request, response, token)
    return response


@routes.route(
    "GET",
    "/session",
    summary="The signed-in user and CSRF token",
    auth="user",
    responses={200: "Signed in", 401: "Not signed in"},
)
async def whoami(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    return json_response(_me(user.id, request, user.csrf_token))


@routes.route(
    "DELETE",
    "/session",
    summary="Sign out (revokes the session)",
    auth="user",
    responses={204: "Signed out"},
)
async def logout(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    services.sessions.revoke(request.cookies.get(COOKIE_NAME, ""))
    services.audit(request, user, "logout")
    response = web.Response(status=204)
    clear_session_cookie(request, response)
    return response


@routes.route(
    "POST",
    "/session/password",
    summary="Change my password",
    auth="user",
    body=PasswordChange,
    responses={200: "Changed; a new session, all others signed out", 400: "Too weak or wrong"},
)
async def change_password(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    user = require_user(request)
    body = await read_body(request, PasswordChange)
    row = accounts.get_user(services.db, user.id)
    if row is None or not verify_password(row["password_hash"], body.current_password):
        services.audit(request, user, "password_change", outcome="failed")
        raise ApiError(400, "bad_credentials", "the current password is wrong")
    try:
        accounts.set_password(services.db, user.id, body.new_password, services.now())
    except WeakPassword as exc:
        raise ApiError(400, "weak_password", str(exc)) from None
    # Sign out everywhere, then give this browser a fresh session.
    services.sessions.revoke_all(user.id)
    token, csrf = services.sessions.create(user.id, client_address(request), services.now())
    services.audit(request, user, "password_change")
    response = json_response(_me(user.id, request, csrf))
    set_session_cookie(request, response, token)
    return response
