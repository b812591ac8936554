"""Pan-follow: find the teacher's marker, decide where to point, turn the motor.

``marker`` (dictionaries, printable sheets, sizes), ``detector`` (region-of-interest search with
full-frame re-acquisition), ``controller`` (the pure pan controller), ``tracker`` (the three
together), ``service`` (the daemon's threads), ``calibrate`` (limits, centre, marker size).
"""

from .controller import ControllerSettings, PanController, TrackState
from .detector import Detection, DetectorSettings, Hint, MarkerDetector
from .tracker import CameraGeometry, Tracker

__all__ = [
    "CameraGeometry",
    "ControllerSettings",
    "Detection",
    "DetectorSettings",
    "Hint",
    "MarkerDetector",
    "PanController",
    "TrackState",
    "Tracker",
]
