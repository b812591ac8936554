"""What hardware this machine has: cameras, microphones and GPIO chips, for ``devices``."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def cameras(dev: Path = Path("/dev")) -> list[str]:
    found = []
    if importlib.util.find_spec("picamera2") is not None:
        try:
            from picamera2 import Picamera2  # only on a Pi

            for number, info in enumerate(Picamera2.global_camera_info()):
                found.append(f"picamera2 camera {number}: {info.get('Model', '?')}")
        except Exception as exc:  # libcamera missing or no camera attached: say so, go on
            found.append(f"picamera2 is installed but found no camera ({exc})")
    found += [f"v4l2 {path}" for path in sorted(dev.glob("video*"))]
    return found


def microphones(proc: Path = Path("/proc/asound")) -> list[str]:
    """ALSA capture devices as ``hw:CARD,DEVICE`` with their names."""
    found = []
    for line in _lines(proc / "pcm"):
        # e.g. "01-00: USB Audio : USB Audio : capture 1"
        ids, _, rest = line.partition(":")
        if "capture" not in rest or "-" not in ids:
            continue
        card, device = (int(part) for part in ids.split("-"))
        found.append(f"alsa hw:{card},{device}: {rest.split(':')[0].strip()}")
    return found


def gpio_chips(dev: Path = Path("/dev")) -> list[str]:
    return [f"gpio {path}" for path in sorted(dev.glob("gpiochip*"))]


def report() -> list[str]:
    """One line per device found, and the simulated ones that always exist."""
    lines = ["simulated camera and microphone (always available)"]
    lines += cameras() or ["no camera found"]
    lines += microphones() or ["no ALSA capture device found"]
    lines += gpio_chips() or ["no GPIO chip found (the button and LED need a Raspberry Pi)"]
    return lines
