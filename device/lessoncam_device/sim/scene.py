"""A wide simulated classroom, and the teacher in it wearing a real ArUco marker.

The room is drawn once, procedurally, as a cylindrical panorama seen from the camera's position
(walls, whiteboard, windows, door, desks and seated pupils as abstract shapes). A view for any
pan angle is a pinhole (rectilinear) reprojection of that panorama. People (the teacher and a
pupil standing in front of her) are drawn per frame straight into the view, at the size the
pinhole model gives for their distance, and behind whatever static furniture is nearer.

Coordinates: floor x to the camera's right, y away from the camera along the room's centre
line, z up from the floor. Bearings are degrees from the centre line, positive to the right.
Image pixels have their centres at integer coordinates.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from .teacher_path import SITTING_DROP_M, TeacherPose

Image = NDArray[np.uint8]
Color = tuple[int, int, int]

# Depth is stored in decimetres; walls, floor and ceiling are "far" (nothing stands behind them).
_FAR_DM = 255
# Pan is rendered in quarter-steps of a panorama pixel (~0.25 output px): cached fixed-point maps.
_PAN_PHASES = 4
_OUTSIDE_BGR = (40, 40, 40)
# Printed marker on a matte card under classroom light: black is not 0, white is not 255.
_INK, _PAPER = 30, 225


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
class _Placement:
    """Where a person standing at (bearing, distance) lands in a view."""

    x: float  # image x of the vertical through her feet
    kx: float  # px per metre, sideways (f / (d cos^2 a): off-axis stretch of a rectilinear lens)
    ky: float  # px per metre, upwards (f / (d cos a))
    cy: float
    camera_height_m: float

    def y(self, z_m: float) -> float:
        return self.cy + self.ky * (self.camera_height_m - z_m)


def _place(
    optics: Optics, pan_deg: float, bearing_deg: float, distance_m: float, camera_height_m: float
) -> _Placement | None:
    rel = math.radians((bearing_deg - pan_deg + 180.0) % 360.0 - 180.0)
    if math.cos(rel) < 0.2:  # behind or far beside the lens
        return None
    f = optics.focal_px
    c = math.cos(rel)
    return _Placement(
        x=optics.cx + f * math.tan(rel),
        kx=f / (distance_m * c * c),
        ky=f / (distance_m * c),
        cy=optics.cy,
        camera_height_m=camera_height_m,
    )


# --- the panorama ----------------------------------------------------------------------------

_FRONT, _LEFT, _RIGHT, _BACK = 0, 1, 2, 3
_WALL_BGR = {
    _FRONT: (170, 200, 190),
    _LEFT: (185, 215, 225),
    _RIGHT: (180, 210, 222),
    _BACK: (175, 205, 215),
}
_SHIRTS: tuple[Color, ...] = (
    (60, 60, 170),
    (150, 90, 40),
    (60, 140, 60),
    (40, 160, 200),
    (120, 120, 120),
    (140, 60, 120),
    (200, 180, 150),
    (50, 50, 60),
    (90, 150, 220),
)
_HAIR: tuple[Color, ...] = (
    (30, 35, 45),
    (40, 60, 90),
    (70, 110, 160),
    (90, 150, 200),
    (25, 25, 25),
)
Point3 = tuple[float, float, float]


class _Painter:
    """Draws world-space shapes into the cylindrical panorama and its depth map."""

    def __init__(self, config: SceneConfig) -> None:
        self.cfg = config
        self.ppd = config.px_per_deg
        self.ppr = config.px_per_deg * 180.0 / math.pi  # rows per unit of tan(elevation)
        self.phi_min = -(config.field_deg / 2.0 + config.margin_deg)
        width = round((config.field_deg + 2.0 * config.margin_deg) * self.ppd)
        half = math.ceil(config.max_elevation * self.ppr)
        self.r0 = float(half)
        self.h = config.room.camera_height_m
        self.image: Image = np.zeros((2 * half + 1, width, 3), np.uint8)
        self.depth: Image = np.full((2 * half + 1, width), _FAR_DM, np.uint8)

    def to_px(self, pts: NDArray[np.float64]) -> NDArray[np.float64]:
        """World points (N, 3) to panorama (col, row)."""
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        col = (np.degrees(np.arctan2(x, y)) - self.phi_min) * self.ppd
        row = self.r0 + (self.h - z) / np.hypot(x, y) * self.ppr
        return np.stack([col, row], axis=1)

    def poly(self, corners: Sequence[Point3], color: Color, solid: bool = False) -> None:
        """A flat polygon; straight edges become curves on the cylinder, so sample them."""
        c = np.asarray(corners, np.float64)
        t = np.linspace(0.0, 1.0, 16, endpoint=False)[:, None]
        edges = [a + t * (b - a) for a, b in zip(c, np.roll(c, -1, axis=0), strict=True)]
        px = np.round(self.to_px(np.concatenate(edges)) * 16).astype(np.int32)
        cv2.fillPoly(self.image, [px], color, cv2.LINE_AA, shift=4)
        if solid:
            dist = float(np.hypot(c[:, 0], c[:, 1]).mean())
            cv2.fillPoly(self.depth, [px], min(254, round(dist * 10)), cv2.LINE_8, shift=4)

    def disc(self, centre: Point3, radius_m: float, color: Color, solid: bool = False) -> None:
        """A disc facing the camera (heads, the clock)."""
        (col, row), dist = self.to_px(np.array([centre]))[0], math.hypot(centre[0], centre[1])
        r = radius_m / dist * self.ppr
        c16, r16 = (round(col * 16), round(row * 16)), max(1, round(r * 16))
        cv2.circle(self.image, c16, r16, color, -1, cv2.LINE_AA, shift=4)
        if solid:
            cv2.circle(self.depth, c16, r16, min(254, round(dist * 10)), -1, cv2.LINE_8, shift=4)

    def line(self, a: Point3, b: Point3, color: Color, width_m: float) -> None:
        pts = np.linspace(np.asarray(a, np.float64), np.asarray(b, np.float64), 12)
        dist = math.hypot((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        px = np.round(self.to_px(pts) * 16).astype(np.int32)
        thickness = max(1, round(width_m / dist * self.ppr))
        cv2.polylines(self.image, [px], False, color, thickness, cv2.LINE_AA, shift=4)


def _paint_shell(p: _Painter, seed: int) -> None:
    """Walls, floor and ceiling, per pixel but vectorised (float32, in row bands)."""
    room = p.cfg.room
    cols = np.arange(p.image.shape[1], dtype=np.float64)
    phi = np.radians(p.phi_min + cols / p.ppd)
    s, c = np.sin(phi), np.cos(phi)
    with np.errstate(divide="ignore"):
        to_side = np.where(np.abs(s) > 1e-9, room.half_width_m / np.abs(s), np.inf)
        to_end = np.where(c > 1e-9, room.front_m / c, np.where(c < -1e-9, room.back_m / -c, np.inf))
    dist = np.minimum(to_side, to_end).astype(np.float32)
    wall = np.where(
        to_side < to_end, np.where(s > 0, _RIGHT, _LEFT), np.where(c > 0, _FRONT, _BACK)
    )
    wall_bgr = np.array([_WALL_BGR[int(w)] for w in wall], np.float32)
    rng = np.random.default_rng(seed)
    for r_start in range(0, p.image.shape[0], 128):
        r_stop = min(r_start + 128, p.image.shape[0])
        v = ((np.arange(r_start, r_stop) - p.r0) / p.ppr)[:, None].astype(np.float32)
        out = _shell_band(p, v, dist, wall_bgr, s.astype(np.float32), c.astype(np.float32))
        out += rng.standard_normal(out.shape, np.float32) * np.float32(2.0)  # wall texture
        p.image[r_start:r_stop] = np.clip(out, 0, 255).astype(np.uint8)


def _shell_band(
    p: _Painter,
    v: NDArray[np.float32],
    dist: NDArray[np.float32],
    wall_bgr: NDArray[np.float32],
    s: NDArray[np.float32],
    c: NDArray[np.float32],
) -> NDArray[np.float32]:
    """Rows with elevation tangents ``v`` (positive below the horizon), as float BGR."""
    room = p.cfg.room
    z = p.h - v * dist[None, :]  # height where each pixel's ray meets the wall
    shade = 0.82 + 0.18 * np.clip(z / room.ceiling_m, 0, 1)
    out = wall_bgr[None, :, :] * shade[..., None]
    skirting = (z < 0.12) & (z >= 0)
    out[skirting] *= 0.45
    floor = z < 0
    if floor.any():
        ground = p.h / v[np.nonzero(floor)[0], 0]  # floor distance along each floor ray
        cols = np.nonzero(floor)[1]
        tiles = (np.floor(ground * s[cols] / 0.5) + np.floor(ground * c[cols] / 0.5)) % 2
        out[floor] = np.where(tiles[:, None] > 0, (118, 128, 138), (108, 118, 128))
    ceiling = z > room.ceiling_m
    if ceiling.any():
        rows, cols = np.nonzero(ceiling)
        up = (room.ceiling_m - p.h) / -v[rows, 0]  # ceiling distance along each ray
        qx, qy = up * s[cols], up * c[cols]
        grid = (np.abs((qx + 0.3) % 0.6 - 0.3) < 0.015) | (np.abs((qy + 0.3) % 0.6 - 0.3) < 0.015)
        lamp = (np.abs(qx) % 2.4 < 0.6) & (np.abs(qy) % 2.4 < 1.2)
        out[ceiling] = np.where(grid, 195, np.where(lamp, 250, 228))[:, None]
    return np.asarray(out, np.float32)


def _on_front(y: float, xs: tuple[float, float], zs: tuple[float, float]) -> list[Point3]:
    """A rectangle in the plane at distance y (the front wall)."""
    return [(xs[0], y, zs[0]), (xs[1], y, zs[0]), (xs[1], y, zs[1]), (xs[0], y, zs[1])]


def _on_side(x: float, ys: tuple[float, float], zs: tuple[float, float]) -> list[Point3]:
    """A rectangle in the plane at lateral offset x (a side wall)."""
    return [(x, ys[0], zs[0]), (x, ys[1], zs[0]), (x, ys[1], zs[1]), (x, ys[0], zs[1])]


def _paint_walls(p: _Painter, rng: random.Random) -> None:
    """Things on the walls: whiteboard, windows, door, notice board, clock."""
    room = p.cfg.room
    fw, hw = room.front_m - 0.01, room.half_width_m - 0.01
    white, grey = (245, 245, 245), (150, 150, 150)
    # Whiteboard with a little writing on it.
    p.poly(_on_front(fw, (-1.85, 1.85), (0.85, 2.15)), grey)
    p.poly(_on_front(fw, (-1.8, 1.8), (0.9, 2.1)), (238, 240, 236))
    for line in range(6):
        z = 1.95 - line * 0.17
        x = -1.6 + rng.uniform(0, 0.3)
        end = x + rng.uniform(0.8, 2.6)
        ink = rng.choice([(140, 40, 20), (40, 40, 180), (40, 40, 40)])
        while x < end:
            word = rng.uniform(0.1, 0.35)
            p.line((x, fw, z), (x + word, fw, z + rng.uniform(-0.01, 0.01)), ink, 0.025)
            x += word + 0.08
    # Notice board with notes, a poster, a clock.
    p.poly(_on_front(fw, (2.2, 3.4), (1.0, 1.9)), (90, 140, 190))
    for _ in range(7):
        x, z = rng.uniform(2.25, 3.15), rng.uniform(1.05, 1.65)
        p.poly(_on_front(fw, (x, x + 0.2), (z, z + 0.22)), rng.choice(_SHIRTS))
    p.poly(_on_front(fw, (-3.1, -2.4), (1.3, 2.1)), (60, 150, 220))
    p.disc((2.6, fw, 2.45), 0.18, (60, 60, 60))
    p.disc((2.6, fw, 2.45), 0.16, white)
    p.line((2.6, fw, 2.45), (2.6, fw, 2.57), (20, 20, 20), 0.015)
    p.line((2.6, fw, 2.45), (2.68, fw, 2.42), (20, 20, 20), 0.015)
    # Windows in the left wall: sky, a green hillside, white frames.
    for y0, y1 in ((1.0, 2.6), (3.4, 5.0), (5.8, 7.4)):
        p.poly(_on_side(-hw, (y0, y1), (0.9, 2.5)), white)
        a, b = y0 + 0.06, y1 - 0.06
        p.poly(_on_side(-hw, (a, b), (0.96, 2.44)), (235, 205, 160))
        p.poly([(-hw, a, 0.96), (-hw, b, 0.96), (-hw, b, 1.35), (-hw, a, 1.55)], (70, 120, 80))
        p.line((-hw, (y0 + y1) / 2, 0.96), (-hw, (y0 + y1) / 2, 2.44), white, 0.05)
        p.line((-hw, a, 1.7), (-hw, b, 1.7), white, 0.05)
    # The door in the right wall, and two posters.
    d0, d1 = room.door_m
    p.poly(_on_side(hw, (d0 - 0.06, d1 + 0.06), (0.0, 2.16)), (200, 200, 200))
    p.poly(_on_side(hw, (d0, d1), (0.0, 2.1)), (60, 100, 150))
    p.disc((hw - 0.02, d0 + 0.1, 1.0), 0.035, (170, 170, 170))
    for y, color in ((1.5, (90, 150, 220)), (2.6, (150, 120, 60))):
        p.poly(_on_side(hw, (y, y + 0.7), (1.4, 2.1)), color)


def _paint_box(
    p: _Painter,
    xs: tuple[float, float],
    ys: tuple[float, float],
    zs: tuple[float, float],
    top: Color,
    front: Color,
) -> None:
    """An axis-aligned box in front of the camera: visible faces, far to near."""
    (x0, x1), (y0, y1), (z0, z1) = xs, ys, zs
    side = front
    if z1 < p.h:
        p.poly([(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)], top, solid=True)
    if x0 > 0:
        p.poly([(x0, y0, z0), (x0, y1, z0), (x0, y1, z1), (x0, y0, z1)], side, solid=True)
    elif x1 < 0:
        p.poly([(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1)], side, solid=True)
    p.poly([(x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1)], front, solid=True)


def _paint_desk(p: _Painter, xc: float, yc: float, rng: random.Random) -> None:
    wood, apron = (120, 170, 205), (80, 120, 150)
    for lx in (xc - 0.56, xc + 0.56):
        p.line((lx, yc - 0.22, 0.0), (lx, yc - 0.22, 0.7), (70, 70, 70), 0.03)
    _paint_box(p, (xc - 0.6, xc + 0.6), (yc - 0.25, yc + 0.25), (0.62, 0.74), wood, apron)
    for _ in range(rng.randint(0, 3)):  # books and pencil cases
        x, y = rng.uniform(xc - 0.5, xc + 0.3), rng.uniform(yc - 0.2, yc)
        color = rng.choice(_SHIRTS)
        _paint_box(p, (x, x + 0.2), (y, y + 0.15), (0.74, 0.77), color, color)


def _paint_pupil(p: _Painter, x: float, y: float, rng: random.Random) -> None:
    """A seated pupil seen from behind: torso, head, and the chair back in front of them."""
    shirt, hair = rng.choice(_SHIRTS), rng.choice(_HAIR)
    w = rng.uniform(0.16, 0.2)
    top = rng.uniform(0.86, 0.94)
    p.poly(
        [
            (x - w, y, 0.5),
            (x + w, y, 0.5),
            (x + w + 0.02, y, top - 0.06),
            (x + w - 0.05, y, top),
            (x - w + 0.05, y, top),
            (x - w - 0.02, y, top - 0.06),
        ],
        shirt,
        solid=True,
    )
    p.disc((x, y, top + 0.13), rng.uniform(0.095, 0.11), hair, solid=True)


def _paint_chair(p: _Painter, x: float, y: float) -> None:
    frame = (90, 90, 95)
    for lx in (x - 0.18, x + 0.18):
        p.line((lx, y, 0.0), (lx, y, 0.85), frame, 0.025)
    p.poly(_on_front(y, (x - 0.2, x + 0.2), (0.6, 0.85)), (150, 110, 70), solid=True)


def build_panorama(config: SceneConfig) -> tuple[Image, Image]:
    """The static room as (BGR image, depth in decimetres, 255 = wall/floor/ceiling).

    Column c looks at bearing ``-(field/2 + margin) + c / px_per_deg``; row r at elevation
    ``tan = (r0 - r) / (px_per_deg * 180 / pi)`` with r0 the middle row (the horizon).
    """
    p = _Painter(config)
    room = config.room
    _paint_shell(p, config.seed)
    rng = random.Random(config.seed)
    _paint_walls(p, rng)
    # Furniture and pupils, far to near (painter's algorithm) so nearer things cover farther.
    desk = ((110, 140, 160), (70, 95, 115))
    cupboard = ((170, 180, 185), (140, 150, 155))
    items: list[tuple[float, functools.partial[None]]] = [
        (8.2, functools.partial(_paint_box, p, (-3.4, -2.2), (7.9, 8.4), (0.0, 0.76), *desk)),
        (3.4, functools.partial(_paint_box, p, (3.4, 3.95), (0.2, 2.4), (0.0, 1.0), *cupboard)),
    ]
    for yc in room.desk_rows_m:
        for xc in room.desk_columns_m:
            items.append((math.hypot(xc, yc), functools.partial(_paint_desk, p, xc, yc, rng)))
            for px in (xc - 0.3, xc + 0.3):
                py = yc - 0.55
                if rng.random() >= room.empty_seat_chance:
                    items.append(
                        (math.hypot(px, py), functools.partial(_paint_pupil, p, px, py, rng))
                    )
                items.append(
                    (math.hypot(px, py - 0.2), functools.partial(_paint_chair, p, px, py - 0.2))
                )
    for _, paint in sorted(items, key=lambda item: -item[0]):
        paint()
    return p.image, p.depth


# --- people ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Poly:
    color: Color
    points: tuple[tuple[float, float], ...]  # (sideways m, height m) in a plane facing the camera


@dataclass(frozen=True)
class _Ellipse:
    color: Color
    centre: tuple[float, float]
    radii: tuple[float, float]


_Shape = _Poly | _Ellipse
_SKIN: Color = (120, 150, 185)


def _both_sides(color: Color, *points: tuple[float, float]) -> tuple[_Poly, _Poly]:
    return _Poly(color, points), _Poly(color, tuple((-u, z) for u, z in points))


def _raise(shapes: Sequence[_Shape], dz: float, above: float) -> tuple[_Shape, ...]:
    """Move everything above ``above`` by ``dz`` (to sit her down)."""

    def z(v: float) -> float:
        return v + dz if v >= above else v

    out: list[_Shape] = []
    for s in shapes:
        if isinstance(s, _Poly):
            out.append(_Poly(s.color, tuple((u, z(v)) for u, v in s.points)))
        else:
            out.append(_Ellipse(s.color, (s.centre[0], z(s.centre[1])), s.radii))
    return tuple(out)


@functools.cache
def _figure(kind: str) -> tuple[_Shape, ...]:
    """People as flat shapes in metres: 'teacher', 'teacher_away', 'teacher_sitting', 'pupil'."""
    if kind == "pupil":  # a tall pupil standing, seen from behind
        hoodie = (60, 70, 170)
        return (
            *_both_sides((40, 40, 40), (-0.17, 0.0), (-0.03, 0.0), (-0.03, 0.07), (-0.16, 0.07)),
            *_both_sides((130, 90, 60), (-0.15, 0.06), (-0.03, 0.06), (-0.02, 0.86), (-0.17, 0.86)),
            *_both_sides((50, 60, 150), (-0.28, 0.84), (-0.21, 0.84), (-0.2, 1.43), (-0.26, 1.43)),
            _Poly(
                hoodie,
                ((-0.2, 0.82), (0.2, 0.82), (0.22, 1.43), (0.15, 1.5), (-0.15, 1.5), (-0.22, 1.43)),
            ),
            _Poly(_SKIN, ((-0.06, 1.43), (0.06, 1.43), (0.06, 1.54), (-0.06, 1.54))),
            _Ellipse((30, 35, 45), (0.0, 1.62), (0.11, 0.125)),
        )
    cardigan, sleeves, hair = (120, 90, 150), (105, 78, 132), (40, 60, 90)
    standing: tuple[_Shape, ...] = (
        *_both_sides((40, 40, 40), (-0.18, 0.0), (-0.03, 0.0), (-0.03, 0.07), (-0.17, 0.07)),
        *_both_sides((70, 55, 50), (-0.16, 0.06), (-0.03, 0.06), (-0.02, 0.9), (-0.17, 0.9)),
        *_both_sides(sleeves, (-0.29, 0.86), (-0.22, 0.86), (-0.2, 1.38), (-0.26, 1.38)),
        _Ellipse(_SKIN, (-0.255, 0.82), (0.04, 0.05)),
        _Ellipse(_SKIN, (0.255, 0.82), (0.04, 0.05)),
        _Poly(
            cardigan,
            ((-0.19, 0.86), (0.19, 0.86), (0.22, 1.38), (0.16, 1.44), (-0.16, 1.44), (-0.22, 1.38)),
        ),
        _Poly(_SKIN, ((-0.05, 1.4), (0.05, 1.4), (0.05, 1.49), (-0.05, 1.49))),
        _Ellipse(hair, (0.0, 1.61), (0.11, 0.115)),
    )
    if kind == "teacher_away":  # the back of her head, the lanyard strap round her neck
        return (
            *standing,
            _Ellipse(hair, (0.0, 1.57), (0.1, 0.12)),
            _Poly((160, 80, 20), ((-0.05, 1.45), (0.05, 1.45), (0.05, 1.47), (-0.05, 1.47))),
        )
    face = _Ellipse(_SKIN, (0.0, 1.565), (0.085, 0.105))
    if kind == "teacher":
        return (*standing, face)
    if kind == "teacher_sitting":  # on a low stool, knees towards the camera
        upper = _raise((*standing[4:], face), -SITTING_DROP_M, 0.8)
        return (
            *_both_sides((40, 40, 40), (-0.18, 0.0), (-0.03, 0.0), (-0.03, 0.07), (-0.17, 0.07)),
            *_both_sides((70, 55, 50), (-0.16, 0.06), (-0.03, 0.06), (-0.03, 0.48), (-0.17, 0.48)),
            _Ellipse((80, 64, 58), (0.0, 0.5), (0.19, 0.07)),
            *upper,
        )
    raise ValueError(f"unknown figure {kind!r}")


def _figure_extent(kind: str) -> tuple[float, float, float, float]:
    """(u_min, u_max, z_min, z_max) in metres."""
    us: list[float] = []
    zs: list[float] = []
    for s in _figure(kind):
        if isinstance(s, _Poly):
            us += [u for u, _ in s.points]
            zs += [z for _, z in s.points]
        else:
            us += [s.centre[0] - s.radii[0], s.centre[0] + s.radii[0]]
            zs += [s.centre[1] - s.radii[1], s.centre[1] + s.radii[1]]
    return min(us), max(us), min(zs), max(zs)


def marker_card(spec: MarkerSpec, cell_px: int = 24) -> Image:
    """The printed marker with its white quiet zone, as a grey image (ink and paper levels)."""
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.dictionary))
    side = (dictionary.markerSize + 2) * cell_px
    marker = cv2.aruco.generateImageMarker(dictionary, spec.marker_id, side, borderBits=1)
    quiet = round(spec.quiet_zone_m / spec.size_m * side)
    card = cv2.copyMakeBorder(marker, quiet, quiet, quiet, quiet, cv2.BORDER_CONSTANT, value=255)
    levels = np.where(np.arange(256) >= 128, _PAPER, _INK).astype(np.uint8)
    return np.asarray(cv2.LUT(card, levels), np.uint8)


# --- the scene -------------------------------------------------------------------------------


@dataclass
class _ViewMaps:
    """Where each output pixel looks, relative to the pan; fixed-point maps cached per phase."""

    rel_col: NDArray[np.float32]  # panorama column offset from the pan column
    row: NDArray[np.float32]
    col_lo: int
    col_hi: int
    fixed: dict[int, tuple[NDArray[np.int16], NDArray[np.uint16]]] = field(default_factory=dict)


class Scene:
    """The classroom: render what a camera with given optics and pan sees, teacher included."""

    def __init__(self, config: SceneConfig | None = None, marker: MarkerSpec | None = None) -> None:
        self.config = config or SceneConfig()
        self.marker = marker or MarkerSpec()
        self.panorama, self.depth_dm = build_panorama(self.config)
        self._card = cv2.cvtColor(marker_card(self.marker), cv2.COLOR_GRAY2BGR)
        self._ppd = self.config.px_per_deg
        self._ppr = self._ppd * 180.0 / math.pi
        self._phi_min = -(self.config.field_deg / 2.0 + self.config.margin_deg)
        self._r0 = (self.panorama.shape[0] - 1) / 2.0
        self._maps: dict[Optics, _ViewMaps] = {}

    @property
    def camera_height_m(self) -> float:
        return self.config.room.camera_height_m

    def marker_height_m(self, pose: TeacherPose) -> float:
        """Height of the marker centre above the floor for this pose."""
        return self.marker.height_m - (SITTING_DROP_M if pose.sitting else 0.0)

    def project(
        self, optics: Optics, pan_deg: float, bearing_deg: float, distance_m: float, height_m: float
    ) -> tuple[float, float] | None:
        """Image (x, y) of a point in the room, or None if it is behind the camera."""
        at = _place(optics, pan_deg, bearing_deg, distance_m, self.camera_height_m)
        return None if at is None else (at.x, at.y(height_m))

    def marker_corners(
        self, optics: Optics, pan_deg: float, pose: TeacherPose | None
    ) -> NDArray[np.float32] | None:
        """Ground truth: the marker's corners (4, 2) in ArUco order (top-left, clockwise), or
        None if this view cannot see it (out of frame, hidden, out of the room, or behind
        seated pupils or furniture)."""
        if pose is None or not pose.marker_visible:
            return None
        at = _place(optics, pan_deg, pose.bearing_deg, pose.distance_m, self.camera_height_m)
        if at is None:
            return None
        half = self.marker.size_m / 2.0
        zc = self.marker_height_m(pose)
        corners = np.array(
            [
                [at.x + su * half * at.kx, at.y(zc + sz * half)]
                for su, sz in ((-1, 1), (1, 1), (1, -1), (-1, -1))
            ],
            np.float32,
        )
        inside = (corners[:, 0] >= 0) & (corners[:, 0] <= optics.width - 1)
        inside &= (corners[:, 1] >= 0) & (corners[:, 1] <= optics.height - 1)
        if not inside.all():
            return None
        probes = np.vstack([corners, corners.mean(axis=0, keepdims=True)])
        if (self._depth_at(optics, pan_deg, probes) < pose.distance_m * 10).any():
            return None
        return corners

    def render(
        self,
        optics: Optics,
        pan_deg: float,
        teacher: TeacherPose | None = None,
        *,
        teacher_blur_px: float = 0.0,
        pan_blur_px: float = 0.0,
        brightness: float = 1.0,
    ) -> Image:
        """The view at ``pan_deg``: the room, the teacher (if in the room), a pupil in front of
        her when she is hidden, horizontal motion blur, and an exposure gain."""
        frame = self._background(optics, pan_deg)
        if pan_blur_px >= 1.5:
            frame = np.asarray(cv2.blur(frame, (round(pan_blur_px), 1)), np.uint8)
        if teacher is not None and teacher.visible_in_room:
            kind = "teacher_sitting" if teacher.sitting else "teacher"
            if teacher.turned_away:
                kind = "teacher_away"
            self._draw_person(frame, optics, pan_deg, teacher, kind, teacher_blur_px)
            if teacher.hidden and not teacher.turned_away:
                # A pupil steps in between, a metre in front of her.
                pupil = TeacherPose(teacher.bearing_deg, max(1.2, teacher.distance_m - 1.0))
                self._draw_person(frame, optics, pan_deg, pupil, "pupil", 0.0)
        if brightness != 1.0:
            frame = np.asarray(cv2.convertScaleAbs(frame, alpha=brightness), np.uint8)
        return frame

    # -- internals --

    def _maps_for(self, optics: Optics) -> _ViewMaps:
        maps = self._maps.get(optics)
        if maps is None:
            f = optics.focal_px
            xs = np.arange(optics.width, dtype=np.float64) - optics.cx
            ys = np.arange(optics.height, dtype=np.float64) - optics.cy
            rel = np.degrees(np.arctan2(xs, f)) * self._ppd
            # A pixel's ray (x, y, f): bearing atan(x/f), elevation tan y / sqrt(x^2 + f^2).
            row = self._r0 + ys[:, None] / np.hypot(xs, f)[None, :] * self._ppr
            rel_col = np.broadcast_to(rel[None, :], row.shape).astype(np.float32)
            maps = _ViewMaps(
                rel_col, row.astype(np.float32), math.floor(rel.min()) - 1, math.ceil(rel.max()) + 2
            )
            self._maps[optics] = maps
        return maps

    def _pan_col(self, pan_deg: float) -> float:
        return (pan_deg - self._phi_min) * self._ppd

    def _background(self, optics: Optics, pan_deg: float) -> Image:
        maps = self._maps_for(optics)
        steps = round(self._pan_col(pan_deg) * _PAN_PHASES)
        base, phase = divmod(steps, _PAN_PHASES)
        lo, hi = base + maps.col_lo, base + maps.col_hi
        if lo >= 0 and hi <= self.panorama.shape[1]:
            fixed = maps.fixed.get(phase)
            if fixed is None:
                m1, m2 = cv2.convertMaps(
                    maps.rel_col - np.float32(maps.col_lo - phase / _PAN_PHASES),
                    maps.row,
                    cv2.CV_16SC2,
                )
                fixed = (np.asarray(m1, np.int16), np.asarray(m2, np.uint16))
                maps.fixed[phase] = fixed
            return np.asarray(
                cv2.remap(
                    self.panorama[:, lo:hi],
                    fixed[0],
                    fixed[1],
                    cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                ),
                np.uint8,
            )
        # Panned past the drawn margin: the slower float path, with a dark border outside.
        mx = maps.rel_col + np.float32(steps / _PAN_PHASES)
        return np.asarray(
            cv2.remap(
                self.panorama,
                mx,
                maps.row,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=_OUTSIDE_BGR,
            ),
            np.uint8,
        )

    def _depth_at(
        self, optics: Optics, pan_deg: float, xy: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        """Static depth (decimetres) behind image points (N, 2)."""
        f = optics.focal_px
        x = xy[:, 0].astype(np.float64) - optics.cx
        y = xy[:, 1].astype(np.float64) - optics.cy
        col = np.round(self._pan_col(pan_deg) + np.degrees(np.arctan2(x, f)) * self._ppd)
        row = np.round(self._r0 + y / np.hypot(x, f) * self._ppr)
        h, w = self.depth_dm.shape
        ok = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        out = np.full(len(xy), float(_FAR_DM))
        out[ok] = self.depth_dm[row[ok].astype(np.intp), col[ok].astype(np.intp)]
        return out

    def _draw_person(
        self,
        frame: Image,
        optics: Optics,
        pan_deg: float,
        pose: TeacherPose,
        kind: str,
        blur_px: float,
    ) -> None:
        at = _place(optics, pan_deg, pose.bearing_deg, pose.distance_m, self.camera_height_m)
        if at is None:
            return
        u0, u1, z0, z1 = _figure_extent(kind)
        pad = math.ceil(blur_px) + 2
        x0 = max(0, math.floor(at.x + u0 * at.kx) - pad)
        x1 = min(optics.width, math.ceil(at.x + u1 * at.kx) + pad + 1)
        y0 = max(0, math.floor(at.y(z1)) - 2)
        y1 = min(optics.height, math.ceil(at.y(z0)) + 3)
        if x0 >= x1 or y0 >= y1:
            return
        roi = frame[y0:y1, x0:x1]
        layer = roi.copy()
        mask = np.zeros(roi.shape[:2], np.uint8)

        def px(u: float, z: float) -> tuple[int, int]:
            return round((at.x + u * at.kx - x0) * 16), round((at.y(z) - y0) * 16)

        for s in _figure(kind):
            if isinstance(s, _Poly):
                pts = np.array([px(u, z) for u, z in s.points], np.int32)
                cv2.fillPoly(layer, [pts], s.color, cv2.LINE_AA, shift=4)
                cv2.fillPoly(mask, [pts], 255, cv2.LINE_8, shift=4)
            else:
                axes = (
                    max(1, round(s.radii[0] * at.kx * 16)),
                    max(1, round(s.radii[1] * at.ky * 16)),
                )
                centre = px(*s.centre)
                cv2.ellipse(layer, centre, axes, 0, 0, 360, s.color, -1, cv2.LINE_AA, shift=4)
                cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_8, shift=4)
        if kind in ("teacher", "teacher_sitting"):
            neck_z = 1.45 - (SITTING_DROP_M if pose.sitting else 0.0)
            self._draw_card(layer, mask, at, self.marker_height_m(pose), neck_z, (x0, y0))
        # Static furniture and pupils nearer than this person cover them.
        maps = self._maps_for(optics)
        near = cv2.remap(
            self.depth_dm,
            maps.rel_col[y0:y1, x0:x1] + np.float32(self._pan_col(pan_deg)),
            maps.row[y0:y1, x0:x1],
            cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=_FAR_DM,
        )
        mask[near < pose.distance_m * 10] = 0
        if blur_px < 1.0:
            np.copyto(roi, layer, where=mask[..., None] > 0)
            return
        # Motion blur: smear her (and her outline) sideways over the exposure.
        k = (max(2, round(blur_px)), 1)
        np.copyto(layer, roi, where=mask[..., None] == 0)
        alpha = cv2.blur(mask, k).astype(np.float32) * np.float32(1 / 255)
        smeared = cv2.blur(layer, k)
        roi[...] = cv2.blendLinear(smeared, roi, alpha, 1.0 - alpha)

    def _draw_card(
        self,
        layer: Image,
        mask: Image,
        at: _Placement,
        zc: float,
        neck_z: float,
        origin: tuple[int, int],
    ) -> None:
        x0, y0 = origin
        full = self.marker.size_m + 2.0 * self.marker.quiet_zone_m
        w, h = max(1, round(full * at.kx)), max(1, round(full * at.ky))
        card = cv2.resize(self._card, (w, h), interpolation=cv2.INTER_AREA)
        # Pixel i spans [i - 0.5, i + 0.5]: a block of w pixels centred on x starts here.
        left = round(at.x - (w - 1) / 2.0) - x0
        top = round(at.y(zc) - (h - 1) / 2.0) - y0
        H, W = layer.shape[:2]
        cl, ct = max(0, -left), max(0, -top)
        cr, cb = min(w, W - left), min(h, H - top)
        if cl >= cr or ct >= cb:
            return
        layer[top + ct : top + cb, left + cl : left + cr] = card[ct:cb, cl:cr]
        mask[top + ct : top + cb, left + cl : left + cr] = 255
        # The lanyard: two straps from her neck to the card's top corners.
        strap = max(1, round(0.012 * at.kx))
        for side in (-1, 1):
            neck = (round((at.x + side * 0.06 * at.kx - x0) * 16), round((at.y(neck_z) - y0) * 16))
            corner = (round((left + (w - 1) / 2 + side * (w / 2 - 2)) * 16), round(top * 16))
            cv2.line(layer, neck, corner, (160, 80, 20), strap, cv2.LINE_AA, 4)
            cv2.line(mask, neck, corner, 255, strap, cv2.LINE_8, 4)
