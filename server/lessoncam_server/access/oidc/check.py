"""What ``lessoncam-server check-config`` says about the ``[[oidc]]`` entries: each provider's
client secret can be read and, with ``--fetch-discovery``, what its discovery document and
keys offer. Never prints a secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiohttp

from .provider import ProviderClient, ProviderUnavailable, discovery_url
from .settings import ProviderSettings, SecretMissing


def describe(provider: ProviderSettings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Lines about one entry, without the network; a problem line starts with ``error:``."""
    lines = [
        f"oidc {provider.key} ({provider.name}): issuer {provider.issuer}, "
        f"client id {provider.client_id}; register the redirect URI "
        f"https://<this server>/login/oidc/{provider.key}/callback"
    ]
    try:
        secret = provider.client_secret(environ)
    except SecretMissing as exc:
        return [*lines, f"error: {exc}"]
    source = (
        f"environment variable {provider.client_secret_env}"
        if provider.client_secret_env
        else str(provider.client_secret_file)
    )
    lines.append(
        f"  client secret: read from {source}" if secret else "  no client secret: PKCE only"
    )
    roles = "from the groups claim" if provider.maps_roles else "kept in lessoncam"
    lines.append(f"  subject claim {provider.subject_claim!r}; roles {roles}")
    return lines


async def fetch(providers: Sequence[ProviderSettings]) -> tuple[list[str], bool]:
    """Fetch each provider's discovery document and keys; (lines, all reachable and sound)."""
    lines: list[str] = []
    ok = True
    async with aiohttp.ClientSession(headers={"User-Agent": "lessoncam check-config"}) as http:
        for provider in providers:
            client = ProviderClient(provider, None, http)
            try:
                metadata = await client.metadata()
                keys = await client.keys_for(None)
            except ProviderUnavailable as exc:
                ok = False
                lines.append(
                    f"error: oidc {provider.key}: {discovery_url(provider.issuer)}: "
                    f"{exc.reason} ({exc.detail or 'no detail'})"
                )
                continue
            lines += [
                f"oidc {provider.key}: discovery document found at "
                f"{discovery_url(provider.issuer)}",
                f"  authorization endpoint {metadata.authorization_endpoint}",
                f"  token endpoint {metadata.token_endpoint}",
                f"  {len(keys.keys)} signing key(s); ID token algorithms "
                + ", ".join(metadata.algorithms),
                "  sign-out at the provider (RP-initiated logout): "
                + ("offered" if metadata.end_session_endpoint else "not offered"),
            ]
    return lines, ok
