"""The encoder and bitrate per Raspberry Pi model (issue 12, part 2), from the device tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from lessoncam_device.config import VideoConfig, parse_config
from lessoncam_device.hardware import pi_cameras
from lessoncam_device.video_encoding import (
    VideoEncoding,
    pi_generation,
    read_pi_model,
    video_encoding,
)

from .test_real_sources import plan_for

PI4 = "Raspberry Pi 4 Model B Rev 1.4"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"
HD = (1920, 1080)


def test_the_model_is_read_from_the_device_tree(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.write_bytes(PI5.encode() + b"\0")  # the kernel ends it with a NUL
    assert read_pi_model(model) == PI5
    assert read_pi_model(tmp_path / "absent") == ""  # not a Pi


@pytest.mark.parametrize(
    ("model", "generation"),
    [
        (PI4, 4),
        (PI5, 5),
        ("Raspberry Pi 400 Rev 1.0", 4),
        ("Raspberry Pi Compute Module 4 Rev 1.1", 4),
        ("Raspberry Pi Compute Module 5 Rev 1.0", 5),
        ("Raspberry Pi 500 Rev 1.0", 5),
        ("Raspberry Pi 3 Model B Plus Rev 1.3", 3),
        ("Raspberry Pi Zero 2 W Rev 1.0", 3),
        ("", None),
        ("Radxa ROCK 5B", None),
    ],
)
def test_pi_generations(model: str, generation: int | None) -> None:
    assert pi_generation(model) == generation


def test_a_pi_4_encodes_in_hardware_and_a_pi_5_with_libx264() -> None:
    auto = VideoConfig()
    assert video_encoding(auto, PI4, HD, 30.0) == VideoEncoding("hardware", 6_000_000, None)
    five = video_encoding(auto, PI5, HD, 30.0)
    assert (five.encoder, five.bitrate, five.preset) == ("libx264", 7_000_000, "ultrafast")
    # Not a Pi (a bench machine): libx264 too.
    assert video_encoding(auto, "", HD, 30.0).encoder == "libx264"


def test_the_bitrate_follows_the_picture_and_the_config() -> None:
    auto = VideoConfig()
    small = video_encoding(auto, PI5, (1280, 720), 30.0)
    assert small.bitrate == pytest.approx(7_000_000 * (1280 * 720 / (1920 * 1080)) ** 0.5, rel=1e-3)
    chosen = VideoConfig(encoder="libx264", bitrate_kbps=4000, x264_preset="veryfast")
    on_pi4 = video_encoding(chosen, PI4, HD, 30.0)
    assert (on_pi4.encoder, on_pi4.bitrate, on_pi4.preset) == ("libx264", 4_000_000, "veryfast")


def test_pi_cameras_take_the_models_encoder() -> None:
    config = parse_config(
        {
            "cameras": {"main": {"source": "picamera2"}},
            "audio": {"source": "none"},
            "video": {"x264_preset": "superfast"},
        }
    )
    plan = plan_for(config)
    (four,) = pi_cameras(config, plan, model=PI4).settings
    assert (four.encoder, four.bitrate, four.preset) == ("hardware", 6_000_000, None)
    (five,) = pi_cameras(config, plan, model=PI5).settings
    assert (five.encoder, five.bitrate, five.preset) == ("libav", 7_000_000, "superfast")
