"""``lessoncam-device selftest`` on simulated hardware: every check passes on a working unit,
and each fault injected (no pictures, a silent microphone, a motor that does not turn the
picture, no marker, a full disk, a refused token, a button nobody presses) is named, with
its fix. The simulated classroom records in virtual time; the button and light are gpiozero's
mock pins; the server is the real one on a real port."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from gpiozero.pins.mock import MockFactory

from lessoncam_device import cli
from lessoncam_device.clock import Clock, RealClock
from lessoncam_device.config import DeviceConfig, MotorConfig, parse_config
from lessoncam_device.enrolment import Credentials
from lessoncam_device.hardware import sources_for
from lessoncam_device.motors.base import MotorLimits, PanMotor
from lessoncam_device.recorder import AudioSettings, RecorderOptions
from lessoncam_device.recorder.encoders import VideoEncoder
from lessoncam_device.segments import RecordingPlan
from lessoncam_device.selftest.camera_run import record_sample
from lessoncam_device.selftest.media_checks import check_encoder
from lessoncam_device.selftest.report import Report
from lessoncam_device.selftest.runner import SelftestSettings, run_selftest
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.microphone import SimulatedMicrophone
from lessoncam_device.sim.sources import SimulatedSources, simulated_sources
from lessoncam_device.sources import Sources

from .daemon_helpers import credentials

__all__ = ["credentials"]  # the fixture

pytestmark = pytest.mark.slow  # each records a few seconds of the simulated classroom

FAST = RecorderOptions(
    mode="pull", x264_preset="ultrafast", encoder_threads=1, audio=AudioSettings(coder="fast")
)
BUTTON, LED = 17, 27


def unit_config(state_dir: Path, **sections: dict[str, Any]) -> DeviceConfig:
    """A simulated unit whose main camera is wide enough for the marker at 8 m."""
    data: dict[str, Any] = {
        "unit": {"state_dir": str(state_dir)},
        "cameras": {"main": {"width": 1280, "height": 720, "fps": 15}},
        "recording": {"storage_reserve_mib": 64},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return parse_config(data)


class ScriptedPerson:
    """ICT at the unit, following a script: presses the (mock) button when told to, and
    answers yes to every question unless told otherwise."""

    def __init__(self, pins: MockFactory, *, presses: bool = True, sees_light: bool = True):
        self.pins, self.presses, self.sees_light = pins, presses, sees_light
        self.told: list[str] = []
        self.asked: list[str] = []

    def tell(self, text: str) -> None:
        self.told.append(text)
        if self.presses and "Press the unit's button" in text:
            threading.Timer(0.05, self._tap).start()

    def _tap(self) -> None:
        pin = self.pins.pin(BUTTON)
        pin.drive_low()
        threading.Event().wait(0.15)  # longer than the debounce
        pin.drive_high()

    def ask(self, question: str) -> bool:
        self.asked.append(question)
        return self.sees_light if "light" in question else True


async def selftest(
    config: DeviceConfig,
    creds: Credentials | None,
    pins: MockFactory,
    person: ScriptedPerson | None = None,
    *,
    sources: Callable[[DeviceConfig, RecordingPlan, Clock], Sources] = simulated_sources,
    motor_opener: Any = None,
    options: RecorderOptions | None = FAST,
) -> Report:
    settings = SelftestSettings(
        seconds=6.0,
        button_timeout_s=1.0,
        pin_factory=pins,
        model="Raspberry Pi 5 Model B Rev 1.0",
        recorder_options=options,
    )
    kwargs = {"motor_opener": motor_opener} if motor_opener else {}
    return await run_selftest(
        config,
        VirtualClock(),
        sources,
        creds,
        person if person is not None else ScriptedPerson(pins),
        settings,
        **kwargs,
    )


@pytest.fixture
def pins() -> Any:
    made = MockFactory()
    yield made
    made.reset()


async def test_a_working_unit_passes_every_check(
    credentials: Credentials, pins: MockFactory, tmp_path: Path
) -> None:
    person = ScriptedPerson(pins)
    report = await selftest(unit_config(tmp_path / "unit"), credentials, pins, person)
    assert [c.status for c in report.checks] == ["pass"] * len(report.checks), report.lines()
    names = [c.name for c in report.checks]
    assert names == [
        "config",
        "disk",
        "server",
        "light",
        "button",
        "camera main",
        "encoder",
        "microphone",
        "a/v offset",
        "marker",
        "motor",
    ]
    figures = {c.name: c.figures for c in report.checks}
    assert figures["camera main"]["width"] == 1280 and figures["camera main"]["fps"] == 15.0
    assert figures["camera main"]["dropped"] == 0
    assert figures["marker"]["side_px"] >= 24
    assert abs(figures["a/v offset"]["offset_ms"]) < 1000 / 15  # the simulated flash and beep
    assert figures["microphone"]["rms_dbfs"] > -40  # beeps over room noise
    assert report.ok and report.lines()[-1] == "all checks passed"
    assert not list((tmp_path / "unit").glob("selftest-*"))  # the test recording is gone


def failure(report: Report, name: str) -> str:
    """The failed check's words and fix, as printed."""
    check = report.named(name)
    assert check.status == "fail", report.lines()
    assert f"FAIL  {name}: {check.said}" in report.lines()
    assert check.fix
    return f"{check.said} / {check.fix}"


async def test_no_camera_frames_are_named(pins: MockFactory, tmp_path: Path) -> None:
    config = unit_config(
        tmp_path / "unit",
        cameras={"main": {"source": "v4l2", "device": "/dev/video97", "width": 1280}},
        audio={"source": "none"},
    )
    report = await selftest(config, None, pins, sources=sources_for, options=None)
    said = failure(report, "camera main")
    assert "no pictures from v4l2 camera /dev/video97" in said and "cable" in said
    # What needs pictures says so, and blames nothing else.
    for name in ("encoder", "marker", "motor", "microphone"):
        assert report.named(name).status == "skip", report.lines()


