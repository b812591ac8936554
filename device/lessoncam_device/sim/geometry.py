"""The simulated classroom's geometry: the room, the marker, the pinhole camera, projection.

Coordinates: floor x to the camera's right, y away from the camera along the room's centre
line, z up from the floor. Bearings are degrees from the centre line, positive to the right.
Image pixels have their centres at integer coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Color = tuple[int, int, int]


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """A rectangular classroom seen from a camera on the centre line near the back wall."""

    half_width_m: float = 4.0
    front_m: float = 8.8  # camera to the whiteboard wall
    back_m: float = 1.0  # camera to the wall behind it
    ceiling_m: float = 3.0
    camera_height_m: float = 1.8  # on a tall tripod, to see her marker over pupils' heads
    desk_rows_m: tuple[float, ...] = (4.2, 5.4, 6.5)  # desk centre lines (y)
    desk_columns_m: tuple[float, ...] = (-2.8, -1.0, 1.0, 2.8)  # two pupils per desk
    door_m: tuple[float, float] = (5.6, 6.6)  # the door's extent (y) in the right wall
    empty_seat_chance: float = 0.1


@dataclass(frozen=True)
class SceneConfig:
    """The panorama: which bearings it covers and how finely."""

    field_deg: float = 180.0  # bearings the camera may pan across, centred on the centre line
    px_per_deg: float = 18.0  # ~ a 1280 px, 66 deg camera's own resolution at its centre
    margin_deg: float = 40.0  # drawn beyond the field so a view panned to its edge stays filled
    max_elevation: float = 0.6  # tan of the largest angle above/below the horizon covered
    room: Room = field(default_factory=Room)
    seed: int = 7


@dataclass(frozen=True)
class MarkerSpec:
    """The ArUco marker on the teacher's lanyard."""

    dictionary: str = "DICT_4X4_50"
    marker_id: int = 7
    size_m: float = 0.20  # side of the black square
    quiet_zone_m: float = 0.035  # white card around it (at least one bit cell)
    height_m: float = 1.22  # marker centre above the floor when she stands


@dataclass(frozen=True)
class Optics:
    """A pinhole camera: output size and horizontal field of view."""

    width: int = 1280
    height: int = 720
    hfov_deg: float = 66.0

    @property
    def focal_px(self) -> float:
        """Focal length in pixels."""
        return focal_length_px(self.width, self.hfov_deg)

    @property
    def cx(self) -> float:
        """Principal point x (pixel centres at integers)."""
        return (self.width - 1) / 2.0

    @property
    def cy(self) -> float:
        """Principal point y."""
        return (self.height - 1) / 2.0

    def bearing_offset_deg(self, x: float) -> float:
        """Bearing of image column ``x`` relative to the optical axis (positive right)."""
        return math.degrees(math.atan((x - self.cx) / self.focal_px))


# --- physics ---------------------------------------------------------------------------------


def focal_length_px(width_px: int, hfov_deg: float) -> float:
    """Pinhole focal length in pixels: f = (W / 2) / tan(hfov / 2)."""
    return (width_px / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)


def apparent_size_px(size_m: float, distance_m: float, focal_px: float) -> float:
    """Side in pixels of a flat object facing the camera on its axis: f * size / distance."""
    return focal_px * size_m / distance_m


@dataclass(frozen=True)
class Placement:
    """Where a person standing at (bearing, distance) lands in a view."""

    x: float  # image x of the vertical through her feet
    kx: float  # px per metre, sideways (f / (d cos^2 a): off-axis stretch of a rectilinear lens)
    ky: float  # px per metre, upwards (f / (d cos a))
    cy: float
    camera_height_m: float

    def y(self, z_m: float) -> float:
        return self.cy + self.ky * (self.camera_height_m - z_m)


def place(
    optics: Optics, pan_deg: float, bearing_deg: float, distance_m: float, camera_height_m: float
) -> Placement | None:
    rel = math.radians((bearing_deg - pan_deg + 180.0) % 360.0 - 180.0)
    if math.cos(rel) < 0.2:  # behind or far beside the lens
        return None
    f = optics.focal_px
    c = math.cos(rel)
    return Placement(
        x=optics.cx + f * math.tan(rel),
        kx=f / (distance_m * c * c),
        ky=f / (distance_m * c),
        cy=optics.cy,
        camera_height_m=camera_height_m,
    )
