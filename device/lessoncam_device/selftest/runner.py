"""The self-test from start to end: each fitted part checked, in an order a person can
follow, and nothing left behind (the test recording is deleted, the motor back home)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..clock import Clock
from ..config import DeviceConfig, MotorConfig
from ..controls import Controls
from ..enrolment import Credentials
from ..motors.base import MotorError, PanMotor
from ..motors.factory import open_motor
from ..recorder import RecorderOptions
from ..sources import SourcesFactory
from ..video_encoding import read_pi_model
from .camera_run import record_sample
from .media_checks import check_av, check_cameras, check_encoder, check_microphone
from .person import Person, Presses, check_button, check_light, open_controls
from .report import Check, Report, failed, skipped
from .unit import check_config, check_disk, check_server

log = logging.getLogger(__name__)

MotorOpener = Callable[[MotorConfig, Clock], PanMotor | None]


@dataclass
class SelftestSettings:
    """How the self-test runs; the defaults are what ``lessoncam-device selftest`` uses."""

    seconds: float = 20.0  # of recording, over which frames are counted
    button_timeout_s: float = 15.0
    use_pins: bool = True  # False: a unit without GPIO (simulated, a bench)
    pin_factory: object = None  # gpiozero's, or a MockFactory in tests
    model: str | None = None  # the board (None: read from the device tree)
    recorder_options: RecorderOptions | None = None


async def run_selftest(
    config: DeviceConfig,
    clock: Clock,
    sources: SourcesFactory,
    credentials: Credentials | None,
    person: Person | None,
    settings: SelftestSettings | None = None,
    motor_opener: MotorOpener = open_motor,
) -> Report:
    """Check every fitted part; ``person`` (None: nobody, e.g. ``--yes``) is asked what only
    a person can tell. The unit's service must be stopped (it holds the cameras)."""
    s = settings or SelftestSettings()
    model = read_pi_model() if s.model is None else s.model
    report = Report()
    report.checks += [check_config(config), check_disk(config, model)]
    report.checks.append(await check_server(credentials))

    presses = Presses()
    controls: Controls | None = None
    pins = config.controls
    if s.use_pins and (pins.button_pin is not None or pins.led_pin is not None):
        controls = open_controls(pins, presses, s.pin_factory)
    motor: PanMotor | None = None
    motor_check: Check | None = None
    try:
        report.checks.append(await check_light(controls, pins, person))
        report.checks.append(
            await check_button(controls, presses, pins, person, s.button_timeout_s)
        )
        motor, motor_check = _open_motor(config, clock, motor_opener)
        flash = False
        if person is not None and config.audio.source != "none":
            flash = await asyncio.to_thread(
                person.ask,
                f"Measure sound against picture? Then flash a torch at the camera while you "
                f"clap, a few times, during the {s.seconds:g} s recording",
            )
        if person is not None:
            person.tell(
                f"Recording {s.seconds:g} s: hold the marker at the front of the room, facing "
                "the camera" + (" (the motor will turn the camera)" if motor else "") + "."
            )
        work = tempfile.mkdtemp(prefix="selftest-", dir=_state_dir(config))
        try:
            sample = await record_sample(
                config, clock, sources, Path(work), s.seconds, motor, s.recorder_options
            )
            report.checks += check_cameras(sample, config)
            report.checks.append(check_encoder(sample))
            report.checks.append(check_microphone(sample, config))
            report.checks.append(check_av(sample, config, flash))
            report.checks.append(
                sample.marker or skipped("marker", "no pictures: the recording did not start")
            )
            report.checks.append(
                motor_check
                or sample.motor
                or skipped("motor", "no pictures: the recording did not start")
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
    finally:
        if motor is not None:
            with contextlib.suppress(MotorError):
                motor.close()
        if controls is not None:
            controls.close()
    return report


def _open_motor(
    config: DeviceConfig, clock: Clock, opener: MotorOpener
) -> tuple[PanMotor | None, Check | None]:
    """The motor, or the check that says why there is none."""
    if config.motor.kind == "none":
        return None, skipped("motor", 'no motor fitted ([motor] kind = "none")')
    try:
        motor = opener(config.motor, clock)
    except MotorError as exc:
        return None, failed(
            "motor",
            f"the {config.motor.kind} motor cannot be opened ({exc})",
            "check its wiring and power, and [motor] (docs/tracking.md)",
        )
    if motor is None:
        return None, skipped("motor", "no motor fitted")
    return motor, None


def _state_dir(config: DeviceConfig) -> str:
    """Where the test recording goes: the unit's own disk (the state folder)."""
    config.unit.state_dir.mkdir(parents=True, exist_ok=True)
    return str(config.unit.state_dir)
