"""The JSON API's plumbing: errors, body parsing, and a route table that knows who may call what.

Every operation is declared once with its auth rule and request model; the same declarations
produce the OpenAPI document, so the document and the routes cannot drift apart.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from lessoncam_common.disk import disk_full

from ..access.principal import Unit, User, principal_of
from ..infra.disk_space import DISK_FULL_MESSAGE
from ..infra.errors import DomainError, Throttled
from ..middleware import ApiError
from ..services import services_of

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

Auth = Literal["none", "user", "admin", "unit", "user_or_unit"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)


def api_error(exc: DomainError) -> ApiError:
    """The API's answer to an action a concern refused: its status, code and message."""
    headers = {}
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(int(exc.retry_after_s) + 1)
    return ApiError(exc.status, exc.code, exc.message, **headers)


def not_found(what: str = "lesson") -> ApiError:
    # Same answer for "missing" and "not yours", so ids cannot be probed.
    return ApiError(404, "not_found", f"no such {what}, or you have no access to it")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg'].lower()}")
    return "; ".join(parts)


def _describe_json_error(exc: ValidationError) -> str:
    detail = next(
        e.get("ctx", {}).get("error", "") for e in exc.errors() if e["type"] == "json_invalid"
    )
    return f"the body is not valid JSON ({detail})" if detail else "the body is not valid JSON"


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse the JSON body into ``model``; a 400/415 that names the wrong field otherwise."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "too_large", "the request body is too large") from None
    try:
        # pydantic's own parser: a nesting limit (json.loads recurses until RecursionError).
        # Strict: a JSON number where the model says number (no true for 1.0, no "12" for 12).
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise bad_request(_describe_json_error(exc), "invalid_json") from None
        raise bad_request(_describe_validation(exc), "invalid_body") from None


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise bad_request(_describe_validation(exc), "invalid_query") from None


def require_user(request: web.Request) -> User:
    principal = principal_of(request)
    if not isinstance(principal, User):
        raise ApiError(401, "unauthenticated", "sign in first")
    return principal


def require_unit(request: web.Request) -> Unit:
    principal = principal_of(request)
    if not isinstance(principal, Unit):
        raise ApiError(401, "unauthenticated", "this call needs a unit token (enrol the unit)")
    return principal


def _check_auth(request: web.Request, auth: Auth) -> None:
    if auth == "none":
        return
    principal = principal_of(request)
    if principal is None:
        raise ApiError(401, "unauthenticated", "sign in first (or send the unit's token)")
    if auth == "user_or_unit":
        return
    if auth == "unit":
        require_unit(request)
        return
    user = require_user(request)
    if auth == "admin" and user.role != "admin":
        services_of(request).audit(
            request, user, "access_denied", outcome="denied", detail={"path": request.path}
        )
        raise forbidden("only an administrator may do this")


@dataclass
class Operation:
    """One declared API operation: enough to route it, guard it and document it."""

    method: str
    path: str  # relative to API_PREFIX
    handler: Handler
    summary: str
    auth: Auth
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, str] = field(default_factory=dict)
    content: str = "application/json"


class ApiRoutes:
    """Collects operations from the api modules; ``install`` adds them to an app."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        auth: Auth,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        responses: dict[int, str] | None = None,
        content: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            async def guarded(request: web.Request) -> web.StreamResponse:
                _check_auth(request, auth)
                return await handler(request)

            guarded.__doc__ = handler.__doc__
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=guarded,
                    summary=summary,
                    auth=auth,
                    tag=self.tag,
                    body=body,
                    query=query,
                    responses=responses or {200: "OK"},
                    content=content,
                )
            )
            return handler

        return decorate


def install(app: web.Application, groups: list[ApiRoutes]) -> list[Operation]:
    """Add every operation of ``groups`` to ``app`` under API_PREFIX; returns them all."""
    operations = [op for group in groups for op in group.operations]
    for op in operations:
        app.router.add_route(op.method, API_PREFIX + op.path, op.handler)
        if op.method == "GET":  # as aiohttp's add_get does: HEAD answers like GET, no body
            app.router.add_route("HEAD", API_PREFIX + op.path, op.handler)
    return operations


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into a JSON answer; never a stack trace to the client."""
    try:
        return await handler(request)
    except ApiError:
        raise
    except DomainError as exc:
        if not request.path.startswith(API_PREFIX):
            raise  # a page: its own error page, in the reader's language
        raise api_error(exc) from None
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(API_PREFIX):
            raise
        code = exc.reason.lower().replace(" ", "_")
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        raise ApiError(exc.status, code, message, **_kept_headers(exc)) from None
    except Exception as exc:
        if disk_full(exc):
            log.error("%s %s: the server's disk is full: %s", request.method, request.path, exc)
            raise ApiError(507, "disk_full", DISK_FULL_MESSAGE, **{"Retry-After": "60"}) from None
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise ApiError(
            500, "internal", "something went wrong on the server; it was logged"
        ) from None


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    keep = ("Allow", "Retry-After", "Location")
    return {h: exc.headers[h] for h in keep if h in exc.headers}