def silent(config: DeviceConfig, plan: RecordingPlan, clock: Clock) -> SimulatedSources:
    sources = simulated_sources(config, plan, clock)
    mic = sources.microphone
    assert mic is not None
    dead = replace(mic.config, noise_level=0.0, beep_level=0.0)
    return replace(
        sources, microphone=SimulatedMicrophone(dead, mic.flashes, mic.wall_minus_mono_s)
    )


async def test_a_silent_microphone_is_named(pins: MockFactory, tmp_path: Path) -> None:
    report = await selftest(unit_config(tmp_path / "unit"), None, pins, sources=silent)
    said = failure(report, "microphone")
    assert "-120 dBFS" in said and "silent" in said and "alsamixer" in said
    assert failure(report, "a/v offset").startswith("no flash was seen together with a clap")


class LooseMotor(PanMotor):
    """A motor that takes commands but is not fixed to the camera."""

    kind = "loose"

    def _drive(self, angle_deg: float) -> None:
        pass


async def test_a_motor_that_does_not_move_the_picture_is_named(
    pins: MockFactory, tmp_path: Path
) -> None:
    def loose(_config: MotorConfig, _clock: Clock) -> PanMotor:
        return LooseMotor(MotorLimits())

    report = await selftest(unit_config(tmp_path / "unit"), None, pins, motor_opener=loose)
    said = failure(report, "motor")
    assert "the picture did not move" in said and "camera sits on the motor" in said


async def test_no_marker_is_named(pins: MockFactory, tmp_path: Path) -> None:
    report = await selftest(
        unit_config(tmp_path / "unit", tracking={"marker_ids": [9]}), None, pins
    )
    said = failure(report, "marker")
    assert said.startswith("no marker 9 (DICT_4X4_50) in the picture")
    assert "[tracking] marker_ids" in said


async def test_a_full_disk_is_named(pins: MockFactory, tmp_path: Path) -> None:
    full = unit_config(tmp_path / "unit", recording={"storage_reserve_mib": 1024**3})
    report = await selftest(full, None, pins)
    said = failure(report, "disk")
    assert "0.0 hours of lessons" in said and "free space in" in said


async def test_a_server_refusing_the_token_is_named(
    server: TestServer, pins: MockFactory, tmp_path: Path, credentials: Credentials
) -> None:
    stale = replace(credentials, token="not-this-units-token")
    report = await selftest(unit_config(tmp_path / "unit"), stale, pins)
    said = failure(report, "server")
    assert "refused this unit's token (HTTP 401)" in said and "lessoncam-device enroll" in said


async def test_a_button_nobody_presses_and_a_dark_light_are_named(
    pins: MockFactory, tmp_path: Path
) -> None:
    person = ScriptedPerson(pins, presses=False, sees_light=False)
    report = await selftest(unit_config(tmp_path / "unit"), None, pins, person)
    assert "no press of the button on BCM pin 17 within 1 s" in failure(report, "button")
    assert "the light did not blink" in failure(report, "light")


async def test_nobody_at_the_unit_skips_what_needs_a_person(
    pins: MockFactory, tmp_path: Path
) -> None:
    config = unit_config(tmp_path / "unit")
    settings = SelftestSettings(seconds=3.0, pin_factory=pins, recorder_options=FAST)
    report = await run_selftest(config, VirtualClock(), simulated_sources, None, None, settings)
    for name in ("light", "button", "a/v offset"):
        assert report.named(name).status == "skip", name
    assert "SKIP  button: skipped" in report.lines()


def test_the_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "device.toml"
    path.write_text(
        f'[unit]\nstate_dir = "{tmp_path / "unit"}"\nhardware = "simulated"\n'
        "[cameras.main]\nwidth = 640\nheight = 360\nfps = 15\n"
        "[recording]\nstorage_reserve_mib = 64\n"
    )
    code = cli.main(["selftest", "--config", str(path), "--seconds", "2", "--yes", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["ok"] is False  # not enrolled; the marker too small at 640 px
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["server"] == "fail" and statuses["camera main"] == "pass"
    assert statuses["light"] == "skip"  # a simulated unit has no pins


async def test_real_time_on_a_cpu_slower_than_the_camera_ends_and_names_the_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On real time with an encoder slower than the frame rate (as on an emulated arm64 CPU)
    the short recording ends and the encoder check says it does not keep up; waiting for the
    recorder to catch up at every step made each wait longer than the last, and the run
    never ended."""
    encode = VideoEncoder.encode

    def slow_encode(self: VideoEncoder, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.1)  # per frame, at 15 fps: the encoder at 2/3 of real time
        return encode(self, *args, **kwargs)

    monkeypatch.setattr(VideoEncoder, "encode", slow_encode)
    config = unit_config(
        tmp_path / "unit", cameras={"main": {"width": 640, "height": 360, "fps": 15}}
    )
    sample = await asyncio.wait_for(
        record_sample(config, RealClock(), simulated_sources, tmp_path / "rec", 2.0, None, FAST),
        timeout=60,  # a hang guard, far above the ~5 s this takes
    )
    assert sample.start_error is None and sample.stats is not None
    assert sample.stats.cameras["main"].frames > 0 and sample.segments["main"]
    assert sample.marker is not None  # looked for while it lagged
    encoder = check_encoder(sample)
    assert encoder.status == "fail" and "does not keep up" in encoder.said
    assert encoder.figures["pace"] < 0.9
