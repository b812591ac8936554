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

from .access.oidc.settings import ProviderSettings, SignInSettings, check_together
from .coding.schemes import CodingConfig

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


class S3StoreConfig(_Section):
    """``[storage.s3]``: an S3-compatible bucket for lesson media (MinIO, Ceph RGW, a cloud)."""

    endpoint: str = Field(
        "", description="The bucket service's URL (https://s3.example.org); empty: AWS by region."
    )
    region: str = Field("us-east-1", description="The region the bucket lives in.")
    bucket: str = Field("", description="The bucket's name (it must exist; nothing in it public).")
    prefix: str = Field(
        "lessoncam/", pattern=r"^([A-Za-z0-9._-]+/)*$", description="Key prefix, ending in '/'."
    )
    path_style: bool = Field(
        False, description="Path-style addressing (MinIO, Ceph RGW without wildcard DNS)."
    )
    credentials_file: Path | None = Field(
        None,
        description="TOML file with access_key_id and secret_access_key (mode 0600); "
        "unset: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment.",
    )
    sse: Literal["none", "AES256", "aws:kms"] = Field(
        "none", description="Server-side encryption asked for on every object."
    )
    sse_kms_key_id: str = Field("", description="The KMS key for sse = 'aws:kms' (optional).")
    ca_file: Path | None = Field(None, description="CA bundle for a server with a private CA.")
    presigned: bool = Field(
        False, description="Answer a permitted play request with a redirect to a presigned URL."
    )
    presigned_seconds: int = Field(60, ge=5, le=60, description="A presigned URL's lifetime.")
    part_size_mib: int = Field(16, ge=5, le=1024, description="Multipart upload part size.")
    parallel_parts: int = Field(4, ge=1, le=16, description="Parts uploaded at once.")
    timeout_s: float = Field(30.0, gt=0, le=600, description="Connect and read timeout.")
    retry_max_s: float = Field(
        300.0, ge=1, le=3600, description="Longest wait between tries when the bucket fails."
    )


class StorageConfig(_Section):
    data_dir: Path = Field(Path("/var/lib/lessoncam"), description="Database and media live here.")
    media: Literal["local", "s3"] = Field(
        "local", description="Where new lessons' media go: the data directory or [storage.s3]."
    )
    s3: S3StoreConfig = S3StoreConfig()

    @model_validator(mode="after")
    def _bucket_named(self) -> StorageConfig:
        if self.media == "s3" and not self.s3.bucket:
            raise ValueError("media = 's3' needs [storage.s3] bucket")
        return self


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


class Choice(_Section):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Stored with the answer.")
    en: str = Field(min_length=1, max_length=80)
    nl: str = Field(min_length=1, max_length=80)


