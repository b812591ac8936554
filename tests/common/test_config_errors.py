"""Config mistakes named as the TOML file spells them, with a hint for a misspelt key."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from lessoncam_common.config_errors import ConfigError, describe, key_name, known_keys


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Camera(_Strict):
    width: int = 1280
    height: int = 720


class Tag(_Strict):
    key: str
    en: str = ""


class Tls(_Strict):
    cert: str = ""


class Http(_Strict):
    port: int = 80
    tls: Tls | None = None


class Config(_Strict):
    cameras: dict[str, Camera] = {}
    tags: list[Tag] = []
    http: Http = Http()
    log_level: str = "info"

    @model_validator(mode="after")
    def _two(self) -> Config:
        if len(self.cameras) > 2:
            raise ValueError("At most two cameras")
        return self


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    return [describe(e, Config) for e in caught.value.errors()]


def test_a_wrong_value_names_its_table_and_key() -> None:
    assert problems({"http": {"port": "eighty"}}) == [
        "[http] port = 'eighty': input should be a valid integer, unable to parse string "
        "as an integer"
    ]
    (line,) = problems({"cameras": {"main": {"width": "wide"}}})
    assert line.startswith("[cameras.main] width = 'wide': input should be")
    (line,) = problems({"http": {"tls": {"cert": 5}}})
    assert line.startswith("[http.tls] cert = 5: ")


def test_a_misspelt_key_gets_a_hint_or_the_keys_that_exist() -> None:
    assert problems({"http": {"prot": 1}}) == ["[http] prot: unknown key; did you mean 'port'?"]
    assert problems({"cameras": {"main": {"widht": 1}}}) == [
        "[cameras.main] widht: unknown key; did you mean 'width'?"
    ]
    assert problems({"tags": [{"key": "a", "colour": "red"}]}) == [
        "[tags] 0.colour: unknown key; known keys here: en, key"
    ]
    assert problems({"htp": {}}) == ["htp: unknown key; did you mean 'http'?"]


def test_a_rule_about_the_whole_file_is_said_plainly() -> None:
    cameras = {name: {} for name in "abc"}
    assert problems({"cameras": cameras}) == ["at most two cameras"]


def test_keys_inside_lists_of_tables_are_dotted_with_their_index() -> None:
    assert key_name(["viewing_guide", "tags", 0, "colour"]) == "[viewing_guide] tags.0.colour"
    assert key_name(["http", "tls", "cert"]) == "[http.tls] cert"
    assert key_name(["log_level"]) == "log_level"


def test_known_keys_follow_tables_names_and_indexes() -> None:
    assert known_keys(Config, []) == ["cameras", "http", "log_level", "tags"]
    assert known_keys(Config, ["cameras"]) == []  # camera names, any will do
    assert known_keys(Config, ["cameras", "main"]) == ["height", "width"]
    assert known_keys(Config, ["tags", "3"]) == ["en", "key"]
    assert known_keys(Config, ["http", "tls"]) == ["cert"]  # through "Tls | None"
    assert known_keys(Config, ["log_level"]) == []
    assert known_keys(Config, ["nothing"]) == []


def test_the_report_lists_each_problem_under_its_source() -> None:
    error = ConfigError("/etc/lessoncam/device.toml", ["[http] port = 0: too low", "x: unknown"])
    assert str(error) == "/etc/lessoncam/device.toml: [http] port = 0: too low; x: unknown"
    assert error.report() == (
        "configuration error in /etc/lessoncam/device.toml:\n"
        "  - [http] port = 0: too low\n"
        "  - x: unknown"
    )
