"""Talking to one OpenID Provider: its discovery document, its signing keys (cached, fetched
again when a token names a key we do not know: key rotation), and its token endpoint.

Every request has the provider's ``timeout_s``: a provider that is down or slow is a clear
"cannot reach" page, never a hanging sign-in. Nothing here logs a code, a token or a secret.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .id_token import ASYMMETRIC, knows_key
from .settings import ProviderSettings

log = logging.getLogger(__name__)

# A provider's endpoints rarely change; its keys are fetched again when a token needs it.
METADATA_TTL_S = 3600.0
MAX_ANSWER_BYTES = 1024 * 1024


class ProviderUnavailable(Exception):
    """The provider could not be reached, was too slow, or answered something unusable;
    ``reason`` (``unreachable``, ``bad_answer``) goes to the audit log."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class TokenRefused(Exception):
    """The token endpoint refused the code (``error`` as the provider named it)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class Metadata:
    """What lessoncam uses of the discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]
    auth_methods: tuple[str, ...]

    @classmethod
    def from_document(cls, document: dict[str, Any], issuer: str) -> Metadata:
        """Check the document (Authlib's discovery rules) and that it speaks for ``issuer``."""
        try:
            OpenIDProviderMetadata(document).validate()
        except ValueError as exc:
            raise ProviderUnavailable("bad_answer", f"discovery document: {exc}") from None
        if document["issuer"] != issuer:
            # OpenID Connect Discovery 4.3: a document for another issuer is not ours.
            raise ProviderUnavailable(
                "bad_answer", f"discovery document is for issuer {document['issuer']!r}"
            )
        algorithms = tuple(
            a for a in document.get("id_token_signing_alg_values_supported", []) if a in ASYMMETRIC
        )
        if not algorithms:
            raise ProviderUnavailable("bad_answer", "no asymmetric ID token algorithm offered")
        end_session = document.get("end_session_endpoint")
        return cls(
            issuer=issuer,
            authorization_endpoint=str(document["authorization_endpoint"]),
            token_endpoint=str(document["token_endpoint"]),
            jwks_uri=str(document["jwks_uri"]),
            end_session_endpoint=str(end_session) if isinstance(end_session, str) else None,
            algorithms=algorithms,
            auth_methods=tuple(
                document.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
            ),
        )


def basic_auth(client_id: str, secret: str) -> str:
    """HTTP Basic client authentication as RFC 6749 2.3.1 has it: both parts form-encoded."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class ProviderClient:
    """One provider's discovery, keys and token endpoint, cached per server process."""

    def __init__(
        self,
        settings: ProviderSettings,
        client_secret: str | None,
        http: aiohttp.ClientSession,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._secret = client_secret
        self._http = http
        self._monotonic = monotonic
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        self._metadata: Metadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def metadata(self) -> Metadata:
        """The discovery document, fetched at most once an hour."""
        fresh = self._monotonic() - self._metadata_at < METADATA_TTL_S
        if self._metadata is not None and fresh:
            return self._metadata
        document = await self._get_json(discovery_url(self.settings.issuer), "discovery")
        self._metadata = Metadata.from_document(document, self.settings.issuer)
        self._metadata_at = self._monotonic()
        return self._metadata

    async def keys_for(self, kid: str | None) -> KeySet:
        """The provider's signing keys, fetched again when ``kid`` is not among those cached
        (the provider rotated its keys). A kid still unknown after that is the caller's to
        refuse. No rate limit is needed: ID tokens come from the provider's token endpoint,
        never from the browser, so nobody else can make us fetch."""
        async with self._lock:  # one fetch when several sign-ins meet a new key at once
            if self._keys is not None and knows_key(self._keys, kid):
                return self._keys
            metadata = await self.metadata()
            document = await self._get_json(metadata.jwks_uri, "jwks")
            signing = [
                k for k in document.get("keys", []) if isinstance(k, dict) and k.get("use") != "enc"
            ]
            try:
                self._keys = KeySet.import_key_set({"keys": signing})
            except (JoseError, ValueError, TypeError) as exc:
                raise ProviderUnavailable("bad_answer", f"jwks: {exc}") from None
            log.info("oidc %s: fetched %d signing keys", self.settings.key, len(self._keys.keys))
            return self._keys

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """Trade the authorization ``code`` (with the PKCE ``verifier``) for tokens."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if self._secret is None:
            form["client_id"] = self.settings.client_id
        elif "client_secret_basic" in metadata.auth_methods:
            headers["Authorization"] = basic_auth(self.settings.client_id, self._secret)
        else:
            form.update(client_id=self.settings.client_id, client_secret=self._secret)
        try:
            async with self._http.post(
                metadata.token_endpoint,
                data=form,
                timeout=self._timeout,
                allow_redirects=False,
                headers=headers,
            ) as response:
                body = await _read_json(response)
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(
                "unreachable", f"token endpoint: {type(exc).__name__}"
            ) from None
        if status >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            if status < 500 and isinstance(error, str):
                raise TokenRefused(error)
            raise ProviderUnavailable("bad_answer", f"token endpoint answered {status}")
        if not isinstance(body, dict) or not isinstance(body.get("id_token"), str):
            raise ProviderUnavailable("bad_answer", "token endpoint sent no id_token")
        return body

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http.get(
                url, timeout=self._timeout, headers={"Accept": "application/json"}
            ) as response:
                if response.status != 200:
                    raise ProviderUnavailable("bad_answer", f"{what} answered {response.status}")
                body = await _read_json(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable("unreachable", f"{what}: {type(exc).__name__}") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable("bad_answer", f"{what} is not a JSON object")
        return body


async def _read_json(response: aiohttp.ClientResponse) -> Any:
    raw = await response.content.read(MAX_ANSWER_BYTES + 1)
    if len(raw) > MAX_ANSWER_BYTES:
        raise ProviderUnavailable("bad_answer", "answer too large")
    try:
        return json.loads(raw)
    except ValueError:
        raise ProviderUnavailable("bad_answer", "answer is not JSON") from None
