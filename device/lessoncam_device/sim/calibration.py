"""The simulated unit ``lessoncam-device calibrate`` works on: the marker standing still in the
simulated classroom, a simulated servo with mechanical end stops turning the camera, on
virtual time (a sweep takes seconds, not minutes)."""

from __future__ import annotations

import argparse

from ..config import DeviceConfig
from ..motors.base import MotorLimits
from ..motors.simulated import SimulatedMotorSettings, SimulatedPanMotor
from ..tracking.calibrate import CalibrationRig
from .camera import CameraConfig, SimulatedCamera
from .clock import VirtualClock
from .frames import SimulatedFrames
from .geometry import MarkerSpec
from .scene import Scene
from .teacher_path import TeacherPath


def simulated_rig(args: argparse.Namespace, config: DeviceConfig) -> CalibrationRig:
    """The marker at ``args.distance`` m and ``args.bearing`` deg, end stops at
    ``args.end_stops``; raises ``MotorError`` for limits the motor cannot take."""
    tracking = config.tracking
    main = config.cameras["main"]
    clock = VirtualClock(monotonic_s=0.0)
    marker = MarkerSpec(
        dictionary=tracking.dictionary,
        marker_id=tracking.marker_ids[0],
        size_m=tracking.marker_size_m,
    )
    standing = TeacherPath("calibration", args.bearing, args.distance, ())
    camera = SimulatedCamera(
        Scene(marker=marker),
        standing,
        CameraConfig(
            width=main.width, height=main.height, hfov_deg=tracking.hfov_deg, start_pts_s=0.0
        ),
    )
    motor = SimulatedPanMotor(
        MotorLimits(config.motor.min_deg, config.motor.max_deg),
        clock,
        SimulatedMotorSettings(end_stops_deg=(args.end_stops[0], args.end_stops[1])),
        camera=camera,
    )

    def wait(seconds: float) -> None:
        clock.advance(seconds)
        motor.poll()

    return CalibrationRig(
        motor,
        SimulatedFrames(camera, clock),
        wait,
        f"calibrating the simulated unit: marker {marker.marker_id} "
        f"({marker.size_m * 100:g} cm) at {args.distance:g} m, {args.bearing:g} deg",
    )
