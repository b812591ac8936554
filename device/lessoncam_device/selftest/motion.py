"""How far the picture moved between two frames, for the motor check: the horizontal shift
found by phase correlation (the whole picture, not a feature), pure."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..tracking.detector import Gray
from ..tracking.marker import focal_px


def picture_shift_px(before: Gray, after: Gray) -> float:
    """The horizontal shift (pixels, positive: the scene moved right) from ``before`` to
    ``after``, two luma frames of one size."""
    a = np.asarray(before, np.float32)
    b = np.asarray(after, np.float32)
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, _dy), _response = cv2.phaseCorrelate(a, b, window)
    return float(dx)


def expected_shift_px(turn_deg: float, width_px: int, hfov_deg: float) -> float:
    """How far the scene moves in the picture when the camera turns ``turn_deg`` (the scene
    moves the other way: a turn to the right moves it left)."""
    return -focal_px(width_px, hfov_deg) * math.tan(math.radians(turn_deg))
