"""Helpers for the simulation tests: one shared scene, marker detection, beep onsets."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from lessoncam_device.sim.geometry import MarkerSpec
from lessoncam_device.sim.scene import Scene
from lessoncam_device.tracking import detector

MARKER = MarkerSpec()


@functools.cache
def shared_scene() -> Scene:
    """The default classroom, built once per test process (~0.5 s)."""
    return Scene(marker=MARKER)


@functools.cache
def _detector(dictionary: str) -> cv2.aruco.ArucoDetector:
    d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, dictionary))
    return cv2.aruco.ArucoDetector(d, cv2.aruco.DetectorParameters())


@dataclass(frozen=True)
class Detection(detector.Detection):
    """The tracker's detection, plus the marker's width and height for the scene's tests."""

    @property
    def width_px(self) -> float:
        c = self.corners
        return float((c[1, 0] - c[0, 0] + c[2, 0] - c[3, 0]) / 2)

    @property
    def height_px(self) -> float:
        c = self.corners
        return float((c[3, 1] - c[0, 1] + c[2, 1] - c[1, 1]) / 2)


def detect(image: NDArray[np.uint8], spec: MarkerSpec = MARKER) -> Detection | None:
    """The expected marker in a BGR image, filtered on its id, or None."""
    corners, ids, _ = _detector(spec.dictionary).detectMarkers(image)
    if ids is None or len(ids) == 0:
        return None
    for c, marker_id in zip(corners, ids.ravel(), strict=True):
        if marker_id == spec.marker_id:
            return Detection(int(marker_id), np.asarray(c, np.float32).reshape(4, 2))
    return None


def beep_onsets(samples: NDArray[np.int16], threshold: int = 2000, gap: int = 9600) -> list[int]:
    """Sample indices where a beep starts: first sample above ``threshold`` after ``gap`` quiet
    samples. Room noise is ~100 (int16 rms), a beep's peak ~16000."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if len(loud) == 0:
        return []
    starts = np.concatenate([[0], np.flatnonzero(np.diff(loud) > gap) + 1])
    return [int(loud[i]) for i in starts]
