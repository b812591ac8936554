"""The real capture sources (webcam, ALSA microphone) and how the config picks sources.

No webcam or sound card here: the webcam adapter reads a synthetic video file through the
same ``cv2.VideoCapture`` interface, and the microphone adapter reads a synthetic beep through
real ALSA (alsa-lib's ``file`` plugin feeding a capture PCM, see ``alsa_helpers.py``).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from lessoncam_device import cli
from lessoncam_device.config import parse_config
from lessoncam_device.hardware import (
    MixedCameras,
    PiCameras,
    Webcams,
    camera_specs,
    sources_for,
)
from lessoncam_device.pictures import as_bgr, as_luma
from lessoncam_device.real.alsa_microphone import AlsaMicrophone
from lessoncam_device.real.v4l2_camera import CameraLost, V4L2Camera
from lessoncam_device.recorder import MicrophoneUnavailable, Recorder
from lessoncam_device.recorder.mixed import MixedRecorder
from lessoncam_device.recorder.picamera2_adapter import Picamera2Recorder
from lessoncam_device.segments import RecordingPlan
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.frames import SimulatedFrames
from lessoncam_device.sim.sources import SimulatedSources
from lessoncam_device.sources import HardwareUnavailable
from lessoncam_device.tracking.frames import RecorderFrames

from .alsa_helpers import RATE, TEST_PCM, alsa_user_config, system_alsa

__all__ = ["alsa_user_config", "system_alsa"]  # the fixtures


def synthetic_video(path: Path, frames: int, size: tuple[int, int] = (320, 240)) -> Path:
    """A short H.264 file whose frame ``i`` is a flat grey of level ``8 * i``."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for i in range(frames):
            image = np.full((size[1], size[0], 3), 8 * i, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


async def test_webcam_frames_arrive_in_order_then_loss_is_reported(tmp_path: Path) -> None:
    video = synthetic_video(tmp_path / "cam.mp4", 20)
    camera = V4L2Camera(
        "0", 320, 240, 15.0, opener=lambda _device: cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    )
    clock = VirtualClock()
    got: list[tuple[float, Any]] = []
    with pytest.raises(CameraLost, match="after 20"):
        async for pts, image in camera.stream(clock):
            got.append((pts, image))
    assert len(got) == 20
    assert [img.shape for _, img in got] == [(240, 320, 3)] * 20
    levels = [int(img.mean()) for _, img in got]
    assert levels == sorted(levels) and levels[-1] > levels[0] + 100  # every frame, in order
    assert all(b >= a for (a, _), (b, _) in itertools.pairwise(got))


async def test_a_missing_webcam_says_which_device() -> None:
    camera = V4L2Camera("/dev/video97", 640, 480, 30.0)
    with pytest.raises(CameraLost, match="/dev/video97"):
        async for _ in camera.stream(VirtualClock()):
            pass


@pytest.mark.slow
async def test_alsa_microphone_delivers_the_devices_samples_in_equal_chunks(
    system_alsa: np.ndarray,
) -> None:
    mic = AlsaMicrophone(TEST_PCM, RATE, 1)
    chunks = []
    stream = mic.stream(VirtualClock(), 1024)
    async for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == 16:
            break
    await stream.aclose()
    assert all(c.samples.shape == (1024, 1) and c.samples.dtype == np.int16 for c in chunks)
    heard = np.concatenate([c.samples[:, 0] for c in chunks])
    assert np.array_equal(heard, system_alsa[: len(heard)])  # bit for bit through ALSA
    # Stamped by ALSA on the wall clock, in order (this test device is not paced, so the
    # stamps are as far apart as the reads were, not one chunk's length).
    stamps = [c.wall_s for c in chunks]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time()) < 10


async def test_a_missing_microphone_says_which_device(system_alsa: np.ndarray) -> None:
    mic = AlsaMicrophone("no_such_pcm", RATE, 1)
    with pytest.raises(MicrophoneUnavailable, match="no_such_pcm"):
        async for _ in mic.stream(VirtualClock(), 1024):
            pass


def plan_for(config: Any) -> RecordingPlan:
    return RecordingPlan(
        recording_id="01JTESTTESTTESTTESTTESTTES",
        started_at_iso="2026-11-25T09:00:00+00:00",
        cameras=camera_specs(config),
        audio_camera="main",
        segment_seconds=10.0,
        software_version="test",
    )


