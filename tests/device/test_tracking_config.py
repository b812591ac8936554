"""The [tracking] and [motor] sections: every key in the sample, mistakes named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lessoncam_device.config import ConfigError, DeviceConfig, load_config

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
