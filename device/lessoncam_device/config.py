"""Unit configuration: ``/etc/lessoncam/device.toml`` (or ``--config``), validated with messages
that name the key and the fix. Every key has a default, so an empty file runs a simulated unit.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lessoncam_common.config_errors import ConfigError as ConfigError
from lessoncam_common.config_errors import describe

DEFAULT_PATH = Path("/etc/lessoncam/device.toml")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitConfig(_Section):
    state_dir: Path = Field(
        Path("/var/lib/lessoncam-device"), description="Token, upload queue and recordings."
    )
    hardware: Literal["auto", "pi", "simulated"] = Field(
        "auto", description="auto = the Pi's camera and pins when present, else simulated."
    )


class CameraConfig(_Section):
    source: Literal["picamera2", "v4l2", "simulated"] = "simulated"
    device: str = Field("0", description="picamera2 camera number, or a /dev/video path.")
    label: str = Field("", max_length=60)
    width: int = Field(1920, ge=160, le=3840)
    height: int = Field(1080, ge=120, le=2160)
    fps: int = Field(30, ge=5, le=60)


class VideoConfig(_Section):
    """How Pi cameras encode H.264, per Raspberry Pi model (read from the device tree)."""

    encoder: Literal["auto", "hardware", "libx264"] = Field(
        "auto",
        description="auto = the hardware encoder on a Pi 4 (and older), libx264 on a Pi 5, "
        "which has none.",
    )
    bitrate_kbps: int = Field(
        0,
        ge=0,
        le=25000,
        description="Per camera; 0 = by encoder: 6000 (hardware) or 7000 (libx264) at "
        "1080p30, scaled to the picture size and rate.",
    )
    x264_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast"] = Field(
        "ultrafast", description="libx264's speed: slower presets cost CPU (see docs/recorder.md)."
    )


class AudioConfig(_Section):
    source: Literal["alsa", "simulated", "none"] = "simulated"
    device: str = Field("default", description="ALSA device, e.g. 'hw:1,0' (see `devices`).")
    sample_rate: int = Field(48000, ge=8000, le=96000)
    channels: int = Field(1, ge=1, le=2)
    offset_ms: float = Field(0.0, ge=-1000, le=1000, description="Calibrated A/V offset.")
    required: bool = Field(
        False,
        description="A microphone that cannot be opened: true = refuse the lesson, "
        "false = record it without sound (and say so).",
    )


class RecordingConfig(_Section):
    segment_seconds: float = Field(10.0, ge=2, le=60)
    max_minutes: int = Field(120, ge=1, le=600, description="A lesson stops by itself after this.")
    storage_reserve_mib: int = Field(
        1024, ge=64, description="Refuse to start, or stop cleanly, below this much free space."
    )
    keep: Literal["delete_after_upload", "keep_days", "keep_all"] = "delete_after_upload"
    keep_days: int = Field(7, ge=1, le=365, description="With keep = 'keep_days'.")


class ControlsConfig(_Section):
    button_pin: int | None = Field(17, ge=0, le=27, description="BCM pin; None = no button.")
    led_pin: int | None = Field(27, ge=0, le=27, description="BCM pin of the status LED.")
    long_press_s: float = Field(2.0, ge=0.5, le=10, description="Hold this long to stop.")
    bounce_s: float = Field(
        0.05, ge=0, le=0.5, description="Debounce: a shorter press is contact bounce; 0 = off."
    )


class UploadsConfig(_Section):
    bandwidth_kib_s: int = Field(0, ge=0, description="Upload cap; 0 = no cap.")
    windows: list[str] = Field(
        default_factory=list,
        description='Local times uploads may run, e.g. ["12:00-13:00", "15:30-07:30"]; '
        "empty = always.",
    )
    heartbeat_s: int = Field(30, ge=5, le=3600)
    snapshot: bool = Field(True, description="Send a small picture with each heartbeat.")
    chunk_kib: int = Field(1024, ge=16, le=1024, description="Bytes per upload request.")
    retry_base_s: float = Field(2.0, gt=0, le=600, description="First wait after a failure.")
    retry_cap_s: float = Field(300.0, gt=0, le=86400, description="Longest wait between tries.")
    connect_timeout_s: float = Field(15.0, gt=0, le=600)
    request_timeout_s: float = Field(120.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _retry(self) -> UploadsConfig:
        if self.retry_cap_s < self.retry_base_s:
            raise ValueError("retry_cap_s must be at least retry_base_s")
        return self

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: list[str]) -> list[str]:
        for window in value:
            if not _WINDOW.fullmatch(window):
                raise ValueError(f"{window!r} is not HH:MM-HH:MM")
        return value


class TrackingConfig(_Section):
    """Pan-follow: the teacher's marker, how often to look, how the camera may move."""

    enabled: bool = Field(True, description="Follow the marker while a lesson records.")
    dictionary: str = Field("DICT_4X4_50", description="ArUco dictionary of the marker.")
    marker_ids: list[int] = Field(
        default_factory=lambda: [7], min_length=1, description="The teacher's marker id(s)."
    )
    marker_size_m: float = Field(0.20, gt=0.01, le=1.0, description="Printed black square.")
    room_depth_m: float = Field(
        8.0, ge=1, le=40, description="Farthest the marker must be found (m): sizes the stream."
    )
    rate_hz: float = Field(15.0, ge=1, le=60, description="Frames searched per second.")
    stream: Literal["main", "lores"] = Field(
        "main", description="Search a crop of the main stream, or the low-resolution stream."
    )
    lores_width: int = Field(960, ge=160, le=1920)
    hfov_deg: float = Field(66.0, gt=10, lt=180, description="The lens's horizontal field.")
    roi_px: int = Field(320, ge=64, le=1080)
    reacquire_hz: float = Field(5.0, gt=0, le=30)
    min_deg: float = Field(-60.0, ge=-180, le=180, description="Soft pan limit, left.")
    max_deg: float = Field(60.0, ge=-180, le=180, description="Soft pan limit, right.")
    home_deg: float = Field(0.0, ge=-180, le=180)
    dead_band_deg: float = Field(2.0, ge=0.5, le=20)
    recentre_after_s: float = Field(
        8.0, ge=0, le=60, description="Stood this long (sway allowed) off-centre: glide to her."
    )
    recentre_speed_dps: float = Field(
        3.0, ge=0, le=30, description="Speed of that glide; 0 turns lazy re-centring off."
    )
    max_speed_dps: float = Field(45.0, gt=0, le=300)
    max_accel_dps2: float = Field(60.0, gt=0, le=1000)
    latency_s: float = Field(0.06, ge=0, le=1, description="Predict this far ahead.")
    motor_lag_s: float = Field(0.06, ge=0, le=1)
    lost_after_s: float = Field(0.5, gt=0, le=10)
    return_home_s: float = Field(15.0, ge=0, le=3600)
    home_speed_dps: float = Field(12.0, gt=0, le=300)

    @model_validator(mode="after")
    def _limits(self) -> TrackingConfig:
        from .tracking.marker import check_ids  # OpenCV: only when a config is checked

        check_ids(self.dictionary, self.marker_ids)
        if not self.min_deg < self.max_deg:
            raise ValueError(f"min_deg ({self.min_deg}) must be below max_deg ({self.max_deg})")
        if not self.min_deg <= self.home_deg <= self.max_deg:
            raise ValueError(f"home_deg ({self.home_deg}) must lie between min_deg and max_deg")
        return self


