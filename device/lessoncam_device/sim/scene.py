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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from numpy.typing import NDArray

from .figures import Poly, figure, figure_extent, marker_card
from .geometry import Image, MarkerSpec, Optics, Placement, SceneConfig, place
from .panorama import FAR_DM, build_panorama
from .teacher_path import SITTING_DROP_M, TeacherPose

# Pan is rendered in quarter-steps of a panorama pixel (~0.25 output px): cached fixed-point maps.
_PAN_PHASES = 4
_OUTSIDE_BGR = (40, 40, 40)


def _figure_for(pose: TeacherPose) -> str:
    if pose.turned_away:
        return "teacher_away"
    return "teacher_sitting" if pose.sitting else "teacher"


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
        printed = cv2.cvtColor(marker_card(self.marker), cv2.COLOR_GRAY2BGR)
        self._card = np.asarray(printed, np.uint8)
        self._other_cards: dict[int, Image] = {}
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
        at = place(optics, pan_deg, bearing_deg, distance_m, self.camera_height_m)
        return None if at is None else (at.x, at.y(height_m))

    def marker_corners(
        self,
        optics: Optics,
        pan_deg: float,
        pose: TeacherPose | None,
        others: Sequence[tuple[TeacherPose, int]] = (),
    ) -> NDArray[np.float32] | None:
        """Ground truth: the marker's corners (4, 2) in ArUco order (top-left, clockwise), or
        None if this view cannot see it (out of frame, hidden, out of the room, or behind
        seated pupils, furniture or one of ``others`` nearer the camera: a colleague)."""
        if pose is None or not pose.marker_visible:
            return None
        at = place(optics, pan_deg, pose.bearing_deg, pose.distance_m, self.camera_height_m)
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
        for other, _ in others:
            nearer = other.visible_in_room and other.distance_m < pose.distance_m
            if nearer and self._covers(optics, pan_deg, other, probes):
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
        others: Sequence[tuple[TeacherPose, int]] = (),
    ) -> Image:
        """The view at ``pan_deg``: the room, the teacher (if in the room), a pupil in front of
        her when she is hidden or one crossing, other people wearing markers with other ids
        (``others``: pose and marker id), horizontal motion blur, and an exposure gain."""
        frame = self._background(optics, pan_deg)
        if pan_blur_px >= 1.5:
            frame = np.asarray(cv2.blur(frame, (round(pan_blur_px), 1)), np.uint8)
        # (distance, pose, figure, marker id, blur): drawn far to near.
        people: list[tuple[float, TeacherPose, str, int, float]] = []
        for pose, marker_id in others:
            if pose.visible_in_room:
                people.append((pose.distance_m, pose, _figure_for(pose), marker_id, 0.0))
        if teacher is not None and teacher.visible_in_room:
            kind = _figure_for(teacher)
            people.append(
                (teacher.distance_m, teacher, kind, self.marker.marker_id, teacher_blur_px)
            )
            if teacher.hidden and not teacher.turned_away and teacher.pupil is None:
                # A pupil steps in between, a metre in front of her.
                pupil = TeacherPose(teacher.bearing_deg, max(1.2, teacher.distance_m - 1.0))
                people.append((pupil.distance_m, pupil, "pupil", -1, 0.0))
            if teacher.pupil is not None:
                pupil = TeacherPose(*teacher.pupil)
                people.append((pupil.distance_m, pupil, "pupil", -1, 0.0))
        for _, pose, kind, marker_id, blur in sorted(people, key=lambda p: -p[0]):
            self._draw_person(frame, optics, pan_deg, pose, kind, blur, marker_id)
        if brightness != 1.0:
            frame = np.asarray(cv2.convertScaleAbs(frame, alpha=brightness), np.uint8)
        return frame

    # -- internals --

    def _card_for(self, marker_id: int) -> Image:
        """The printed card with ``marker_id`` (the teacher's own for -1 or her id)."""
        if marker_id in (-1, self.marker.marker_id):
            return self._card
        if marker_id not in self._other_cards:
            spec = replace(self.marker, marker_id=marker_id)
            printed = cv2.cvtColor(marker_card(spec), cv2.COLOR_GRAY2BGR)
            self._other_cards[marker_id] = np.asarray(printed, np.uint8)
        return self._other_cards[marker_id]

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
        out = np.full(len(xy), float(FAR_DM))
        out[ok] = self.depth_dm[row[ok].astype(np.intp), col[ok].astype(np.intp)]
        return out

    def _covers(
        self, optics: Optics, pan_deg: float, pose: TeacherPose, xy: NDArray[np.float32]
    ) -> bool:
        """Whether the person at ``pose`` (drawn as in ``render``) covers any image point."""
        at = place(optics, pan_deg, pose.bearing_deg, pose.distance_m, self.camera_height_m)
        if at is None:
            return False
        x0, y0 = math.floor(xy[:, 0].min()) - 1, math.floor(xy[:, 1].min()) - 1
        x1, y1 = math.ceil(xy[:, 0].max()) + 2, math.ceil(xy[:, 1].max()) + 2
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        self._silhouette(None, mask, at, _figure_for(pose), (x0, y0))
        cols = np.round(xy[:, 0]).astype(np.intp) - x0
        rows = np.round(xy[:, 1]).astype(np.intp) - y0
        return bool((mask[rows, cols] > 0).any())

    def _silhouette(
        self, layer: Image | None, mask: Image, at: Placement, kind: str, origin: tuple[int, int]
    ) -> None:
        """Draws a figure's shapes into ``layer`` (if given) and ``mask`` (offset ``origin``)."""
        x0, y0 = origin

        def px(u: float, z: float) -> tuple[int, int]:
            return round((at.x + u * at.kx - x0) * 16), round((at.y(z) - y0) * 16)

        for s in figure(kind):
            if isinstance(s, Poly):
                pts = np.array([px(u, z) for u, z in s.points], np.int32)
                if layer is not None:
                    cv2.fillPoly(layer, [pts], s.color, cv2.LINE_AA, shift=4)
                cv2.fillPoly(mask, [pts], 255, cv2.LINE_8, shift=4)
            else:
                axes = (
                    max(1, round(s.radii[0] * at.kx * 16)),
                    max(1, round(s.radii[1] * at.ky * 16)),
                )
                centre = px(*s.centre)
                if layer is not None:
                    cv2.ellipse(layer, centre, axes, 0, 0, 360, s.color, -1, cv2.LINE_AA, shift=4)
                cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_8, shift=4)

    def _draw_person(
        self,
        frame: Image,
        optics: Optics,
        pan_deg: float,
        pose: TeacherPose,
        kind: str,
        blur_px: float,
        marker_id: int = -1,
    ) -> None:
        at = place(optics, pan_deg, pose.bearing_deg, pose.distance_m, self.camera_height_m)
        if at is None:
            return
        u0, u1, z0, z1 = figure_extent(kind)
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
        self._silhouette(layer, mask, at, kind, (x0, y0))
        if kind in ("teacher", "teacher_sitting"):
            neck_z = 1.45 - (SITTING_DROP_M if pose.sitting else 0.0)
            card = self._card_for(marker_id)
            self._draw_card(layer, mask, at, self.marker_height_m(pose), neck_z, (x0, y0), card)
        # Static furniture and pupils nearer than this person cover them.
        maps = self._maps_for(optics)
        near = cv2.remap(
            self.depth_dm,
            maps.rel_col[y0:y1, x0:x1] + np.float32(self._pan_col(pan_deg)),
            maps.row[y0:y1, x0:x1],
            cv2.INTER_NEAREST,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=FAR_DM,
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
        at: Placement,
        zc: float,
        neck_z: float,
        origin: tuple[int, int],
        printed: Image,
    ) -> None:
        x0, y0 = origin
        full = self.marker.size_m + 2.0 * self.marker.quiet_zone_m
        w, h = max(1, round(full * at.kx)), max(1, round(full * at.ky))
        card = cv2.resize(printed, (w, h), interpolation=cv2.INTER_AREA)
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
