"""The picture the tracker searches on a Pi: large enough for the marker at the back of the
room (issue 12, defect 4), sized from [tracking] as pure functions; check-config refuses what
cannot work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lessoncam_device import cli
from lessoncam_device.config import DeviceConfig, parse_config
from lessoncam_device.tracking.detection_stream import (
    detection_stream,
    tracking_problems,
    width_for_marker,
)
from lessoncam_device.tracking.marker import marker_px

FULL_HD = (1920, 1080)


def config_with(**tracking: Any) -> DeviceConfig:
    return parse_config(
        {
            "cameras": {"main": {"source": "picamera2"}},
            "tracking": tracking,
            "motor": {"kind": "pca9685"},
        }
    )


def test_the_old_640_px_stream_was_too_small_for_a_20_cm_marker_at_7_4_m() -> None:
    assert marker_px(0.20, 7.4, 640, 66.0) == pytest.approx(13.3, abs=0.1)  # the 13 px
    need = width_for_marker(0.20, 7.4, 66.0)
    assert marker_px(0.20, 7.4, need, 66.0) >= 24 > marker_px(0.20, 7.4, need - 1, 66.0)


@pytest.mark.parametrize(
    ("tracking", "lores", "size"),
    [
        ({}, (1280, 720), (1280, 720)),  # 20 cm at 8 m: 1247 px, rounded up to 64
        ({"room_depth_m": 7.4}, (1216, 684), (1216, 684)),  # the classroom
        ({"room_depth_m": 4.0}, (640, 360), (640, 360)),
        ({"room_depth_m": 12.0}, None, FULL_HD),  # needs every pixel: the main stream
        ({"room_depth_m": 3.0, "marker_size_m": 0.5}, (320, 180), (320, 180)),
        ({"stream": "lores", "lores_width": 960}, (960, 540), (960, 540)),
        ({"room_depth_m": 8.0, "hfov_deg": 102.0}, None, FULL_HD),  # the Wide lens
    ],
)
def test_the_stream_is_the_narrowest_that_shows_the_marker(
    tracking: dict[str, Any], lores: tuple[int, int] | None, size: tuple[int, int]
) -> None:
    found = detection_stream(FULL_HD, config_with(**tracking).tracking)
    assert found.lores == lores and (found.width, found.height) == size


def test_a_4_by_3_camera_keeps_its_shape() -> None:
    found = detection_stream((1640, 1232), config_with().tracking)
    assert found.lores == (1280, 962)


def test_workable_combinations_pass() -> None:
    assert tracking_problems(config_with()) == []
    assert tracking_problems(config_with(room_depth_m=12.0)) == []
    # Without a motor (or tracking off) the marker's size does not matter.
    off = parse_config({"tracking": {"room_depth_m": 30}, "motor": {"kind": "none"}})
    assert tracking_problems(off) == []


def test_a_marker_under_24_px_at_the_room_depth_is_refused_naming_the_keys() -> None:
    (far,) = tracking_problems(config_with(room_depth_m=14.0))
    assert "room_depth_m = 14 m" in far and "is 21 px wide" in far
    assert "marker_size_m to at least 0.23" in far
    assert "room_depth_m to 12.3 or less" in far
    (lores,) = tracking_problems(config_with(stream="lores", lores_width=960))
    assert "is 18 px wide" in lores
    assert 'lores_width to at least 1280, or stream = "main"' in lores


def test_check_config_refuses_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "device.toml"
    path.write_text(
        '[cameras.main]\nsource = "picamera2"\n[tracking]\nroom_depth_m = 14.0\n'
        '[motor]\nkind = "pca9685"\n'
    )
    assert cli.main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "config refused" in err and "[tracking] marker_size_m" in err
