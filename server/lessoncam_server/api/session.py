"""Signing in and out, and the signed-in user's own account."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ..access import accounts, signing_in
from ..access.sessions import COOKIE_NAME
from ..middleware import clear_session_cookie, set_session_cookie
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
    body = await read_body(request, LoginRequest)
    session = signing_in.sign_in(
        services_of(request),
        body.username,
        body.password,
        address=client_address(request),
        previous_token=request.cookies.get(COOKIE_NAME),
    )
    response = json_response(_me(session.user_id, request, session.csrf_token))
    set_session_cookie(request, response, session.token)
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
    user = require_user(request)
    token = request.cookies.get(COOKIE_NAME, "")
    signing_in.sign_out(services_of(request), user, token, address=client_address(request))
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
    user = require_user(request)
    body = await read_body(request, PasswordChange)
    session = signing_in.change_password(
        services_of(request),
        user,
        body.current_password,
        body.new_password,
        address=client_address(request),
    )
    response = json_response(_me(user.id, request, session.csrf_token))
    set_session_cookie(request, response, session.token)
    return response
