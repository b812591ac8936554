"""How large the picture the tracker searches must be, for the marker at the back of the room.

A marker is found reliably from 24 px wide (``marker.MIN_MARKER_PX``). With ``[tracking]
marker_size_m``, ``room_depth_m`` and ``hfov_deg`` the pinhole model gives the narrowest
picture in which it still is: ``width = 24 * depth * 2 tan(hfov / 2) / side``. On a Pi the
tracker watches a picamera2 low-resolution stream of that width (rounded up, never wider than
the main stream), or the main stream itself when nothing smaller is enough
(``stream = "main"``, the default); ``stream = "lores"`` fixes the width (``lores_width``).
``check-config`` refuses a combination whose marker is under 24 px at ``room_depth_m``, naming
the key to change. Pure functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import DeviceConfig, TrackingConfig
from .marker import MIN_MARKER_PX, focal_px, marker_px, required_side_m

#: Low-resolution stream widths are multiples of this (the Pi's ISP and the encoder's strides).
LORES_ALIGN_PX = 64
#: The narrowest low-resolution stream asked for (a big marker in a small room).
MIN_LORES_WIDTH = 320


def width_for_marker(
    side_m: float, distance_m: float, hfov_deg: float, min_px: float = MIN_MARKER_PX
) -> int:
    """The narrowest picture (px) in which a ``side_m`` marker at ``distance_m`` is ``min_px``
    wide, through a lens of ``hfov_deg``."""
    if side_m <= 0 or distance_m <= 0 or not 0 < hfov_deg < 180:
        raise ValueError("side, distance and field of view must be positive (fov < 180)")
    return math.ceil(min_px * distance_m * 2 * math.tan(math.radians(hfov_deg) / 2) / side_m)


@dataclass(frozen=True)
class DetectionStream:
    """What the tracker searches on a Pi: a low-resolution stream (``lores``) or, when that is
    None, the main stream; ``width`` x ``height`` either way."""

    lores: tuple[int, int] | None
    width: int
    height: int
    marker_px: float  # the marker's width at room_depth_m in this picture


def _lores_size(width: int, main: tuple[int, int]) -> tuple[int, int]:
    height = round(width * main[1] / main[0] / 2) * 2  # the main stream's shape, even rows
    return width, height


def detection_stream(main: tuple[int, int], tracking: TrackingConfig) -> DetectionStream:
    """The stream the tracker searches for a main stream of size ``main``."""
    if tracking.stream == "lores":
        wanted = tracking.lores_width
    else:
        need = width_for_marker(tracking.marker_size_m, tracking.room_depth_m, tracking.hfov_deg)
        wanted = max(MIN_LORES_WIDTH, math.ceil(need / LORES_ALIGN_PX) * LORES_ALIGN_PX)
    lores = _lores_size(wanted, main) if wanted < main[0] else None
    width, height = lores or main
    px = marker_px(tracking.marker_size_m, tracking.room_depth_m, width, tracking.hfov_deg)
    return DetectionStream(lores, width, height, px)


def tracking_problems(config: DeviceConfig) -> list[str]:
    """Why the main camera's tracker cannot see the marker at the back of the room: one
    sentence per problem, naming the keys to change (empty: it can)."""
    t = config.tracking
    if not t.enabled or config.motor.kind == "none":
        return []
    main = config.cameras["main"]
    found = detection_stream((main.width, main.height), t)
    if found.marker_px >= MIN_MARKER_PX:
        return []
    where = (
        f'the tracker\'s {found.width} px wide picture ([tracking] stream = "lores", '
        f"lores_width = {t.lores_width})"
        if found.lores is not None
        else f"the {found.width} px wide main picture ([cameras.main] width)"
    )
    fixes = []
    if found.lores is not None:
        need = width_for_marker(t.marker_size_m, t.room_depth_m, t.hfov_deg)
        if need <= main.width:
            aligned = min(main.width, math.ceil(need / LORES_ALIGN_PX) * LORES_ALIGN_PX)
            fixes.append(f'set [tracking] lores_width to at least {aligned}, or stream = "main"')
    side = math.ceil(required_side_m(t.room_depth_m, found.width, t.hfov_deg) * 100) / 100
    fixes.append(
        f"print a bigger marker and set [tracking] marker_size_m to at least {side:.2f} "
        "(`lessoncam-device marker`)"
    )
    reach = math.floor(focal_px(found.width, t.hfov_deg) * t.marker_size_m / MIN_MARKER_PX * 10)
    fixes.append(
        f"or, if the room is shallower, set [tracking] room_depth_m to {reach / 10:.1f} or less"
    )
    return [
        f"at [tracking] room_depth_m = {t.room_depth_m:g} m a marker_size_m = "
        f"{t.marker_size_m:g} m marker is {found.marker_px:.0f} px wide in {where}, under the "
        f"{MIN_MARKER_PX:g} px the tracker needs: " + "; ".join(fixes)
    ]
