"""The ``[[oidc]]`` entries (one per OpenID Provider) and the ``[sign_in]`` section.

The models are part of :class:`~lessoncam_server.config.ServerConfig`, so a mistake is reported
like any other config error, naming the key. Client secrets stay out of the file: they are read
from a file (``client_secret_file``) or an environment variable (``client_secret_env``) when
the server starts or ``check-config`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal["teacher", "coach", "admin"]
# http is allowed for a provider on this machine only (tests, a local Keycloak).
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderSettings(_Section):
    """One OpenID Provider the school signs in with."""

    key: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,31}$",
        description="Short name in URLs and the audit log (lowercase letters, digits, -).",
    )
    name: str = Field(min_length=1, max_length=60, description="Shown on the sign-in button.")
    issuer: str = Field(description="The issuer URL; its discovery document is read from it.")
    client_id: str = Field(min_length=1, max_length=200)
    client_secret_file: Path | None = Field(
        None, description="File holding the client secret (readable by the server only)."
    )
    client_secret_env: str | None = Field(
        None, pattern=r"^[A-Z_][A-Z0-9_]*$", description="Environment variable with the secret."
    )
    scopes: tuple[str, ...] = Field(("openid", "profile", "email"), min_length=1, max_length=20)
    subject_claim: str = Field("sub", min_length=1, description="Stable id: sub, or Entra's oid.")
    name_claim: str = Field("name", min_length=1, description="The display name.")
    username_claim: str = Field(
        "preferred_username", min_length=1, description="Suggests the username of a new account."
    )
    groups_claim: str = Field("groups", min_length=1, description="Groups or app roles.")
    admin_groups: tuple[str, ...] = Field((), max_length=50)
    coach_groups: tuple[str, ...] = Field((), max_length=50)
    teacher_groups: tuple[str, ...] = Field((), max_length=50)
    default_role: Role | Literal["refuse"] = Field(
        "teacher", description="Role when no group matches; 'refuse' turns such people away."
    )
    require: dict[str, str] = Field(
        default_factory=dict, description="Claims that must have exactly this value (hd, tid)."
    )
    create_accounts: bool = Field(True, description="Create an account at the first sign-in.")
    session_hours: int = Field(8, ge=1, le=24 * 30, description="Longest session it opens.")
    logout: bool = Field(True, description="Offer signing out at the provider too.")
    timeout_s: float = Field(10.0, ge=1, le=60, description="Longest wait for the provider.")

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.query or parts.fragment or not parts.hostname:
            raise ValueError("the issuer is a URL such as 'https://login.example.org/tenant'")
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
            raise ValueError("the issuer must use https (http only for a provider on localhost)")
        return value  # compared with the ID token's iss as written, so kept as written

    @field_validator("scopes")
    @classmethod
    def _has_openid(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError("scopes must include 'openid'")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> ProviderSettings:
        if self.client_secret_file is not None and self.client_secret_env is not None:
            raise ValueError(
                f"oidc {self.key}: give client_secret_file or client_secret_env, not both"
            )
        if self.default_role == "refuse" and not self.maps_roles:
            # No groups to match: "refuse" would turn everyone away, linked accounts too.
            raise ValueError(
                f"oidc {self.key}: default_role = 'refuse' needs admin_groups, coach_groups "
                "or teacher_groups (or set create_accounts = false to admit linked accounts only)"
            )
        return self

    @property
    def maps_roles(self) -> bool:
        """True when the groups claim decides the role at every sign-in."""
        return bool(self.admin_groups or self.coach_groups or self.teacher_groups)

    def client_secret(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The client secret (None for a public client that relies on PKCE alone).
        Raises SecretMissing with a message that says what to fix."""
        environ = os.environ if environ is None else environ
        if self.client_secret_env is not None:
            value = environ.get(self.client_secret_env, "").strip()
            if not value:
                raise SecretMissing(
                    f"oidc {self.key}: the environment variable {self.client_secret_env} "
                    "is not set; set it to the client secret"
                )
            return value
        if self.client_secret_file is not None:
            try:
                value = self.client_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SecretMissing(
                    f"oidc {self.key}: cannot read client_secret_file "
                    f"{self.client_secret_file} ({exc.strerror}); create it with the secret"
                ) from None
            if not value:
                raise SecretMissing(f"oidc {self.key}: {self.client_secret_file} is empty")
            return value
        return None


class SecretMissing(Exception):
    """A provider's client secret cannot be read; the message names the fix."""


class SignInSettings(_Section):
    """Who may sign in with a password."""

    local: bool = Field(True, description="Everyone may sign in with a lessoncam password.")
    break_glass: tuple[str, ...] = Field(
        ("admin",),
        max_length=10,
        description="Admin accounts that keep password sign-in when local = false.",
    )


def check_together(providers: Sequence[ProviderSettings], sign_in: SignInSettings) -> None:
    """Rules across entries: unique keys, and no lock-out when local sign-in is off."""
    keys = [p.key for p in providers]
    if len(set(keys)) != len(keys):
        raise ValueError("each [[oidc]] entry needs its own key")
    if not sign_in.local:
        if not providers:
            raise ValueError(
                "sign_in.local = false needs at least one [[oidc]] provider to sign in with"
            )
        if not sign_in.break_glass:
            raise ValueError(
                "sign_in.local = false needs a break_glass admin account, for the day the "
                "provider is down"
            )


def secrets_problems(
    providers: Sequence[ProviderSettings], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every provider whose client secret cannot be read, said so that ICT can fix it."""
    problems = []
    for provider in providers:
        try:
            provider.client_secret(environ)
        except SecretMissing as exc:
            problems.append(str(exc))
    return problems
