"""What every request goes through: authentication (session cookie or unit token), CSRF and
origin checks, security headers, and the JSON error answer those checks (and the API) give."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web

from .access.principal import PRINCIPAL
from .access.sessions import COOKIE_NAME, same_secret
from .services import services_of
from .units.fleet import unit_for_token

#: The HTTP access log's logger: its own name, not a module's, so that its level is set apart
#: from the ``access/`` package's (sign-in, sessions) log lines.
ACCESS_LOG = "lessoncam_server.http"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Signing in again while signed in must work without the old session's token (and rotates it);
# a cross-site sign-in is still stopped by the Origin check and the JSON content type.
CSRF_EXEMPT = frozenset({("POST", "/api/v1/session"), ("POST", "/login")})
CSRF_HEADER = "X-CSRF-Token"
# HTML forms cannot send headers: the web app's forms carry the same token in this field.
CSRF_FORM_FIELD = "csrf_token"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# The request's parsed form, kept for the handler.
_FORM: web.RequestKey[dict[str, str]] = web.RequestKey("form")
# No inline script, no framing, nothing fetched from elsewhere (intranet; children on video).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(web.HTTPException):
    """An error answer with a JSON body ``{"error": code, "message": text}``."""

    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": code, "message": message}),
            content_type="application/json",
            headers=headers or None,
        )
        self.code = code
        self.message = message


def is_https(request: web.Request) -> bool:
    return request.secure


@web.middleware
async def forwarded_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Behind the school's TLS proxy (when trusted): the request was HTTPS, so every URL we
    make (tus Location headers) and every cookie we set says so too."""
    if services_of(request).config.http.trust_forwarded_proto:
        proto = request.headers.get("X-Forwarded-Proto", "").lower()
        if proto in ("http", "https") and proto != request.scheme:
            request = request.clone(scheme=proto)
    return await handler(request)


def cookie_secure(request: web.Request) -> bool:
    mode = services_of(request).config.http.secure_cookies
    return mode == "always" or (mode == "auto" and is_https(request))


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    policy = services_of(request).sessions.policy
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(policy.absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=cookie_secure(request),
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Lax", secure=cookie_secure(request)
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the caller (user or unit) to the request; enforce CSRF for cookie sessions."""
    services = services_of(request)
    now = services.now()
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "bad_token", "send the unit token as 'Authorization: Bearer ...'")
        unit = unit_for_token(services.db, token.strip())
        if unit is None:
            raise ApiError(401, "bad_token", "unknown or revoked unit token; enrol the unit again")
        request[PRINCIPAL] = unit
    else:
        cookie = request.cookies.get(COOKIE_NAME)
        user = services.sessions.lookup(cookie, now) if cookie else None
        if user is not None:
            request[PRINCIPAL] = user
            if (
                request.method not in SAFE_METHODS
                and (request.method, request.path) not in CSRF_EXEMPT
            ):
                await _check_csrf(request, user.csrf_token)
    if request.method not in SAFE_METHODS:
        _check_origin(request)
    return await handler(request)


async def form_fields(request: web.Request) -> dict[str, str]:
    """The posted form's text fields, read once (the CSRF check and the page both ask).

    Text must be UTF-8 (Unicode scalar values): anything else is a 400 ``invalid_text``, not a
    500 or text silently turned into replacement marks."""
    if _FORM in request:
        return request[_FORM]
    fields: dict[str, str]
    try:
        if request.content_type == FORM_CONTENT_TYPE:
            # aiohttp decodes percent-escapes leniently; read them strictly here.
            text = (await request.read()).decode("utf-8")
            fields = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
        else:
            data = await request.post()
            fields = {k: v for k, v in data.items() if isinstance(v, str)}
    except UnicodeDecodeError:
        raise ApiError(
            400, "invalid_text", "the form's text is not UTF-8: send Unicode characters only"
        ) from None
    request[_FORM] = fields
    return fields


async def _check_csrf(request: web.Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.content_type == FORM_CONTENT_TYPE:
        sent = (await form_fields(request)).get(CSRF_FORM_FIELD, "")
    if not sent or not same_secret(sent, expected):
        raise ApiError(
            403, "csrf", f"missing or wrong {CSRF_HEADER} header; reload the page and try again"
        )


def _check_origin(request: web.Request) -> None:
    # Browsers always send Origin on cross-site unsafe requests: refuse any that is not us.
    origin = request.headers.get("Origin")
    if origin is None:
        return
    expected = f"{request.scheme}://{request.host}"
    forwarded = f"https://{request.host}"
    if origin not in (expected, forwarded):
        raise ApiError(403, "cross_origin", "requests from other sites are not accepted")


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _harden(request, exc)
        raise
    _harden(request, response)
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    if is_https(request):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
