"""The [tracking] and [motor] sections: every key in the sample, mistakes named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lessoncam_device import cli
from lessoncam_device.config import ConfigError, DeviceConfig, load_config, parse_config

SAMPLE = Path(__file__).parents[2] / "device" / "lessoncam-device.sample.toml"


def test_sample_has_every_tracking_and_motor_key() -> None:
    data = tomllib.loads(SAMPLE.read_text())
    defaults = DeviceConfig()
    for section in ("tracking", "motor"):
        model = type(getattr(defaults, section))
        assert set(data[section]) == set(model.model_fields)
        assert model.model_validate(data[section]) == getattr(defaults, section)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[tracking]\nmin_deg = 30\nmax_deg = -30\n", "min_deg (30.0) must be below max_deg"),
        ("[tracking]\nhome_deg = 70\n", "home_deg (70.0) must lie between min_deg and max_deg"),
        ("[tracking]\nmarker_ids = []\n", "[tracking] marker_ids"),
        ("[tracking]\ndead_band = 2\n", "did you mean 'dead_band_deg'"),
        ("[motor]\nkind = 'stepper'\n", "[motor] kind = 'stepper'"),
        ("[tracking]\nmarker_ids = [7, 51]\n", "marker id 51 is not in DICT_4X4_50"),
        ("[tracking]\ndictionary = 'DICT_4X4'\n", "unknown ArUco dictionary 'DICT_4X4'"),
        ("[motor]\nmin_deg = 10\n", "[motor] min_deg = 10"),
    ],
)
def test_tracking_mistakes_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "device.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("cameras", "kind"),
    [
        ({}, "simulated"),  # an empty file: the simulated unit, its motor turning its camera
        ({"main": {"source": "picamera2"}}, "none"),
        ({"main": {"source": "v4l2", "device": "/dev/video0"}}, "none"),
        ({"pupils": {"source": "v4l2"}}, "none"),  # a real second camera is real hardware too
    ],
)
def test_the_motor_is_simulated_only_by_default_with_simulated_cameras(
    cameras: dict[str, object], kind: str
) -> None:
    data: dict[str, object] = {"motor": {"min_deg": -70}}
    if cameras:
        data["cameras"] = cameras
    assert parse_config(data).motor.kind == kind


def test_a_simulated_motor_with_a_real_camera_is_refused_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "device.toml"
    path.write_text('[cameras.main]\nsource = "picamera2"\n\n[motor]\nkind = "simulated"\n')
    assert cli.main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert '[motor] kind = "simulated" cannot turn [cameras.main] source = "picamera2"' in err
    assert '"none" for a fixed camera' in err
    path.write_text('[cameras.main]\nsource = "picamera2"\n\n[motor]\nkind = "pca9685"\n')
    assert cli.main(["check-config", "--config", str(path)]) == 0
