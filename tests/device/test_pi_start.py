"""Starting a lesson on a Pi: the microphone opened through the system's ALSA configuration,
and every way a start can fail undone and said (picamera2's real encoder, fake cameras)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from lessoncam_device.clock import Clock
from lessoncam_device.config import DeviceConfig, parse_config
from lessoncam_device.daemon import Daemon
from lessoncam_device.enrolment import Credentials
from lessoncam_device.hardware import PiCameras, sources_for
from lessoncam_device.real.alsa_microphone import AlsaMicrophone
from lessoncam_device.recorder import MicrophoneUnavailable, RecorderError
from lessoncam_device.recorder.picamera2_adapter import Picamera2Recorder, Picamera2Settings
from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.sim.clock import SteppedClock
from lessoncam_device.sources import Sources
from lessoncam_device.states import MICROPHONE_DID_NOT_START, Event, State
from lessoncam_server.services import Services

from .alsa_helpers import BEEP_LEVEL, RATE, TEST_PCM, alsa_user_config, system_alsa
from .daemon_helpers import credentials, running, until
from .picamera2_fakes import FPS, FakePicamera2, H, W, picamera2_stubbed, rig
from .recorder_helpers import make_plan

__all__ = ["alsa_user_config", "credentials", "picamera2_stubbed", "system_alsa"]  # fixtures


def recorder_for(
    libcamera: Any,
    state_dir: Path,
    microphone: Any,
    *,
    sound_required: bool = False,
    second_camera: bool = False,
) -> tuple[Picamera2Recorder, dict[int, FakePicamera2], list[SegmentInfo]]:
    clock, fakes, _pcm = rig(libcamera)
    cameras = [("main", W, H, FPS)] + ([("pupils", W, H, FPS)] if second_camera else [])
    plan = make_plan(clock, cameras, 3.0)
    got: list[SegmentInfo] = []
    real_start = time.time()
    recorder = Picamera2Recorder(
        plan,
        state_dir,
        [Picamera2Settings(i, (W, H), FPS, None, encoder="libav") for i in range(len(cameras))],
        clock,
        microphone=microphone,
        sound_required=sound_required,
        on_segment=got.append,
        picamera2_factory=lambda num: fakes[num],
        # ALSA stamps its sound on the real wall clock; the fake camera's first frame is at
        # 1234.5 s: sound captured from the start lines up with the first frames.
        stamp_to_monotonic=lambda s: 1234.5 + (s - real_start),
    )
    return recorder, fakes, got


def deliver(fakes: dict[int, FakePicamera2], frames: int) -> None:
    for i in range(frames):
        for fake in fakes.values():
            if fake.encoder is not None:
                fake.deliver(i)


def lesson_threads() -> set[threading.Thread]:
    """Threads that would keep the process alive (the event loop's own workers aside)."""
    return {
        t
        for t in threading.enumerate()
        if t.is_alive() and not t.daemon and not t.name.startswith("asyncio_")
    }


def audio_peak(paths: list[Path]) -> int:
    peak = 0
    for path in paths:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                return -1
            for frame in c.decode(c.streams.audio[0]):
                peak = max(peak, int(np.abs(frame.to_ndarray()).max() * 32767))
    return peak


@pytest.mark.slow
async def test_a_pi_lesson_hears_alsa_through_the_system_configuration(
    picamera2_stubbed: Any, system_alsa: np.ndarray, tmp_path: Path
) -> None:
    """Defect 1 of issue 12: the microphone that picamera2's encoder opens is found."""
    microphone = AlsaMicrophone(TEST_PCM, RATE, 1)
    recorder, fakes, got = recorder_for(picamera2_stubbed, tmp_path, microphone)
    await recorder.start()
    await asyncio.to_thread(deliver, fakes, round(4 * FPS))
    await recorder.stop()
    assert recorder.without_sound is None and recorder.stats().errors == []
    stats = recorder.stats()
    assert stats.audio is not None and stats.audio.blocks > 0
    segments = sorted((s.path for s in got if s.camera == "main"), key=str)
    # The beep the test's PCM plays came through ALSA into the lesson's AAC track.
    assert audio_peak(segments) > BEEP_LEVEL // 2


async def test_a_microphone_that_cannot_be_opened_leaves_the_lesson_silent_and_says_so(
    picamera2_stubbed: Any, system_alsa: np.ndarray, tmp_path: Path
) -> None:
    recorder, fakes, got = recorder_for(
        picamera2_stubbed, tmp_path, AlsaMicrophone("no_such_pcm", RATE, 1)
    )
    await recorder.start()
    await asyncio.to_thread(deliver, fakes, round(4 * FPS))
    counts = await recorder.stop()
    assert counts == {"main": 2}
    (note,) = recorder.stats().errors
    assert note.startswith("recording without sound: microphone 'no_such_pcm' cannot be opened")
    assert audio_peak([s.path for s in got]) == -1  # no audio track at all


async def test_a_required_microphone_that_cannot_be_opened_refuses_the_lesson(
    picamera2_stubbed: Any, system_alsa: np.ndarray, tmp_path: Path
) -> None:
    before = lesson_threads()
    recorder, fakes, _ = recorder_for(
        picamera2_stubbed, tmp_path, AlsaMicrophone("no_such_pcm", RATE, 1), sound_required=True
    )
    with pytest.raises(MicrophoneUnavailable, match=r"'no_such_pcm'.*required = true"):
        await recorder.start()
    assert fakes[0].calls == []  # tried before any camera was touched
    assert lesson_threads() <= before
    record = json.loads((recorder.dir / "recording.json").read_text())
    assert record["closed"]["interrupted"] and record["closed"]["segments"] == {"main": 0}
    assert await recorder.stop() == {"main": 0}


class GoneMicrophone:
    """A microphone that answered the check, then was gone when picamera2 opened it."""

    def check(self) -> None:
        pass

    def av_input(self) -> dict[str, Any]:
        return AlsaMicrophone("no_such_pcm", RATE, 1).av_input()


async def test_a_microphone_gone_at_the_start_closes_every_camera_and_thread(
    picamera2_stubbed: Any, system_alsa: np.ndarray, tmp_path: Path
) -> None:
    """picamera2's encoder fails to open the microphone after the splitter thread started:
    the camera is closed, the (non-daemon) splitter thread ends, the cause is the microphone."""
    before = lesson_threads()
    recorder, fakes, _ = recorder_for(picamera2_stubbed, tmp_path, GoneMicrophone())
    with pytest.raises(MicrophoneUnavailable, match="'no_such_pcm'"):
        await recorder.start()
    assert fakes[0].calls == ["configure", "stop", "close"]
    assert lesson_threads() <= before
    assert not list(recorder.dir.glob("*/*.ts"))


async def test_a_second_camera_that_fails_stops_the_first(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    before = lesson_threads()
    recorder, fakes, _ = recorder_for(picamera2_stubbed, tmp_path, None, second_camera=True)

    def busy(config: dict[str, Any]) -> None:
        raise RuntimeError("Failed to acquire camera: Device or resource busy")

    fakes[1].configure = busy  # type: ignore[method-assign]
    with pytest.raises(RecorderError, match=r"Pi camera 1 \(\[cameras.pupils\]\).*busy"):
        await recorder.start()
    assert fakes[0].calls == [
        "configure",
        "start_encoder",
        "start",
        "stop_encoder",
        "stop",
        "close",
    ]
    assert lesson_threads() <= before
    assert await recorder.stop() == {"main": 0, "pupils": 0}


@pytest.mark.slow
async def test_the_fleet_view_names_the_microphone_and_the_next_press_records(
    picamera2_stubbed: Any,
    system_alsa: np.ndarray,
    credentials: Credentials,
    services: Services,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Pi unit whose microphone is missing: with ``[audio] required = true`` the press is
    refused and the fleet view and the log name the microphone; without, the next press
    records the lesson without sound and says so."""
    config = parse_config(
        {
            "unit": {"state_dir": str(tmp_path / "unit")},
            "cameras": {"main": {"source": "picamera2", "width": W, "height": H}},
            "audio": {"source": "alsa", "device": "no_such_pcm", "required": True},
            "recording": {"storage_reserve_mib": 64},
            "uploads": {"heartbeat_s": 5},
        }
    )
    clock, fakes, _ = rig(picamera2_stubbed)
    stepped = SteppedClock(monotonic_s=clock.monotonic())

    def pi_sources(config: DeviceConfig, plan: RecordingPlan, clock: Clock) -> Sources:
        sources = sources_for(config, plan, clock)
        assert isinstance(sources, PiCameras)
        return replace(sources, picamera2_factory=lambda num: fakes[num])

    daemon = Daemon(config, stepped, pi_sources, credentials, use_pins=False)
    async with running(daemon):
        daemon.post(Event.SHORT_PRESS)
        await until(lambda: daemon.status.state is State.ERROR, stepped)
        assert daemon.status.reason == MICROPHONE_DID_NOT_START
        assert "'no_such_pcm'" in (daemon.last_error or "")
        assert any(
            r.levelname == "ERROR" and "'no_such_pcm'" in r.getMessage() for r in caplog.records
        )

        def fleet_error() -> str:
            row = services.db.execute("SELECT last_error FROM units").fetchone()
            return str(row[0])

        await until(lambda: "'no_such_pcm'" in fleet_error(), stepped)
        assert fleet_error().startswith("the microphone did not start")
        assert fakes[0].calls == []  # no camera was left open

        daemon.config = config.model_copy(
            update={"audio": config.audio.model_copy(update={"required": False})}
        )
        daemon.post(Event.SHORT_PRESS)  # the next press records, without sound
        await until(lambda: daemon.status.state is State.RECORDING, stepped)
        await until(lambda: "recording without sound" in fleet_error(), stepped)
        daemon.post(Event.LONG_PRESS)
        await until(lambda: daemon.status.state is State.IDLE, stepped)
        assert fakes[0].calls[-3:] == ["stop_encoder", "stop", "close"]
