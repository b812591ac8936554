"""Checking an ID token (OpenID Connect Core 3.1.3.7): signed by one of the provider's keys with
an asymmetric algorithm the provider announced, by this issuer, for this client, not expired,
and carrying the nonce this sign-in sent. JOSE through joserfc (Authlib's own JOSE library).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

# Never "none", never HMAC (that would make the client secret a signing key).
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Clocks of a school server and a provider may differ a little.
LEEWAY_S = 60
MAX_TOKEN_CHARS = 16 * 1024


class IdTokenRejected(Exception):
    """The ID token is not acceptable; ``reason`` is a short code for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def header_of(token: str) -> dict[str, Any]:
    """The token's JOSE header, unverified (to pick the key and check the algorithm)."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise IdTokenRejected("malformed")
    first = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (binascii.Error, ValueError):
        raise IdTokenRejected("malformed") from None
    if not isinstance(header, dict):
        raise IdTokenRejected("malformed")
    return header


def key_id(token: str) -> str | None:
    """The ``kid`` the token names (None when it names none)."""
    kid = header_of(token).get("kid")
    return kid if isinstance(kid, str) else None


def knows_key(keys: KeySet, kid: str | None) -> bool:
    """True when ``keys`` has the key ``kid`` (or, without a kid, exactly one key)."""
    if kid is None:
        return len(keys.keys) == 1
    return any(k.kid == kid for k in keys.keys)


def verify(
    token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: Collection[str],
    now: int,
) -> dict[str, Any]:
    """The claims of ``token`` once every check passed; IdTokenRejected otherwise."""
    header = header_of(token)
    allowed = sorted(ASYMMETRIC.intersection(algorithms))
    if header.get("alg") not in allowed:
        raise IdTokenRejected("algorithm_not_allowed")
    kid = key_id(token)
    if not knows_key(keys, kid):
        raise IdTokenRejected("unknown_key")
    key = keys.keys[0] if kid is None else keys.get_by_kid(kid)
    try:
        claims = jwt.decode(token, key, algorithms=allowed).claims
    except BadSignatureError:
        raise IdTokenRejected("bad_signature") from None
    except JoseError:
        raise IdTokenRejected("malformed") from None
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise IdTokenRejected("expired") from None
    except MissingClaimError as exc:
        raise IdTokenRejected(f"missing_{_first(exc)}") from None
    except InvalidClaimError as exc:
        raise IdTokenRejected(_invalid(_first(exc))) from None
    audience = claims["aud"]
    # Several audiences: the token must have been issued to us (Core 3.1.3.7, points 4 and 5).
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise IdTokenRejected("wrong_audience")
    return claims


def _first(exc: ClaimError) -> str:
    return exc.claim.split(",")[0]


def _invalid(claim: str) -> str:
    return {
        "iss": "wrong_issuer",
        "aud": "wrong_audience",
        "nonce": "wrong_nonce",
        "iat": "issued_in_future",
        "nbf": "not_yet_valid",
        "exp": "expired",
    }.get(claim, f"invalid_{claim}")