class MotorConfig(_Section):
    """The pan motor; see docs/tracking.md for wiring."""

    kind: Literal["simulated", "gpio_servo", "hardware_pwm", "pca9685", "pantilt_hat", "none"] = (
        Field(
            "none",
            description='Left out: "simulated" if every camera is simulated, else "none".',
        )
    )
    pin: int = Field(18, ge=0, le=27, description="gpio_servo: BCM pin of the signal wire.")
    pin_factory: Literal["pigpio", "default"] = "pigpio"
    pwm_chip: int = Field(2, ge=0, le=9, description="hardware_pwm: /sys/class/pwm/pwmchipN.")
    pwm_channel: int = Field(2, ge=0, le=3)
    pca9685_channel: int = Field(0, ge=0, le=15)
    i2c_address: int = Field(0x40, ge=0x03, le=0x77)
    min_pulse_us: float = Field(500.0, ge=300, le=3000)
    max_pulse_us: float = Field(2500.0, ge=300, le=3000)
    travel_deg: float = Field(180.0, ge=10, le=360)
    trim_deg: float = Field(0.0, ge=-45, le=45)
    invert: bool = False
    min_deg: float = Field(-80.0, ge=-180, lt=0, description="Never driven further left.")
    max_deg: float = Field(80.0, gt=0, le=180, description="Never driven further right.")


