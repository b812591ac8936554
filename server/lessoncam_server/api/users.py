"""Account administration (admins) and the directory people pick share recipients from."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ..access import accounts
from ..access.passwords import WeakPassword
from ..access.principal import Role
from ..middleware import ApiError
from ..services import services_of
from .support import ApiRoutes, json_response, not_found, read_body, require_user

routes = ApiRoutes("users")


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field("", max_length=120)
    role: Role
    password: str | None = Field(None, max_length=1024, description="Omit to generate one.")


class UserChange(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=120)
    role: Role | None = None
    disabled: bool | None = None


def _user_id(request: web.Request) -> int:
    raw = request.match_info["user_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise not_found("user")
    return int(raw)


@routes.route("GET", "/users", summary="All accounts", auth="admin")
async def list_users(request: web.Request) -> web.StreamResponse:
    return json_response({"users": accounts.list_users(services_of(request).db)})


@routes.route(
    "POST",
    "/users",
    summary="Create an account",
    auth="admin",
    body=NewUser,
    responses={201: "Created; a generated password is returned once", 400: "Invalid"},
)
async def create_user(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    body = await read_body(request, NewUser)
    password = body.password or accounts.generate_password()
    try:
        user = accounts.create_user(
            services.db, body.username, password, body.role, services.now(), body.display_name
        )
    except (accounts.AccountError, WeakPassword) as exc:
        raise ApiError(400, "invalid_user", str(exc)) from None
    services.audit(
        request,
        admin,
        "user_create",
        object_kind="user",
        object_id=user["id"],
        detail={"role": body.role},
    )
    out: dict[str, object] = {"user": user}
    if body.password is None:
        out["password"] = password
    return json_response(out, status=201)


@routes.route(
    "PATCH",
    "/users/{user_id}",
    summary="Rename, change role, disable or enable",
    auth="admin",
    body=UserChange,
    responses={200: "Changed", 404: "No such user"},
)
async def update_user(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    user_id = _user_id(request)
    body = await read_body(request, UserChange)
    if accounts.get_user(services.db, user_id) is None:
        raise not_found("user")
    changes = body.model_dump(exclude_none=True)
    if user_id == admin.id and (changes.get("disabled") or changes.get("role", "admin") != "admin"):
        raise ApiError(400, "self_lockout", "you cannot disable yourself or drop your admin role")
    accounts.update_user(services.db, services.sessions, user_id, changes)
    services.audit(
        request,
        admin,
        "user_update",
        object_kind="user",
        object_id=user_id,
        detail=body.model_dump(exclude_none=True),
    )
    return json_response({"user": accounts.public(accounts.get_user(services.db, user_id) or {})})


@routes.route(
    "POST",
    "/users/{user_id}/password-reset",
    summary="Set a new random password",
    auth="admin",
    responses={200: "The new password, shown once", 404: "No such user"},
)
async def reset_password(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    admin = require_user(request)
    user_id = _user_id(request)
    if accounts.get_user(services.db, user_id) is None:
        raise not_found("user")
    password = accounts.generate_password()
    accounts.set_password(services.db, user_id, password, services.now())
    services.sessions.revoke_all(user_id)
    services.audit(request, admin, "password_reset", object_kind="user", object_id=user_id)
    return json_response({"password": password})


@routes.route(
    "GET", "/directory", summary="Active accounts a lesson can be shared with", auth="user"
)
async def directory(request: web.Request) -> web.StreamResponse:
    db = services_of(request).db
    rows = db.execute(
        "SELECT username, display_name, role FROM users WHERE disabled = 0 ORDER BY display_name"
    ).fetchall()
    people = [{"username": u, "display_name": d, "role": r} for u, d, r in rows]
    return json_response({"people": people})
