"""Calibration on the simulated unit: end stops found from the picture, centre, marker size."""

from __future__ import annotations

import pytest

from lessoncam_device import cli
from lessoncam_device.motors.base import MotorLimits
from lessoncam_device.motors.simulated import SimulatedMotorSettings, SimulatedPanMotor
from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.frames import SimulatedFrames
from lessoncam_device.sim.teacher_path import TeacherPath
from lessoncam_device.tracking.calibrate import Calibrator
from lessoncam_device.tracking.detector import DetectorSettings, MarkerDetector

from .sim_helpers import shared_scene


@pytest.mark.slow
def test_finds_end_stops_centre_and_marker_size() -> None:
    clock = VirtualClock(monotonic_s=0.0)
    camera = SimulatedCamera(
        shared_scene(),
        TeacherPath("standing", 14.0, 6.5, ()),
        CameraConfig(width=1280, height=720, start_pts_s=0.0),
    )
    motor = SimulatedPanMotor(
        MotorLimits(-80, 80),
        clock,
        SimulatedMotorSettings(end_stops_deg=(-47.0, 61.0)),
        camera=camera,
    )

    def wait(seconds: float) -> None:
        clock.advance(seconds)
        motor.poll()

    detector = MarkerDetector(DetectorSettings(ids=(7,), reacquire_hz=1000))
    report = Calibrator(motor, SimulatedFrames(camera, clock), detector, wait).run()
    assert report.right_stalled and report.right_deg == pytest.approx(61.0, abs=0.5)
    assert report.left_stalled and report.left_deg == pytest.approx(-47.0, abs=0.5)
    assert report.centre_deg == pytest.approx(14.0, abs=0.3)
    # 0.20 m at 6.5 m through a 1280 px, 66 deg lens: f * s / d = 30 px
    assert report.marker_px == pytest.approx(985.5 * 0.2 / 6.5, rel=0.06)
    suggestion = report.suggestion()
    assert suggestion["min_deg"] >= report.left_deg and suggestion["max_deg"] <= report.right_deg
    assert any("marker size there: 3" in line and "(fine)" in line for line in report.lines())


@pytest.mark.slow
def test_calibrate_command_on_the_simulated_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["calibrate", "--end-stops", "-60", "70", "--step-deg", "5"]) == 0
    out = capsys.readouterr().out
    assert "left limit: -60 deg (the mechanics stop it there)" in out
    assert "right limit: 70 deg (the mechanics stop it there)" in out
    assert "marker 7 is straight ahead at 0.0 deg" in out
    assert "suggested [tracking]: min_deg = -55, max_deg = 65" in out