def test_webcams_and_alsa_are_streaming_sources(tmp_path: Path) -> None:
    config = parse_config(
        {
            "cameras": {
                "main": {"source": "v4l2", "device": "/dev/video0"},
                "pupils": {"source": "v4l2", "device": "2", "width": 640, "height": 480},
            },
            "audio": {"source": "alsa", "device": "hw:1,0"},
        }
    )
    plan = plan_for(config)
    sources = sources_for(config, plan, VirtualClock())
    assert isinstance(sources, Webcams)
    main, pupils = sources.cameras
    assert isinstance(main, V4L2Camera) and main.device == "/dev/video0"
    assert isinstance(pupils, V4L2Camera) and (pupils.width, pupils.height) == (640, 480)
    assert isinstance(sources.microphone, AlsaMicrophone)
    assert sources.microphone.device == "hw:1,0"
    capture = sources.capture(plan, tmp_path, VirtualClock(), lambda _info: None)
    assert isinstance(capture.recorder, Recorder)
    assert capture.recorder.options.mode == "stream"  # real time: they cannot be pulled
    # The tracker watches the recorder's newest main picture, at the main camera's size.
    assert isinstance(capture.frames, RecorderFrames)
    assert capture.frames.recorder is capture.recorder
    assert (capture.frames.geometry.width, capture.frames.geometry.height) == (1920, 1080)


def test_pi_cameras_record_through_picamera2(tmp_path: Path) -> None:
    config = parse_config(
        {
            "cameras": {
                "main": {"source": "picamera2", "device": "0"},
                "pupils": {"source": "picamera2", "device": "1", "fps": 25},
            },
            "audio": {"source": "alsa", "device": "hw:2,0", "offset_ms": -40},
        }
    )
    plan = plan_for(config)
    pi = sources_for(config, plan, VirtualClock())
    assert isinstance(pi, PiCameras)
    assert [s.camera_num for s in pi.settings] == [0, 1]
    assert pi.settings[1].fps == 25.0 and pi.settings[0].size == (1920, 1080)
    assert isinstance(pi.microphone, AlsaMicrophone) and pi.microphone.device == "hw:2,0"
    assert pi.microphone.av_input() == {
        "file": "hw:2,0",
        "format": "alsa",
        "options": {"sample_rate": "48000", "channels": "1"},
    }
    capture = pi.capture(plan, tmp_path, VirtualClock(), lambda _info: None)
    assert isinstance(capture.recorder, Picamera2Recorder)
    assert capture.recorder.audio_sync.offset_s == pytest.approx(-0.040)
    # The tracker watches the main camera's low-resolution stream, sized for the marker
    # (20 cm at the default 8 m room depth: 1280x720; see test_detection_stream.py).
    assert isinstance(capture.frames, RecorderFrames)
    assert capture.frames.recorder is capture.recorder
    assert (capture.frames.geometry.width, capture.frames.geometry.height) == (1280, 720)


def test_a_pi_camera_and_a_webcam_record_one_lesson(tmp_path: Path) -> None:
    """A Pi 4 has one camera connector: its second camera is a USB webcam."""
    config = parse_config(
        {
            "cameras": {
                "main": {"source": "picamera2", "device": "0"},
                "pupils": {"source": "v4l2", "device": "/dev/video0", "width": 1280},
            },
            "audio": {"source": "alsa", "device": "hw:1,0"},
        }
    )
    plan = plan_for(config)
    mixed = sources_for(config, plan, VirtualClock())
    assert isinstance(mixed, MixedCameras)
    assert mixed.pi.camera_ids == ["main"] and mixed.webcam_ids == ["pupils"]
    capture = mixed.capture(plan, tmp_path, VirtualClock(), lambda _info: None)
    recorder = capture.recorder
    assert isinstance(recorder, MixedRecorder)
    pi_part, webcam_part = recorder.parts
    assert isinstance(pi_part, Picamera2Recorder) and pi_part.camera_ids == ["main"]
    assert isinstance(pi_part.microphone, AlsaMicrophone)  # the sound goes with main
    assert isinstance(webcam_part, Recorder) and webcam_part.camera_ids == ["pupils"]
    assert webcam_part.microphone is None and webcam_part.options.mode == "stream"
    assert webcam_part.options.x264_preset == "ultrafast"  # [video] x264_preset: the Pi's CPU
    assert isinstance(capture.frames, RecorderFrames)
    assert (capture.frames.geometry.width, capture.frames.geometry.height) == (1280, 720)