class DeviceConfig(_Section):
    """The whole unit configuration; see ``device/lessoncam-device.sample.toml``."""

    unit: UnitConfig = UnitConfig()
    cameras: dict[str, CameraConfig] = Field(
        default_factory=lambda: {"main": CameraConfig()},
        description="'main' follows the teacher; an optional second one films pupils.",
    )
    audio: AudioConfig = AudioConfig()
    video: VideoConfig = VideoConfig()
    recording: RecordingConfig = RecordingConfig()
    controls: ControlsConfig = ControlsConfig()
    uploads: UploadsConfig = UploadsConfig()
    tracking: TrackingConfig = TrackingConfig()
    motor: MotorConfig = MotorConfig()
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="before")
    @classmethod
    def _motor_by_default(cls, data: Any) -> Any:
        # The simulated motor turns only the simulated camera: it is the default there alone.
        if not isinstance(data, Mapping):
            return data
        motor = data.get("motor", {})
        if not isinstance(motor, Mapping) or "kind" in motor:
            return data
        kind = "simulated" if _camera_sources(data.get("cameras")) <= {"simulated"} else "none"
        return {**data, "motor": {**motor, "kind": kind}}

    @field_validator("cameras", mode="before")
    @classmethod
    def _main_camera_by_default(cls, value: Any) -> Any:
        # A file that only adds [cameras.pupils] still has the default main camera.
        if isinstance(value, dict) and "main" not in value:
            return {"main": {}, **value}
        return value

    @model_validator(mode="after")
    def _cameras(self) -> DeviceConfig:
        if len(self.cameras) > 2:
            raise ValueError("at most two cameras: [cameras.main] and one more")
        for name in self.cameras:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name):
                raise ValueError(f"camera name {name!r}: use lowercase letters, digits, - or _")
        real = sorted(n for n, cam in self.cameras.items() if cam.source != "simulated")
        if self.motor.kind == "simulated" and real:
            cam = self.cameras[real[0]]
            raise ValueError(
                f'[motor] kind = "simulated" cannot turn [cameras.{real[0]}] source = '
                f'"{cam.source}": set [motor] kind to the fitted motor (gpio_servo, '
                'hardware_pwm, pca9685, pantilt_hat) or "none" for a fixed camera'
            )
        return self


def _camera_sources(cameras: Any) -> set[str]:
    """The sources of raw ``cameras`` data (tables or ``CameraConfig``); unset = simulated."""
    if not isinstance(cameras, Mapping):
        return {"simulated"}
    sources: set[str] = set()
    for cam in cameras.values():
        if isinstance(cam, CameraConfig):
            sources.add(cam.source)
        elif isinstance(cam, Mapping):
            sources.add(str(cam.get("source", "simulated")))
    return sources


def parse_config(data: Mapping[str, Any], source: str = "config") -> DeviceConfig:
    try:
        return DeviceConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(source, [describe(e, DeviceConfig) for e in exc.errors()]) from None


def load_config(path: Path | None) -> DeviceConfig:
    """Read ``path`` (None: the default path if it exists, else all defaults)."""
    if path is None:
        if not DEFAULT_PATH.exists():
            return DeviceConfig()
        path = DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            str(path), ["file not found; pass --config with an existing file"]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_config(data, str(path))
