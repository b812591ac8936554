"""The picamera2 adapter, driven through picamera2's real encoder and outputs off a Pi.

The stand-in Pi (stubbed libcamera, a fake ``Picamera2`` with simulated frames) is in
``picamera2_fakes.py``. The segment files are real.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from lessoncam_device.config import parse_config
from lessoncam_device.hardware import MixedCameras, PiCameras, camera_specs, sources_for
from lessoncam_device.pictures import as_bgr, as_luma
from lessoncam_device.real.v4l2_camera import V4L2Camera
from lessoncam_device.recorder import RecorderError
from lessoncam_device.recorder.picamera2_adapter import Picamera2Recorder, Picamera2Settings
from lessoncam_device.segments import RecordingPlan, SegmentInfo
from lessoncam_device.sim.clock import SteppedClock

from .picamera2_fakes import FPS, H, PacedMicrophone, W, picamera2_stubbed, rig
from .recorder_helpers import av_offsets, demux_video_pts, make_plan

SEGMENT_S = 3.0

__all__ = ["picamera2_stubbed"]  # the fixture


@pytest.mark.slow
async def test_picamera2_pipeline_writes_split_segments_on_one_timeline(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    clock, fakes, pcm = rig(picamera2_stubbed)
    plan = make_plan(clock, [("main", W, H, FPS), ("pupils", W, H, FPS)], SEGMENT_S)
    got: list[SegmentInfo] = []
    recorder = Picamera2Recorder(
        plan,
        tmp_path,
        [
            Picamera2Settings(0, (W, H), FPS, (160, 120), encoder="libav"),
            Picamera2Settings(1, (W, H), FPS, None, encoder="libav"),
        ],
        clock,
        on_segment=got.append,
        picamera2_factory=lambda num: fakes[num],
        microphone=PacedMicrophone(pcm),
        stamp_to_monotonic=lambda s: pcm.mic.start_pts_s + s,
    )
    await recorder.start()
    assert [f.calls for f in fakes.values()] == [["configure", "start_encoder", "start"]] * 2

    def run_cameras(frames: int) -> None:
        for i in range(frames):
            for fake in fakes.values():
                fake.deliver(i)
            pcm.video_at(fakes[0].camera.pts_of(i))

    await asyncio.to_thread(run_cameras, round(8 * FPS))  # 8 s: segments of 3, 3 and 2 s
    snapshot = recorder.latest_frame()  # the main camera's lores stream, as I420 planes
    assert snapshot is not None and snapshot.shape == (120 * 3 // 2, 160)
    assert as_bgr(snapshot).shape == (120, 160, 3) and as_luma(snapshot).shape == (120, 160)
    counts = await recorder.stop()

    assert counts == {"main": 3, "pupils": 3}
    assert fakes[0].calls[-3:] == ["stop_encoder", "stop", "close"]
    assert fakes[0].config["main"]["size"] == (W, H)
    assert fakes[0].config["lores"] == {"size": (160, 120), "format": "YUV420"}
    assert fakes[0].config["controls"] == {"FrameRate": FPS}
    stats = recorder.stats()
    for cam in stats.cameras.values():
        assert (cam.frames, cam.dropped, cam.segments) == (240, 0, 3)
        assert cam.seconds == pytest.approx(8.0) and 0 < cam.max_sync_gap_s <= 2.0
    assert stats.audio is not None and stats.audio.first_sample_s == pytest.approx(0.5)
    rec_dir = tmp_path / "recordings" / plan.recording_id
    closed = json.loads((rec_dir / "recording.json").read_text())["closed"]
    assert closed["segments"] == counts and closed["interrupted"] is False
    for camera in ("main", "pupils"):
        segs = sorted((s for s in got if s.camera == camera), key=lambda s: s.sequence)
        assert [s.sequence for s in segs] == [0, 1, 2]
        assert not list((rec_dir / camera).glob("*.partial"))
        # Cut at keyframes on one continuous timeline, ~3 s each.
        assert segs[0].start_s == pytest.approx(0.5, abs=1e-3)
        for a, b in itertools.pairwise(segs):
            assert b.start_s == pytest.approx(a.start_s + a.duration_s, abs=1e-6)
            assert a.duration_s == pytest.approx(SEGMENT_S, abs=0.5)
        tails = [demux_video_pts(s.path) for s in segs]
        for prev, nxt in itertools.pairwise(tails):
            assert nxt.keyframe_first
            assert nxt.first == prev.last + 3000  # 90 kHz: one frame later
        with av.open(str(segs[0].path)) as c:
            assert len(c.streams.audio) == (1 if camera == "main" else 0)
    # Picture and sound together: every flash has its beep within a frame.
    main = [s.path for s in sorted(got, key=lambda s: s.sequence) if s.camera == "main"]
    offsets = av_offsets(main)
    assert len(offsets) == 7  # a flash a second from 1 s after the first frame
    assert max(abs(o) for o in offsets) < 1 / FPS, offsets


async def test_the_tracker_gets_a_stream_big_enough_for_the_marker(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    """Issue 12, defect 4: the main camera's low-resolution stream is sized from [tracking]
    (a 20 cm marker at 7.4 m needs 1154 px, not the old 640x360); the second camera gets none."""
    config = parse_config(
        {
            "cameras": {
                "main": {"source": "picamera2", "device": "0"},
                "pupils": {"source": "picamera2", "device": "1"},
            },
            "audio": {"source": "none"},
            "tracking": {"room_depth_m": 7.4},
        }
    )
    clock, fakes, _ = rig(picamera2_stubbed)
    plan = RecordingPlan(
        recording_id="01JTESTTESTTESTTESTTESTTES",
        started_at_iso=clock.now().isoformat(),
        cameras=camera_specs(config),
        audio_camera=None,
        segment_seconds=10.0,
        software_version="test",
    )
    pi = sources_for(config, plan, clock)
    assert isinstance(pi, PiCameras)
    pi = replace(pi, picamera2_factory=lambda num: fakes[num])
    capture = pi.capture(plan, tmp_path, clock, lambda _info: None)
    await capture.recorder.start()
    try:
        assert fakes[0].config["main"]["size"] == (1920, 1080)
        assert fakes[0].config["lores"] == {"size": (1216, 684), "format": "YUV420"}
        assert fakes[1].config["lores"] is None
        assert capture.frames is not None
        assert (capture.frames.geometry.width, capture.frames.geometry.height) == (1216, 684)
        seen = capture.frames.latest()
        assert seen is not None and seen[1].shape == (684, 1216)
    finally:
        await capture.recorder.stop()


async def test_libx264_takes_the_configured_preset_and_bitrate(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    clock, fakes, _ = rig(picamera2_stubbed)
    plan = make_plan(clock, [("main", W, H, FPS)], SEGMENT_S, audio_camera=None)
    settings = Picamera2Settings(
        0, (W, H), FPS, None, encoder="libav", bitrate=2_000_000, preset="superfast"
    )
    recorder = Picamera2Recorder(
        plan, tmp_path, [settings], clock, picamera2_factory=lambda num: fakes[num]
    )
    await recorder.start()
    try:
        context = fakes[0].encoder._stream.codec_context
        assert context.options["preset"] == "superfast" and context.bit_rate == 2_000_000
    finally:
        await recorder.stop()


async def test_asking_for_a_hardware_encoder_that_is_not_there_says_the_key(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    clock, fakes, _ = rig(picamera2_stubbed)  # an x86 machine: no /dev/video11
    plan = make_plan(clock, [("main", W, H, FPS)], SEGMENT_S, audio_camera=None)
    settings = Picamera2Settings(0, (W, H), FPS, None, encoder="hardware")
    recorder = Picamera2Recorder(
        plan, tmp_path, [settings], clock, picamera2_factory=lambda num: fakes[num]
    )
    with pytest.raises(RecorderError, match=r'set \[video\] encoder = "libx264"'):
        await recorder.start()
    assert fakes[0].calls == ["configure", "stop", "close"]


class PacedWebcam:
    """What ``cv2.VideoCapture`` gives the webcam adapter: frames the test hands over."""

    def __init__(self) -> None:
        self.frames: queue.Queue[np.ndarray | None] = queue.Queue()

    def isOpened(self) -> bool:
        return True

    def set(self, _prop: int, _value: float) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        image = self.frames.get()
        return image is not None, image

    def release(self) -> None:
        self.frames.put(None)


async def test_a_pi_camera_and_a_usb_webcam_record_one_lesson(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    """Issue 12, part 2: a Pi 4's second camera is a USB webcam. The Pi camera through
    picamera2, the webcam through PyAV, one recording on one timeline."""
    _, fakes, _ = rig(picamera2_stubbed)
    clock = SteppedClock(monotonic_s=1234.0)
    plan = make_plan(clock, [("main", W, H, FPS), ("pupils", W, H, 15.0)], SEGMENT_S, None)
    config = parse_config({"cameras": {"pupils": {"source": "v4l2"}}})
    webcam = PacedWebcam()
    mixed = MixedCameras(
        PiCameras(
            [Picamera2Settings(0, (W, H), FPS, (160, 120), encoder="libav")],
            None,
            0.0,
            picamera2_factory=lambda num: fakes[num],
            camera_ids=["main"],
        ),
        [V4L2Camera("usb", W, H, 15.0, opener=lambda _device: webcam)],
        ["pupils"],
        None,
        config.cameras["main"],
        config.tracking,
    )
    got: list[SegmentInfo] = []
    capture = mixed.capture(plan, tmp_path, clock, got.append)
    recorder = capture.recorder
    await recorder.start()
    picture = np.full((H, W, 3), 90, np.uint8)
    for i in range(round(8 * FPS)):  # 8 s: the Pi camera at 30 fps, the webcam at 15
        clock.advance(fakes[0].camera.pts_of(i) - clock.monotonic())
        await asyncio.to_thread(fakes[0].deliver, i)
        if i % 2 == 0:
            webcam.frames.put(picture)
        await asyncio.sleep(0)
    stopping = asyncio.create_task(recorder.stop())
    while not stopping.done():  # the webcam goes on until the stop time has passed
        clock.advance(1 / 15)
        webcam.frames.put(picture)
        await asyncio.sleep(0.02)
    counts = await stopping

    assert counts["main"] == 3 and counts["pupils"] >= 2
    closed = json.loads((recorder.dir / "recording.json").read_text())["closed"]
    assert closed["segments"] == counts and not closed["interrupted"]
    stats = recorder.stats()
    assert stats.errors == [] and stats.cameras["main"].frames == 240
    assert stats.cameras["pupils"].frames >= 110  # 15 fps for ~8 s
    firsts = {cam: min(s.start_s for s in got if s.camera == cam) for cam in ("main", "pupils")}
    assert firsts["main"] == pytest.approx(0.5, abs=1e-3)
    assert firsts["pupils"] == pytest.approx(0.5, abs=0.2)  # one timeline for both
    assert capture.frames is not None and capture.frames.latest() is not None
