"""Server configuration: a TOML file, then ``LESSONCAM_<SECTION>__<KEY>`` environment overrides.

Every key has a default, so an empty file is a valid config. Errors name the key and the fix.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lessoncam_common.config_errors import ConfigError, describe

ENV_PREFIX = "LESSONCAM_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpConfig(_Section):
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port to listen on.")
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto", description="Mark cookies Secure: auto = when the request came over HTTPS."
    )
    trust_forwarded_proto: bool = Field(
        False, description="Believe X-Forwarded-Proto (only behind your own reverse proxy)."
    )
    max_request_kib: int = Field(1024, ge=16, le=65536, description="Largest JSON body.")


class StorageConfig(_Section):
    data_dir: Path = Field(Path("/var/lib/lessoncam"), description="Database and media live here.")


class SecurityConfig(_Section):
    session_idle_minutes: int = Field(120, ge=5, le=24 * 60)
    session_absolute_hours: int = Field(12, ge=1, le=24 * 30)
    login_max_failures_per_account: int = Field(5, ge=1, le=100)
    login_max_failures_per_address: int = Field(20, ge=1, le=1000)
    login_window_minutes: int = Field(15, ge=1, le=24 * 60)
    enrolment_code_minutes: int = Field(15, ge=1, le=60)


class UploadsConfig(_Section):
    max_size_mib: int = Field(4096, ge=1, le=1024 * 1024, description="Tus-Max-Size per upload.")
    expire_hours: int = Field(
        24, ge=1, le=24 * 30, description="Unfinished uploads live this long."
    )
    stall_timeout_s: int = Field(60, ge=5, le=3600, description="A PATCH idle this long is cut.")
    snapshot_max_kib: int = Field(512, ge=16, le=8192, description="Largest aiming snapshot.")
    browser_max_size_mib: int = Field(
        8192, ge=1, le=1024 * 1024, description="Largest video a teacher uploads in the browser."
    )


class RetentionConfig(_Section):
    days: int = Field(365, ge=1, le=3650, description="Default retention; admins may change it.")
    sweep_minutes: int = Field(60, ge=1, le=24 * 60, description="How often expiry runs.")


class WebConfig(_Section):
    default_language: Literal["nl", "en"] = Field(
        "nl", description="Language of the web app until a person picks another."
    )
    timezone: str = Field(
        "Europe/Amsterdam", description="Times in the web app are shown in this zone."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; use a name such as 'Europe/Amsterdam'") from None
        return value


class UnitClaimsConfig(_Section):
    hours: int = Field(
        8, ge=1, le=24 * 7, description="A claim on a unit ends after this many hours."
    )


class GuideTag(_Section):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Stored with the comment.")
    en: str = Field(min_length=1, max_length=60, description="English label.")
    nl: str = Field(min_length=1, max_length=60, description="Dutch label.")


DEFAULT_GUIDE_TAGS = (
    GuideTag(key="instruction", en="Instruction", nl="Instructie"),
    GuideTag(key="interaction", en="Interaction", nl="Interactie"),
    GuideTag(key="pupil_engagement", en="Pupil engagement", nl="Betrokkenheid van leerlingen"),
    GuideTag(key="classroom_management", en="Classroom management", nl="Klassenmanagement"),
    GuideTag(key="learning_climate", en="Learning climate", nl="Pedagogisch klimaat"),
    GuideTag(key="differentiation", en="Differentiation", nl="Differentiatie"),
    GuideTag(key="feedback", en="Feedback", nl="Feedback"),
)


class ViewingGuideConfig(_Section):
    """The school's viewing guide ("kijkkader"): the tags a comment may carry."""

    tags: tuple[GuideTag, ...] = Field(DEFAULT_GUIDE_TAGS, max_length=50)
    max_tags_per_comment: int = Field(5, ge=0, le=20)

    @model_validator(mode="after")
    def _unique_keys(self) -> ViewingGuideConfig:
        keys = [t.key for t in self.tags]
        if len(set(keys)) != len(keys):
            raise ValueError("viewing guide tag keys must be unique")
        return self


class ServerConfig(_Section):
    """The whole server configuration; see ``server/lessoncam-server.sample.toml``."""

    http: HttpConfig = HttpConfig()
    storage: StorageConfig = StorageConfig()
    security: SecurityConfig = SecurityConfig()
    uploads: UploadsConfig = UploadsConfig()
    retention: RetentionConfig = RetentionConfig()
    web: WebConfig = WebConfig()
    viewing_guide: ViewingGuideConfig = ViewingGuideConfig()
    unit_claims: UnitClaimsConfig = UnitClaimsConfig()
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``LESSONCAM_HTTP__PORT=9000`` becomes ``{"http": {"port": 9000}}``."""
    tree: dict[str, Any] = {}
    names: dict[tuple[str, ...], str] = {}  # each key set so far -> the variable that set it
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        if "__" not in name and name != "LESSONCAM_LOG_LEVEL":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        # A value and a key inside that value (HTTP__PORT and HTTP__PORT__X) cannot both hold.
        clash = next((other for key, other in names.items() if _nested(key, tuple(path))), None)
        if clash is not None:
            raise ConfigError("environment", [f"{name} and {clash} set the same key; keep one"])
        names[tuple(path)] = name
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _nested(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """True when one key path lies inside (or is) the other."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_config(
    data: Mapping[str, Any], environ: Mapping[str, str] | None = None, source: str = "config"
) -> ServerConfig:
    """Validate a config mapping (plus environment overrides) into a ``ServerConfig``."""
    merged = _merge(dict(data), _env_overrides(environ or {}))
    try:
        return ServerConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(source, [describe(e, ServerConfig) for e in exc.errors()]) from None


def load_config(path: Path | None, environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Read the TOML file at ``path`` (None = defaults only) and apply the environment."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                source, ["file not found; pass --config with an existing file"]
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    return parse_config(data, environ, source)