class Question(_Section):
    """One question of a reflection form."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Stored with the answer.")
    type: Literal["scale", "text", "minutes", "choice"]
    en: str = Field(min_length=1, max_length=300, description="The question in English.")
    nl: str = Field(min_length=1, max_length=300, description="The question in Dutch.")
    required: bool = True
    min: int = Field(1, ge=0, le=100, description="Scale: the lowest answer.")
    max: int = Field(5, ge=1, le=100, description="Scale: the highest answer.")
    low_en: str = Field("", max_length=60, description="Scale: the label of the lowest end.")
    low_nl: str = Field("", max_length=60)
    high_en: str = Field("", max_length=60, description="Scale: the label of the highest end.")
    high_nl: str = Field("", max_length=60)
    options: tuple[Choice, ...] = Field((), max_length=20, description="Choice: the answers.")
    prefill: Literal["", "watching"] = Field(
        "", description="Minutes: 'watching' fills in what the player measured."
    )

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.type == "scale" and self.min >= self.max:
            raise ValueError(f"question {self.key}: a scale needs min < max")
        if self.type == "choice" and len(self.options) < 2:
            raise ValueError(f"question {self.key}: a choice needs at least two options")
        if self.type == "choice" and len({o.key for o in self.options}) != len(self.options):
            raise ValueError(f"question {self.key}: option keys must be unique")
        if self.prefill and self.type != "minutes":
            raise ValueError(f"question {self.key}: only a minutes question is pre-filled")
        return self


class ReflectionForm(_Section):
    """A reflection form. Change ``version`` whenever you change its questions: answers keep
    the version they were given on (the server refuses to start if a version that has
    answers was changed in place)."""

    version: int = Field(1, ge=1, le=10000)
    questions: tuple[Question, ...] = Field(min_length=1, max_length=40)

    @model_validator(mode="after")
    def _unique_keys(self) -> ReflectionForm:
        keys = [q.key for q in self.questions]
        if len(set(keys)) != len(keys):
            raise ValueError("question keys must be unique within a form")
        return self


def _scale(key: str, en: str, nl: str) -> Question:
    return Question(
        key=key,
        type="scale",
        en=en,
        nl=nl,
        low_en="not at all",
        low_nl="helemaal niet",
        high_en="very much",
        high_nl="heel erg",
    )


def _sentence(key: str) -> Question:
    return Question(
        key=key,
        type="text",
        en="In a sentence (optional)",
        nl="In één zin (niet verplicht)",
        required=False,
    )


# The questions of the study the trajectories follow (one reflection after every recording).
DEFAULT_LESSON_FORM = ReflectionForm(
    version=1,
    questions=(
        _scale("pleasant", "Was it pleasant?", "Was het prettig?"),
        _scale("worth_time", "Was it worth the time?", "Was het de tijd waard?"),
        _scale(
            "insight_pupil",
            "Did it give insight into the pupil's behaviour?",
            "Gaf het inzicht in het gedrag van de leerling?",
        ),
        _sentence("insight_pupil_note"),
        _scale(
            "insight_approach",
            "Did it give insight into my own approach?",
            "Gaf het inzicht in mijn eigen aanpak?",
        ),
        _sentence("insight_approach_note"),
        _scale(
            "insight_interventions",
            "Did it give insight into possible interventions?",
            "Gaf het inzicht in mogelijke interventies?",
        ),
        _sentence("insight_interventions_note"),
        Question(
            key="next_try",
            type="text",
            en="What will I try next?",
            nl="Wat ga ik hierna proberen?",
            required=False,
        ),
        Question(
            key="minutes_preparing",
            type="minutes",
            en="Minutes spent preparing",
            nl="Minuten besteed aan voorbereiden",
        ),
        Question(
            key="minutes_watching",
            type="minutes",
            en="Minutes spent watching",
            nl="Minuten besteed aan kijken",
            prefill="watching",
        ),
        Question(
            key="minutes_talking",
            type="minutes",
            en="Minutes spent talking it over",
            nl="Minuten besteed aan nabespreken",
        ),
        Question(
            key="watched_with",
            type="choice",
            en="I watched",
            nl="Ik keek",
            options=(
                Choice(key="alone", en="alone", nl="alleen"),
                Choice(key="colleague", en="with a colleague", nl="met een collega"),
                Choice(key="coach", en="with the coach", nl="met de coach"),
            ),
        ),
    ),
)

# The short form for a coach or colleague after a conversation.
DEFAULT_CONVERSATION_FORM = ReflectionForm(
    version=1,
    questions=(
        _scale("useful", "Was the conversation useful?", "Was het gesprek nuttig?"),
        _scale(
            "insight_question",
            "Did it help with the teacher's question?",
            "Hielp het bij de vraag van de leraar?",
        ),
        Question(
            key="minutes_preparing",
            type="minutes",
            en="Minutes spent preparing (watching, analysing)",
            nl="Minuten besteed aan voorbereiden (kijken, analyseren)",
        ),
        Question(
            key="note",
            type="text",
            en="What stood out? (optional)",
            nl="Wat viel op? (niet verplicht)",
            required=False,
        ),
    ),
)


class ReflectionConfig(_Section):
    """The reflection after every recording (and the coach's after a conversation)."""

    ask: Literal["trajectory", "all"] = Field(
        "trajectory",
        description="Ask for a reflection on the lessons of a trajectory, or on every lesson.",
    )
    lesson_form: ReflectionForm = DEFAULT_LESSON_FORM
    conversation_form: ReflectionForm = DEFAULT_CONVERSATION_FORM


class BandRange(_Section):
    """Scores from ``min`` to ``max`` fall in this band; ``level`` 0 is the usual one."""

    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=0, le=1000)
    level: int = Field(ge=0, le=3, description="0 close to average ... 3 the furthest from it.")
    en: str = Field(min_length=1, max_length=60)
    nl: str = Field(min_length=1, max_length=60)