@pytest.mark.parametrize(
    ("cameras", "audio", "complaint"),
    [
        ({"main": {"source": "picamera2"}, "b": {"source": "simulated"}}, "none", "cameras.b"),
        ({"main": {"source": "picamera2", "device": "/dev/video0"}}, "none", "by its number"),
        ({"main": {"source": "v4l2"}}, "simulated", "needs simulated cameras"),
        ({"main": {"source": "simulated"}}, "alsa", "needs real cameras"),
    ],
)
def test_impossible_combinations_are_refused_clearly(
    cameras: dict[str, Any], audio: str, complaint: str
) -> None:
    config = parse_config({"cameras": cameras, "audio": {"source": audio}})
    with pytest.raises(HardwareUnavailable, match=complaint):
        sources_for(config, plan_for(config), VirtualClock())


def test_simulated_cameras_come_from_the_simulator_the_cli_hands_in(tmp_path: Path) -> None:
    config = parse_config({"cameras": {"main": {"source": "simulated"}}})
    plan, clock = plan_for(config), VirtualClock()
    with pytest.raises(HardwareUnavailable, match="need the simulator"):
        sources_for(config, plan, clock)  # production code alone knows no simulated camera
    sources = cli.unit_sources(config, plan, clock)
    assert isinstance(sources, SimulatedSources)
    capture = sources.capture(plan, tmp_path, clock, lambda _info: None)
    assert isinstance(capture.recorder, Recorder)
    assert capture.recorder.options.mode == "pull"  # pulled up to the clock's now
    assert isinstance(capture.frames, SimulatedFrames)
    assert capture.frames.camera is sources.cameras[0]  # the tracker watches the main camera


def test_the_tracker_sees_the_recorders_newest_frame_as_luma() -> None:
    class Recording:
        def __init__(self) -> None:
            self.frame: np.ndarray | None = None

        def latest_frame(self) -> np.ndarray | None:
            return self.frame

    recording, clock = Recording(), VirtualClock()
    frames = RecorderFrames(recording, clock, 320, 180, 66.0)
    assert frames.latest() is None  # nothing recorded yet
    recording.frame = np.zeros((360, 640, 3), np.uint8)
    recording.frame[:, 320:] = 255  # right half white
    taken, gray = frames.latest() or (0.0, np.zeros(0))
    assert taken == clock.monotonic() and gray.shape == (180, 320) and gray.dtype == np.uint8
    assert gray[:, :150].max() == 0 and gray[:, 170:].min() == 255
    # A Pi camera's I420 picture: its own luma rows, no conversion through BGR.
    i420 = np.zeros((360 * 3 // 2, 640), np.uint8)
    i420[:360, 320:] = 200
    i420[360:] = 128  # grey chroma
    recording.frame = i420
    taken, gray = frames.latest() or (0.0, np.zeros(0))
    assert gray.shape == (180, 320) and gray[:, :150].max() == 0 and gray[:, 170:].min() == 200


def test_luma_is_the_y_plane_of_an_i420_picture_and_grey_of_a_bgr_one() -> None:
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    i420 = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), np.uint8)
    luma = as_luma(i420)
    assert luma.shape == (48, 64) and np.shares_memory(luma, i420)  # a view: nothing converted
    # The Y plane is OpenCV's grey in video range (16-235; BT.601 weights), within rounding:
    # the same picture for the marker detector, whose thresholds adapt to the contrast.
    video_range = 16 + as_luma(bgr).astype(float) * 219 / 255
    assert np.abs(luma.astype(float) - video_range).max() <= 2
    assert as_bgr(bgr) is bgr and as_bgr(i420).shape == (48, 64, 3)
    with pytest.raises(ValueError, match="I420"):
        as_luma(np.zeros((49, 64), np.uint8))
