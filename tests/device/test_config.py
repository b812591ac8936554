"""The unit's config: defaults, the sample file, and errors that name the key and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lessoncam_device import cli
from lessoncam_device.config import ConfigError, DeviceConfig, load_config, parse_config

SAMPLE = Path(__file__).parents[2] / "device" / "lessoncam-device.sample.toml"


def test_empty_config_is_a_simulated_unit() -> None:
    config = parse_config({})
    assert list(config.cameras) == ["main"] and config.cameras["main"].source == "simulated"
    assert config.controls.long_press_s == 2.0


def test_sample_shows_the_defaults_and_explains_every_key() -> None:
    assert load_config(SAMPLE) == DeviceConfig()
    lines = SAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            above = lines[number - 1]
            assert above.startswith("#") or "=" in above, f"key without explanation: {line}"
    data = tomllib.loads(SAMPLE.read_text())
    for section in ("unit", "audio", "video", "recording", "controls", "uploads"):
        assert set(data[section]) == set(type(getattr(DeviceConfig(), section)).model_fields)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[recording]\nsegment_secs = 5\n", "did you mean 'segment_seconds'"),
        (
            "[cameras.main]\nwidht = 1280\n",
            "[cameras.main] widht: unknown key; did you mean 'width'",
        ),
        ("[cameras.pupils]\nsource = 'simulated'\n[cameras.main]\n[cameras.x]\n", "at most two"),
        ("[cameras.second]\nfps = 100\n", "[cameras.second] fps = 100"),
        ("[controls]\nlong_press_s = 0.1\n", "[controls] long_press_s = 0.1"),
        ("[uploads]\nwindows = ['8-9']\n", "is not HH:MM-HH:MM"),
        ("[audio]\nsource = 'pulse'\n", "[audio] source = 'pulse'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "device.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[cameras.pupils]\nlabel = 'group table'\n")
    assert cli.main(["check-config", "--config", str(good)]) == 0
    assert "pupils (simulated" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[unit]\nhardware = 'raspberry'\n")
    assert cli.main(["check-config", "--config", str(bad)]) == 2
    assert "[unit] hardware = 'raspberry'" in capsys.readouterr().err


def test_devices_command_lists_at_least_the_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["devices"]) == 0
    assert "simulated camera" in capsys.readouterr().out
