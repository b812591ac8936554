"""People as flat shapes in metres (the teacher standing, turned away or sitting; a pupil),
and the printed marker card she wears."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import Color, Image, MarkerSpec
from .teacher_path import SITTING_DROP_M

# Printed marker on a matte card under classroom light: black is not 0, white is not 255.
_INK, _PAPER = 30, 225

# --- people ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poly:
    color: Color
    points: tuple[tuple[float, float], ...]  # (sideways m, height m) in a plane facing the camera


@dataclass(frozen=True)
class Ellipse:
    color: Color
    centre: tuple[float, float]
    radii: tuple[float, float]


Shape = Poly | Ellipse
_SKIN: Color = (120, 150, 185)


def _both_sides(color: Color, *points: tuple[float, float]) -> tuple[Poly, Poly]:
    return Poly(color, points), Poly(color, tuple((-u, z) for u, z in points))


def _raise(shapes: Sequence[Shape], dz: float, above: float) -> tuple[Shape, ...]:
    """Move everything above ``above`` by ``dz`` (to sit her down)."""

    def z(v: float) -> float:
        return v + dz if v >= above else v

    out: list[Shape] = []
    for s in shapes:
        if isinstance(s, Poly):
            out.append(Poly(s.color, tuple((u, z(v)) for u, v in s.points)))
        else:
            out.append(Ellipse(s.color, (s.centre[0], z(s.centre[1])), s.radii))
    return tuple(out)


@functools.cache
def figure(kind: str) -> tuple[Shape, ...]:
    """People as flat shapes in metres: 'teacher', 'teacher_away', 'teacher_sitting', 'pupil'."""
    if kind == "pupil":  # a tall pupil standing, seen from behind
        hoodie = (60, 70, 170)
        return (
            *_both_sides((40, 40, 40), (-0.17, 0.0), (-0.03, 0.0), (-0.03, 0.07), (-0.16, 0.07)),
            *_both_sides((130, 90, 60), (-0.15, 0.06), (-0.03, 0.06), (-0.02, 0.86), (-0.17, 0.86)),
            *_both_sides((50, 60, 150), (-0.28, 0.84), (-0.21, 0.84), (-0.2, 1.43), (-0.26, 1.43)),
            Poly(
                hoodie,
                ((-0.2, 0.82), (0.2, 0.82), (0.22, 1.43), (0.15, 1.5), (-0.15, 1.5), (-0.22, 1.43)),
            ),
            Poly(_SKIN, ((-0.06, 1.43), (0.06, 1.43), (0.06, 1.54), (-0.06, 1.54))),
            Ellipse((30, 35, 45), (0.0, 1.62), (0.11, 0.125)),
        )
    cardigan, sleeves, hair = (120, 90, 150), (105, 78, 132), (40, 60, 90)
    standing: tuple[Shape, ...] = (
        *_both_sides((40, 40, 40), (-0.18, 0.0), (-0.03, 0.0), (-0.03, 0.07), (-0.17, 0.07)),
        *_both_sides((70, 55, 50), (-0.16, 0.06), (-0.03, 0.06), (-0.02, 0.9), (-0.17, 0.9)),
        *_both_sides(sleeves, (-0.29, 0.86), (-0.22, 0.86), (-0.2, 1.38), (-0.26, 1.38)),
        Ellipse(_SKIN, (-0.255, 0.82), (0.04, 0.05)),
        Ellipse(_SKIN, (0.255, 0.82), (0.04, 0.05)),
        Poly(
            cardigan,
            ((-0.19, 0.86), (0.19, 0.86), (0.22, 1.38), (0.16, 1.44), (-0.16, 1.44), (-0.22, 1.38)),
        ),
        Poly(_SKIN, ((-0.05, 1.4), (0.05, 1.4), (0.05, 1.49), (-0.05, 1.49))),
        Ellipse(hair, (0.0, 1.61), (0.11, 0.115)),
    )
    if kind == "teacher_away":  # the back of her head, the lanyard strap round her neck
        return (
            *standing,
            Ellipse(hair, (0.0, 1.57), (0.1, 0.12)),
            Poly((160, 80, 20), ((-0.05, 1.45), (0.05, 1.45), (0.05, 1.47), (-0.05, 1.47))),
        )
    face = Ellipse(_SKIN, (0.0, 1.565), (0.085, 0.105))
    if kind == "teacher":
        return (*standing, face)
    if kind == "teacher_sitting":  # on a low stool, knees towards the camera
        upper = _raise((*standing[4:], face), -SITTING_DROP_M, 0.8)
        return (
            *_both_sides((40, 40, 40), (-0.18, 0.0), (-0.03, 0.0), (-0.03, 0.07), (-0.17, 0.07)),
            *_both_sides((70, 55, 50), (-0.16, 0.06), (-0.03, 0.06), (-0.03, 0.48), (-0.17, 0.48)),
            Ellipse((80, 64, 58), (0.0, 0.5), (0.19, 0.07)),
            *upper,
        )
    raise ValueError(f"unknown figure {kind!r}")


def figure_extent(kind: str) -> tuple[float, float, float, float]:
    """(u_min, u_max, z_min, z_max) in metres."""
    us: list[float] = []
    zs: list[float] = []
    for s in figure(kind):
        if isinstance(s, Poly):
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
