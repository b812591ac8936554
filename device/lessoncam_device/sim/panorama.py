"""The static classroom, drawn once as a cylindrical panorama seen from the camera's position:
walls, whiteboard, windows, door, desks and seated pupils as abstract shapes, with a depth map
so that people drawn later stand behind whatever furniture is nearer."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from .geometry import Color, Image, SceneConfig

# Depth is stored in decimetres; walls, floor and ceiling are "far" (nothing stands behind them).
FAR_DM = 255

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
        self.depth: Image = np.full((2 * half + 1, width), FAR_DM, np.uint8)

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
