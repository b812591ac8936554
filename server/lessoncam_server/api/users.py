"""Account administration (admins) and the directory people pick share recipients from."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ..access import accounts, administration, directory
from ..access.principal import Role
from ..infra.errors import Invalid
from ..middleware import ApiError
from ..services import client_address, services_of
from .support import ApiRoutes, json_response, read_body, require_user

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
    body = await read_body(request, NewUser)
    try:
        user, generated = administration.create_account(
            services_of(request),
            require_user(request),
            body.username,
            body.role,
            password=body.password,
            display_name=body.display_name,
            address=client_address(request),
        )
    except Invalid as exc:
        # The API has answered every refused account with this code since the start.
        raise ApiError(400, "invalid_user", exc.message) from None
    out: dict[str, object] = {"user": user}
    if generated is not None:
        out["password"] = generated
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
    body = await read_body(request, UserChange)
    user = administration.update_account(
        services_of(request),
        require_user(request),
        request.match_info["user_id"],
        body.model_dump(exclude_none=True),
        address=client_address(request),
    )
    return json_response({"user": user})


@routes.route(
    "POST",
    "/users/{user_id}/password-reset",
    summary="Set a new random password",
    auth="admin",
    responses={200: "The new password, shown once", 404: "No such user"},
)
async def reset_password(request: web.Request) -> web.StreamResponse:
    _user, password = administration.reset_password(
        services_of(request),
        require_user(request),
        request.match_info["user_id"],
        address=client_address(request),
    )
    return json_response({"password": password})


@routes.route(
    "GET", "/directory", summary="Active accounts a lesson can be shared with", auth="user"
)
async def people_to_pick(request: web.Request) -> web.StreamResponse:
    return json_response({"people": directory.active_people(services_of(request).db)})