class MeasureScale(_Section):
    """One scale of an instrument, as scored on paper (the items are never in lessoncam)."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    en: str = Field(min_length=1, max_length=80)
    nl: str = Field(min_length=1, max_length=80)
    min: int = Field(0, ge=0, le=1000)
    max: int = Field(ge=1, le=1000)
    in_total: bool = Field(False, description="Adds up to the instrument's total.")
    bands: tuple[BandRange, ...] = Field((), max_length=10)

    @model_validator(mode="after")
    def _bands_cover(self) -> MeasureScale:
        if self.min >= self.max:
            raise ValueError(f"scale {self.key}: min must be below max")
        _check_bands(self.key, self.min, self.max, self.bands)
        return self


def _check_bands(key: str, low: int, high: int, bands: tuple[BandRange, ...]) -> None:
    """Bands, if any, cover low..high once each, without gaps or overlaps."""
    if not bands:
        return
    covered = sorted(v for band in bands for v in range(band.min, band.max + 1))
    if covered != list(range(low, high + 1)):
        raise ValueError(f"{key}: the bands must cover {low} to {high} once, without gaps")


class Instrument(_Section):
    """A measure of the focus pupil entered from a paper form the teacher scored: its scales,
    which add up to a total, and the published bands."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Stored with the measure.")
    en: str = Field(min_length=1, max_length=80)
    nl: str = Field(min_length=1, max_length=80)
    scales: tuple[MeasureScale, ...] = Field(min_length=1, max_length=20)
    total_en: str = Field("", max_length=80, description="The total's name (no total if empty).")
    total_nl: str = Field("", max_length=80)
    total_bands: tuple[BandRange, ...] = Field((), max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        keys = [s.key for s in self.scales]
        if len(set(keys)) != len(keys) or "total" in keys:
            raise ValueError(f"instrument {self.key}: scale keys must be unique and not 'total'")
        added = [s for s in self.scales if s.in_total]
        if self.total_en and not added:
            raise ValueError(f"instrument {self.key}: a total needs scales with in_total")
        if added:
            low, high = sum(s.min for s in added), sum(s.max for s in added)
            _check_bands(f"{self.key} total", low, high, self.total_bands)
        return self


def _bands(*ranges: tuple[int, int], lowered: bool = False) -> tuple[BandRange, ...]:
    names = (
        [("close to average", "gemiddeld"), ("slightly lowered", "iets verlaagd"),
         ("low", "laag"), ("very low", "zeer laag")]
        if lowered
        else [("close to average", "gemiddeld"), ("slightly raised", "iets verhoogd"),
              ("high", "hoog"), ("very high", "zeer hoog")]
    )  # fmt: skip
    return tuple(
        BandRange(min=low, max=high, level=level, en=names[level][0], nl=names[level][1])
        for level, (low, high) in enumerate(ranges)
    )


# The SDQ teacher version as scale scores, with the published four bands (sdqinfo.org, for
# 4- to 17-year-olds). The questionnaire's items are copyrighted and are not in lessoncam: the
# teacher scores the paper form and enters the scale scores.
SDQ_TEACHER = Instrument(
    key="sdq_teacher",
    en="SDQ, teacher version",
    nl="SDQ, leerkrachtversie",
    scales=(
        MeasureScale(
            key="emotional", en="Emotional symptoms", nl="Emotionele problemen", max=10,
            in_total=True, bands=_bands((0, 3), (4, 4), (5, 5), (6, 10)),
        ),
        MeasureScale(
            key="conduct", en="Conduct problems", nl="Gedragsproblemen", max=10,
            in_total=True, bands=_bands((0, 2), (3, 3), (4, 4), (5, 10)),
        ),
        MeasureScale(
            key="hyperactivity", en="Hyperactivity/inattention",
            nl="Hyperactiviteit/aandachtstekort", max=10, in_total=True,
            bands=_bands((0, 5), (6, 7), (8, 8), (9, 10)),
        ),
        MeasureScale(
            key="peer", en="Peer problems", nl="Problemen met leeftijdgenoten", max=10,
            in_total=True, bands=_bands((0, 2), (3, 4), (5, 5), (6, 10)),
        ),
        MeasureScale(
            key="prosocial", en="Prosocial behaviour", nl="Prosociaal gedrag", max=10,
            bands=_bands((6, 10), (5, 5), (4, 4), (0, 3), lowered=True),
        ),
        MeasureScale(
            key="impact", en="Impact", nl="Impact", max=6,
            bands=_bands((0, 0), (1, 1), (2, 2), (3, 6)),
        ),
    ),
    total_en="Total difficulties",
    total_nl="Totale problemen",
    total_bands=_bands((0, 11), (12, 15), (16, 18), (19, 40)),
)  # fmt: skip


class MeasuresConfig(_Section):
    """The instruments the focus pupil is measured with (at start, middle and end)."""

    instruments: tuple[Instrument, ...] = Field((SDQ_TEACHER,), min_length=1, max_length=10)

    @model_validator(mode="after")
    def _unique(self) -> MeasuresConfig:
        keys = [i.key for i in self.instruments]
        if len(set(keys)) != len(keys):
            raise ValueError("instrument keys must be unique")
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
    reflection: ReflectionConfig = ReflectionConfig()
    measures: MeasuresConfig = MeasuresConfig()
    coding: CodingConfig = CodingConfig()
    # Signing in with the school's accounts (access/oidc/settings.py).
    oidc: tuple[ProviderSettings, ...] = Field((), max_length=10)
    sign_in: SignInSettings = SignInSettings()
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="after")
    def _sign_in_ways(self) -> ServerConfig:
        check_together(self.oidc, self.sign_in)
        return self


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
