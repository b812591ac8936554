"""Property tests (hypothesis) for everything that parses outside input: the manifest and segment
metadata a unit sends, the tus headers, and both config parsers (file and environment).

Each parser either returns a value or raises its own documented error with a readable message;
never anything else. Few examples in ``make test``, many under ``make reliability``.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from lessoncam_device import config as device_config
from lessoncam_server import config as server_config
from lessoncam_server.units.manifest import Manifest, SegmentMeta
from lessoncam_server.uploads.tus import protocol

from . import reliability

EXAMPLES = reliability.sized(60, 1000)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # The fixture only counts cases across inputs, so sharing it is the point.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture
def counted() -> Iterator[Callable[[], None]]:
    """Counts the cases a test tried, for the suite's ``fuzz_cases`` figure."""
    cases = [0]

    def tick() -> None:
        cases[0] += 1

    yield tick
    reliability.add("fuzz_cases", cases[0])


# Any JSON value: what a body or a TOML file can hold.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


def _mutated(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some known keys replaced by any value, removed, or joined by a stranger:
    so most cases get past the first check and reach the deeper ones."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        data = json.loads(json.dumps(base))
        for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
            action = draw(st.sampled_from(["replace", "drop", "extra"]))
            if action == "replace":
                data[key] = draw(json_values)
            elif action == "drop":
                data.pop(key, None)
            else:
                data[draw(st.text(max_size=8))] = draw(json_values)
        return data

    return build()


VALID_MANIFEST: dict[str, Any] = {
    "format_version": 1,
    "recording_id": "01JD7Q3W9X4M2N8P5R6S7T8V9W",
    "started_at": datetime(2026, 11, 25, 8, 30, tzinfo=UTC).isoformat(),
    "cameras": [
        {
            "id": "main",
            "role": "main",
            "label": "",
            "video": {
                "codec": "h264",
                "container": "mpegts",
                "width": 1280,
                "height": 720,
                "fps": 30,
            },
        }
    ],
    "audio_camera": "main",
    "segment_seconds": 10.0,
}


@FUZZ
@given(data=_mutated(VALID_MANIFEST, list(VALID_MANIFEST)) | json_values)
def test_a_manifest_is_valid_or_refused_with_a_validation_error(
    data: Any, counted: Callable[[], None]
) -> None:
    counted()
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError:
        return
    # What was accepted survives the wire unchanged.
    assert Manifest.model_validate_json(manifest.model_dump_json()) == manifest


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200))
def test_manifest_json_of_any_bytes_is_refused_cleanly(
    raw: bytes | str, counted: Callable[[], None]
) -> None:
    counted()
    with pytest.raises(ValidationError):
        Manifest.model_validate_json(raw)


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["recording", "camera", "sequence", "sha256", "start_s", "duration_s"])
        | st.text(max_size=6),
        st.text(max_size=70),
    )
)
def test_segment_metadata_strings_are_valid_or_refused(
    fields: dict[str, str], counted: Callable[[], None]
) -> None:
    counted()
    try:
        meta = SegmentMeta.model_validate(fields)
    except ValidationError:
        return
    assert meta.sequence >= 0
    assert 0 <= meta.start_s <= 48 * 3600


# --- tus headers -----------------------------------------------------------------------------

meta_keys = st.text(alphabet=[c for c in string.printable[:94] if c != ","], min_size=1)


@FUZZ
@given(header=st.text(max_size=120) | st.lists(st.text(max_size=30)).map(",".join))
def test_upload_metadata_of_any_text_parses_or_says_why(
    header: str, counted: Callable[[], None]
) -> None:
    counted()
    try:
        metadata = protocol.parse_metadata(header)
    except ValueError as exc:
        assert str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())


@FUZZ
@given(metadata=st.dictionaries(meta_keys, st.text(max_size=40), max_size=6))
def test_upload_metadata_round_trips(metadata: dict[str, str], counted: Callable[[], None]) -> None:
    counted()
    assert protocol.parse_metadata(protocol.encode_metadata(metadata)) == metadata


@FUZZ
@given(
    header=st.none()
    | st.text(max_size=30)
    | st.integers(min_value=-(10**30), max_value=10**30).map(str)
    | st.integers(min_value=0).map(lambda n: f"  {n}\t")
)
def test_offset_and_length_headers_are_a_count_or_a_400(
    header: str | None, counted: Callable[[], None]
) -> None:
    counted()
    try:
        value = protocol.parse_uint(header, "Upload-Offset")
    except protocol.TusFailure as fail:
        assert fail.status == 400
        assert "Upload-Offset" in fail.message
        return
    assert header is not None
    assert 0 <= value < 10**19
    assert value == int(header.strip())


@FUZZ
@given(
    header=st.none()
    | st.text(max_size=80)
    | st.tuples(
        st.sampled_from([*protocol.CHECKSUM_ALGORITHMS, "SHA256", "crc32", ""]),
        st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=50),
    ).map(" ".join)
)
def test_upload_checksum_is_parsed_or_a_400(
    header: str | None, counted: Callable[[], None]
) -> None:
    counted()
    try:
        parsed = protocol.parse_checksum(header)
    except protocol.TusFailure as fail:
        assert fail.status == 400
        return
    if header is None:
        assert parsed is None
        return
    assert parsed is not None
    algorithm, digest = parsed
    assert algorithm in protocol.CHECKSUM_ALGORITHMS
    assert len(digest) == protocol.new_digest(algorithm).digest_size


# --- config parsers --------------------------------------------------------------------------


def _sections(model: type[Any]) -> dict[str, list[str]]:
    """Section name -> its keys, to aim the fuzzer at real keys (and their neighbours)."""
    return {
        name: sorted(getattr(field.annotation, "model_fields", {}))
        for name, field in model.model_fields.items()
    }


def _config_data(model: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    sections = _sections(model)
    section_names = st.sampled_from(sorted(sections)) | st.text(max_size=8)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in draw(st.lists(section_names, max_size=4)):
            keys = sections.get(name) or ["x"]
            key_names = st.sampled_from(keys) | st.text(max_size=8)
            data[name] = draw(st.dictionaries(key_names, json_values, max_size=4) | json_values)
        return data

    return build()


def _environment() -> st.SearchStrategy[dict[str, str]]:
    sections = _sections(server_config.ServerConfig)
    parts = st.sampled_from(sorted({*sections, *(k for v in sections.values() for k in v)}))
    parts = parts | st.text(alphabet=string.ascii_letters + "_", max_size=6)
    names = st.lists(parts, min_size=1, max_size=3).map(
        lambda p: server_config.ENV_PREFIX + "__".join(p).upper()
    )
    values = st.text(max_size=20) | json_values.map(json.dumps)
    return st.dictionaries(names | st.just("LESSONCAM_LOG_LEVEL"), values, max_size=5)


@pytest.mark.slow
@FUZZ
@given(data=_config_data(server_config.ServerConfig), environ=_environment())
def test_server_config_is_valid_or_a_config_error(
    data: dict[str, Any], environ: dict[str, str], counted: Callable[[], None]
) -> None:
    counted()
    try:
        server_config.parse_config(data, environ)
    except server_config.ConfigError as exc:
        assert exc.problems
        assert all(problem.strip() for problem in exc.problems)


@pytest.mark.slow
@FUZZ
@given(data=_config_data(device_config.DeviceConfig))
def test_device_config_is_valid_or_a_config_error(
    data: dict[str, Any], counted: Callable[[], None]
) -> None:
    counted()
    try:
        device_config.parse_config(data)
    except device_config.ConfigError as exc:
        assert exc.problems
        assert all(problem.strip() for problem in exc.problems)
