"""Config: defaults, environment overrides, and errors that name the key and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from lessoncam_common.config_errors import ConfigError
from lessoncam_server.config import ServerConfig, load_config, parse_config

SAMPLE = Path(__file__).parents[2] / "server" / "lessoncam-server.sample.toml"


def test_empty_config_is_valid() -> None:
    config = parse_config({})
    assert config.http.port == 8080 and config.retention.days == 365


def test_sample_file_parses_and_documents_every_key() -> None:
    config = load_config(SAMPLE, environ={})
    assert config == ServerConfig()  # the sample shows the defaults
    data = tomllib.loads(SAMPLE.read_text())
    for name, field in ServerConfig.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            assert set(data[name]) == set(section.model_fields), name
        else:
            assert name in data, name
    # Every key has a comment right above it (or above the key block it belongs to).
    lines = SAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            above = lines[number - 1]
            assert above.startswith("#") or "=" in above, f"key without explanation: {line}"


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text("[http]\nport = 9000\n")
    config = load_config(
        path, environ={"LESSONCAM_HTTP__PORT": "9100", "LESSONCAM_LOG_LEVEL": "debug"}
    )
    assert config.http.port == 9100 and config.log_level == "debug"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[http]\nprot = 80\n", "did you mean 'port'"),
        ("[http]\nport = 70000\n", "[http] port = 70000"),
        ("[htp]\nport = 1\n", "did you mean 'http'"),
        ("[security]\nsession_idle_minutes = 'long'\n", "session_idle_minutes"),
        ("[http\nport = 1", "not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert expected in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_nested_and_flat_environment_overrides_of_one_key_are_a_config_error() -> None:
    """Found by the fuzzer (tests/test_fuzz_parsers.py): ``LESSONCAM_HTTP__PORT`` and
    ``LESSONCAM_HTTP__PORT__X`` together crashed with a TypeError, naming neither."""
    environ = {"LESSONCAM_HTTP__PORT": "9000", "LESSONCAM_HTTP__PORT__X": "1"}
    with pytest.raises(ConfigError, match="LESSONCAM_HTTP__PORT"):
        parse_config({}, environ)
    environ = {"LESSONCAM_HTTP__PORT__X": "1", "LESSONCAM_HTTP__PORT": "9000"}
    with pytest.raises(ConfigError, match="LESSONCAM_HTTP__PORT"):
        parse_config({}, environ)


def test_an_unknown_key_in_a_guide_tag_lists_the_keys_a_tag_has() -> None:
    """Found by the fuzzer: inside a list of tables the hint listed no keys at all."""
    tag = {"key": "a", "nl": "A", "en": "A", "colour": "red"}
    with pytest.raises(ConfigError) as caught:
        parse_config({"viewing_guide": {"tags": [tag]}})
    (problem,) = caught.value.problems
    assert "tags.0.colour: unknown key" in problem
    assert "known keys here: " in problem and "en, key, nl" in problem
