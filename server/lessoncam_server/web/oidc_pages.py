"""Signing in with the school's account: the button's start, the provider's callback, and the
page after signing out that offers signing out at the provider too (issue 17).

The start is a plain link (GET): a form posted to us and redirected to the provider would be
stopped by our ``form-action 'self'`` policy. It stores only an authorization under way
(``access/oidc/pending.py``); the callback consumes it once, checks the provider's answer and
hands the verified claims to the sign-in use case (``access/signing_in.py``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from lessoncam_common.config_errors import ConfigError

from ..access import signing_in
from ..access.oidc import pending
from ..access.oidc.id_token import IdTokenRejected, key_id, verify
from ..access.oidc.provider import ProviderClient, ProviderUnavailable, TokenRefused
from ..access.oidc.settings import ProviderSettings, SecretMissing
from ..access.sessions import COOKIE_NAME
from ..config import ServerConfig
from ..infra import log_redaction
from ..middleware import ACCESS_LOG, cookie_secure, set_session_cookie
from ..services import client_address, services_of
from .i18n import N_
from .render import render, safe_next

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

OIDC_CLIENTS = web.AppKey("oidc_clients", dict)
CALLBACK = "/login/oidc/{key}/callback"
# Error codes a provider may send back (RFC 6749 4.1.2.1, OpenID Connect Core 3.1.2.6); any
# other text is shown as "error", so nothing a link carries is echoed.
PROVIDER_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_request",
        "unauthorized_client",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
    }
)
MAX_CODE_CHARS = 4096


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str  # a msgid with %(provider)s


REFUSALS = {
    "state": Refusal(
        400,
        N_("This sign-in has expired or was already used. Start again from the sign-in page."),
    ),
    "provider_error": Refusal(
        403,
        N_(
            "%(provider)s did not sign you in. If you think this is wrong, ask your "
            "school's ICT administrator."
        ),
    ),
    "untrusted": Refusal(
        400,
        N_(
            "The answer from %(provider)s could not be trusted, so you were not signed in. "
            "Try again; if it keeps happening, tell your school's ICT administrator."
        ),
    ),
    "unreachable": Refusal(
        503,
        N_(
            "%(provider)s cannot be reached right now, so you were not signed in. "
            "Try again in a few minutes."
        ),
    ),
    "not_allowed": Refusal(
        403,
        N_(
            "Your school account does not give access to lessoncam. "
            "Ask your school's ICT administrator."
        ),
    ),
    "no_account": Refusal(
        403,
        N_(
            "There is no lessoncam account for your school account yet. "
            "Ask your school's ICT administrator to link one."
        ),
    ),
    "account_disabled": Refusal(
        403,
        N_("Your lessoncam account is disabled. Ask your school's ICT administrator."),
    ),
}
# The use case's reasons, grouped by what the person can do about them.
USE_CASE_REFUSALS = {
    "missing_claim": "not_allowed",
    "requirement": "not_allowed",
    "no_group": "not_allowed",
    "no_account": "no_account",
    "account_disabled": "account_disabled",
}


def setup_oidc(app: web.Application, config: ServerConfig) -> None:
    """Add the routes; at start-up read the client secrets and open one HTTP client."""
    log_redaction.install(ACCESS_LOG)
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_clients_ctx(config))


def _clients_ctx(config: ServerConfig):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        clients: dict[str, ProviderClient] = {}
        try:
            secrets = {p.key: p.client_secret() for p in config.oidc}
        except SecretMissing as exc:
            raise ConfigError("[[oidc]]", [str(exc)]) from None
        async with aiohttp.ClientSession(
            headers={"User-Agent": "lessoncam"}, raise_for_status=False
        ) as http:
            for provider in config.oidc:
                clients[provider.key] = ProviderClient(provider, secrets[provider.key], http)
            app[OIDC_CLIENTS] = clients
            yield

    return ctx


def _client(request: web.Request) -> ProviderClient:
    client = request.app[OIDC_CLIENTS].get(request.match_info["key"])
    if not isinstance(client, ProviderClient):
        raise web.HTTPNotFound()
    return client


def callback_url(request: web.Request, key: str) -> str:
    """Where the provider sends the person back (register exactly this at the provider)."""
    return f"{request.url.origin()}{CALLBACK.format(key=key)}"


def _refused(request: web.Request, provider: ProviderSettings, kind: str) -> web.Response:
    refusal = REFUSALS[kind]
    response = render(
        request,
        "oidc_refused.html",
        {"message": refusal.message, "provider": provider.name, "status": refusal.status},
        status=refusal.status,
    )
    _forget_browser(request, response)
    return response


def _forget_browser(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(
        pending.BROWSER_COOKIE,
        path="/login/oidc/",
        httponly=True,
        samesite="Lax",
        secure=cookie_secure(request),
    )


@routes.get("/login/oidc/{key}")
async def start(request: web.Request) -> web.StreamResponse:
    """Send the person to her provider with a fresh state, nonce and PKCE challenge."""
    client = _client(request)
    provider = client.settings
    services = services_of(request)
    try:
        metadata = await client.metadata()
    except ProviderUnavailable as exc:
        log.warning("oidc %s: cannot start a sign-in: %s", provider.key, exc)
        signing_in.refuse_provider_sign_in(
            services,
            provider.key,
            f"provider_{exc.reason}",
            address=client_address(request),
            outcome="failed",
        )
        return _refused(request, provider, "unreachable")
    started = pending.begin(
        services.db, provider.key, safe_next(request.query.get("next")), services.now()
    )
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": callback_url(request, provider.key),
        "scope": " ".join(provider.scopes),
        "state": started.state,
        "nonce": started.nonce,
        "code_challenge": started.code_challenge,
        "code_challenge_method": "S256",
    }
    separator = "&" if "?" in metadata.authorization_endpoint else "?"
    response = web.HTTPSeeOther(metadata.authorization_endpoint + separator + urlencode(query))
    response.set_cookie(
        pending.BROWSER_COOKIE,
        started.browser_secret,
        max_age=int(pending.LIFETIME.total_seconds()),
        path="/login/oidc/",
        httponly=True,
        samesite="Lax",  # sent on the provider's top-level redirect back to us
        secure=cookie_secure(request),
    )
    response.headers["Cache-Control"] = "no-store"
    raise response


@routes.get(CALLBACK)
async def callback(request: web.Request) -> web.StreamResponse:
    """The provider's answer: check it all, then sign the person in."""
    client = _client(request)
    provider = client.settings
    services = services_of(request)
    address = client_address(request)
    query = request.query

    def refuse(kind: str, reason: str, **detail: str) -> web.Response:
        signing_in.refuse_provider_sign_in(
            services, provider.key, reason, address=address, detail=detail or None
        )
        return _refused(request, provider, kind)

    flow = pending.consume(
        services.db,
        provider.key,
        query.get("state", ""),
        request.cookies.get(pending.BROWSER_COOKIE, ""),
        services.now(),
    )
    if flow is None:
        return refuse("state", "unknown_state")
    # RFC 9207: an answer that says it comes from another issuer is a mix-up.
    if "iss" in query and query["iss"] != provider.issuer:
        return refuse("untrusted", "wrong_issuer_parameter")
    if "error" in query:
        error = query["error"] if query["error"] in PROVIDER_ERRORS else "error"
        return refuse("provider_error", "provider_error", error=error)
    code = query.get("code", "")
    if not code or len(code) > MAX_CODE_CHARS:
        return refuse("untrusted", "no_code")
    try:
        tokens = await client.exchange(
            code, flow.code_verifier, callback_url(request, provider.key)
        )
        id_token = tokens["id_token"]
        keys = await client.keys_for(key_id(id_token))
        metadata = await client.metadata()
        claims = verify(
            id_token,
            keys,
            issuer=provider.issuer,
            client_id=provider.client_id,
            nonce=flow.nonce,
            algorithms=metadata.algorithms,
            now=int(services.now().timestamp()),
        )
    except ProviderUnavailable as exc:
        log.warning("oidc %s: sign-in failed: %s", provider.key, exc)
        kind = "unreachable" if exc.reason == "unreachable" else "untrusted"
        return refuse(kind, f"provider_{exc.reason}")
    except TokenRefused as exc:
        error = exc.error if re.fullmatch(r"[a-z_]{1,40}", exc.error) else "error"
        return refuse("untrusted", "token_refused", error=error)
    except IdTokenRejected as exc:
        return refuse("untrusted", f"id_token_{exc.reason}")
    try:
        session = signing_in.sign_in_with_provider(
            services,
            provider,
            claims,
            address=address,
            previous_token=request.cookies.get(COOKIE_NAME),
        )
    except signing_in.ProviderSignInRefused as exc:
        return _refused(request, provider, USE_CASE_REFUSALS.get(exc.code, "not_allowed"))
    response = web.HTTPSeeOther(safe_next(flow.next_path))
    set_session_cookie(request, response, session.token)
    _forget_browser(request, response)
    raise response


@routes.get("/logout/oidc/{key}")
async def signed_out(request: web.Request) -> web.StreamResponse:
    """Signed out of lessoncam; where the provider offers it (RP-initiated logout), a link to
    sign out there too. The link carries our client id, never a token."""
    client = _client(request)
    provider = client.settings
    end_session = None
    if provider.logout:
        try:
            end_session = (await client.metadata()).end_session_endpoint
        except ProviderUnavailable:
            end_session = None
    link = None
    if end_session:
        query = urlencode(
            {
                "client_id": provider.client_id,
                "post_logout_redirect_uri": f"{request.url.origin()}/login?notice=signed_out",
            }
        )
        link = end_session + ("&" if "?" in end_session else "?") + query
    return render(
        request, "oidc_signed_out.html", {"provider": provider.name, "provider_logout": link}
    )


def after_sign_out(request: web.Request, via: str | None) -> str | None:
    """Where to go after signing out of a session opened through provider ``via``."""
    clients = request.app[OIDC_CLIENTS]
    client = clients.get(via) if via else None
    if isinstance(client, ProviderClient) and client.settings.logout:
        return f"/logout/oidc/{client.settings.key}"
    return None
