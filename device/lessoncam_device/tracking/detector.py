"""Finding the teacher's marker in a frame: a small region around where it should be, and now
and then the whole frame when it has been lost.

A 320x320 region costs ~1-2 ms where a 1920x1080 frame costs ~15 ms (design brief), so while
the marker is followed only its neighbourhood is searched; the full frame is searched at most
``reacquire_hz`` times a second. Markers with other ids (a second class's teacher, a poster)
are ignored and counted, so the caller can say so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from .marker import aruco_dictionary, check_ids

log = logging.getLogger(__name__)

Gray = NDArray[np.uint8]


@dataclass(frozen=True)
class DetectorSettings:
    """Which markers to accept and how to search for them."""

    dictionary: str = "DICT_4X4_50"
    ids: tuple[int, ...] = (7,)
    roi_px: int = 320  # smallest side of the search region
    roi_marker_sides: float = 4.0  # ... or this many marker sides, when the marker is big
    reacquire_hz: float = 5.0  # full-frame searches per second at most, while not found
    refine_corners: bool = True

    def __post_init__(self) -> None:
        check_ids(self.dictionary, self.ids)
        if self.roi_px < 64:
            raise ValueError("roi_px must be at least 64")
        if self.reacquire_hz <= 0:
            raise ValueError("reacquire_hz must be > 0")


@dataclass(frozen=True)
class Hint:
    """Where the marker should be in this frame (pixels) and how big it was."""

    x: float
    y: float
    side_px: float


@dataclass(frozen=True)
class Detection:
    """One accepted marker: its id and corners (4, 2) in frame pixels, ArUco order."""

    marker_id: int
    corners: NDArray[np.float32]

    @property
    def centre(self) -> tuple[float, float]:
        x, y = self.corners.mean(axis=0)
        return float(x), float(y)

    @property
    def side_px(self) -> float:
        """Mean length of the four sides."""
        edges = self.corners - np.roll(self.corners, -1, axis=0)
        return float(np.hypot(edges[:, 0], edges[:, 1]).mean())


@dataclass(frozen=True)
class FrameResult:
    """What one frame gave: the marker (or None), how it was searched, what else was seen."""

    detection: Detection | None
    searched: Literal["roi", "full", "roi+full", "skipped"]
    foreign_ids: tuple[int, ...] = ()
    candidates: int = 0  # accepted markers seen; > 1 means two markers of ours in view
    region: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 of the last search


@dataclass
class MarkerDetector:
    """Searches frames for the expected marker ids; keeps only the rate limit as state."""

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    _last_full_s: float = field(default=-math.inf, init=False)

    def __post_init__(self) -> None:
        params = cv2.aruco.DetectorParameters()
        if self.settings.refine_corners:
            params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
        self._detector = cv2.aruco.ArucoDetector(aruco_dictionary(self.settings.dictionary), params)
        self._accepted = frozenset(self.settings.ids)

    def region_for(self, hint: Hint, width: int, height: int) -> tuple[int, int, int, int]:
        """The search region around ``hint``, kept inside the frame."""
        side = max(self.settings.roi_px, math.ceil(self.settings.roi_marker_sides * hint.side_px))
        side_x, side_y = min(side, width), min(side, height)
        x0 = min(max(0, round(hint.x - side_x / 2)), width - side_x)
        y0 = min(max(0, round(hint.y - side_y / 2)), height - side_y)
        return x0, y0, x0 + side_x, y0 + side_y

    def detect(self, gray: Gray, t_s: float, hint: Hint | None = None) -> FrameResult:
        """Search ``gray`` (a 2-D luma image) captured at ``t_s`` for an accepted marker.

        With a hint the region around it is searched first; the whole frame only when that
        fails and the last full search is at least ``1 / reacquire_hz`` seconds old.
        """
        if gray.ndim != 2:
            raise ValueError("detect takes a 2-D grey (luma) image")
        h, w = gray.shape
        searched: list[str] = []
        foreign: set[int] = set()
        region = None
        if hint is not None:
            region = self.region_for(hint, w, h)
            x0, y0, x1, y1 = region
            found, others, count = self._search(gray[y0:y1, x0:x1], (x0, y0), hint)
            foreign |= others
            searched.append("roi")
            if found is not None:
                return FrameResult(found, "roi", tuple(sorted(foreign)), count, region)
        if t_s - self._last_full_s >= 1.0 / self.settings.reacquire_hz:
            self._last_full_s = t_s
            region = (0, 0, w, h)
            found, others, count = self._search(gray, (0, 0), hint)
            foreign |= others
            searched.append("full")
            how = "+".join(searched)
            return FrameResult(found, how, tuple(sorted(foreign)), count, region)  # type: ignore[arg-type]
        how = "roi" if searched else "skipped"
        return FrameResult(None, how, tuple(sorted(foreign)), 0, region)  # type: ignore[arg-type]

    def _search(
        self, image: Gray, offset: tuple[int, int], hint: Hint | None
    ) -> tuple[Detection | None, set[int], int]:
        corners, ids, _ = self._detector.detectMarkers(np.ascontiguousarray(image))
        if ids is None or len(ids) == 0:
            return None, set(), 0
        ours: list[Detection] = []
        foreign: set[int] = set()
        for c, marker_id in zip(corners, ids.ravel(), strict=True):
            if int(marker_id) not in self._accepted:
                foreign.add(int(marker_id))
                continue
            pts = np.asarray(c, np.float32).reshape(4, 2) + np.array(offset, np.float32)
            ours.append(Detection(int(marker_id), pts))
        if not ours:
            return None, foreign, 0
        if hint is not None:
            # Two of ours in view: the one nearest to where she was is her.
            best = min(ours, key=lambda d: math.dist(d.centre, (hint.x, hint.y)))
        else:
            best = max(ours, key=lambda d: d.side_px)
        return best, foreign, len(ours)
