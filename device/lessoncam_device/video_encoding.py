"""Which H.264 encoder and bitrate a Pi camera records with, per Raspberry Pi model.

The model comes from the device tree (``/proc/device-tree/model``, e.g. "Raspberry Pi 5 Model
B Rev 1.0"). A Pi 4 (and older, the Zero 2 W) has a hardware H.264 encoder that costs no CPU;
a Pi 5 has none, so picamera2 encodes with libx264 there, at a CPU cost set by the preset
(docs/recorder.md has the figures). ``[video]`` chooses; its defaults follow picamera2's
"medium" quality: 6 Mbit/s for the hardware encoder and 7 Mbit/s for libx264 (whose fast
presets need more bits for the same picture) at 1920x1080, 30 fps, scaled by the square root
of pixels times frames per second. Pure functions, but for reading the model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import VideoConfig

MODEL_PATH = Path("/proc/device-tree/model")
_REFERENCE = 1920 * 1080 * 30.0
_DEFAULT_KBPS = {"hardware": 6000, "libx264": 7000}  # at 1080p30


def read_pi_model(path: Path = MODEL_PATH) -> str:
    """The board's model string ("" when there is no device tree, i.e. not a Pi)."""
    try:
        return path.read_bytes().rstrip(b"\0").decode("ascii", "replace").strip()
    except OSError:
        return ""


def pi_generation(model: str) -> int | None:
    """4 for a Pi 4, a Pi 400 or a Compute Module 4; 5 for a Pi 5, a 500 or a CM5; None when
    the model is not a Raspberry Pi that records (unknown or empty)."""
    if not model.startswith("Raspberry Pi"):
        return None
    if "Zero 2" in model:
        return 3  # the Pi 3's SoC
    found = re.search(r"Raspberry Pi (?:Compute Module )?(\d)", model)
    return int(found.group(1)) if found else None


def has_hardware_h264(model: str) -> bool:
    """The board has the VideoCore H.264 encoder (every Pi up to the 4; not the 5)."""
    generation = pi_generation(model)
    return generation is not None and generation <= 4


@dataclass(frozen=True)
class VideoEncoding:
    """One camera's encoder: ``hardware`` (picamera2's ``H264Encoder``) or ``libx264``
    (``LibavH264Encoder`` with ``preset``), at ``bitrate`` bits per second."""

    encoder: Literal["hardware", "libx264"]
    bitrate: int
    preset: str | None


def video_encoding(
    video: VideoConfig, model: str, size: tuple[int, int], fps: float
) -> VideoEncoding:
    """The encoder for a ``size`` picture at ``fps`` on a ``model`` board."""
    encoder: Literal["hardware", "libx264"]
    if video.encoder == "auto":
        encoder = "hardware" if has_hardware_h264(model) else "libx264"
    else:
        encoder = video.encoder
    if video.bitrate_kbps:
        kbps = float(video.bitrate_kbps)
    else:
        kbps = _DEFAULT_KBPS[encoder] * math.sqrt(size[0] * size[1] * fps / _REFERENCE)
    return VideoEncoding(
        encoder, round(kbps * 1000), video.x264_preset if encoder == "libx264" else None
    )
