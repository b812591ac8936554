"""The picamera2 adapter, driven through picamera2's real encoder and outputs off a Pi.

picamera2 0.3.38 from PyPI, installed without its dependencies (nothing is built from C),
imports on x86 once its Pi-only and C-built modules (libcamera, prctl, ...) are stubbed in
``sys.modules``; the stubs (and every picamera2 module imported under them)
are removed again after each test. A fake ``Picamera2`` hands frames of the simulated camera
to the adapter's real ``LibavH264Encoder`` as the camera thread would, and the simulated
microphone comes in as raw PCM through the encoder's own audio input (``av.open``), paced by
the video as ALSA would be in real time. The segment files are real.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import av
import cv2
import numpy as np
import pytest

from lessoncam_device.recorder import picamera2_adapter
from lessoncam_device.recorder.picamera2_adapter import Picamera2Recorder, Picamera2Settings
from lessoncam_device.segments import SegmentInfo
from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.microphone import MicrophoneConfig, SimulatedMicrophone

from .recorder_helpers import av_offsets, demux_video_pts, make_plan
from .sim_helpers import shared_scene

# What picamera2 imports that only exists on Raspberry Pi OS or is built from C (never installed).
PI_ONLY = (
    "libcamera",
    "prctl",
    "simplejpeg",
    "piexif",
    "pidng",
    "pidng.core",
    "pidng.camdefs",
    "libarchive",
    "OpenEXR",
    "pykms",
    "kms",
)
W, H, FPS = 320, 240, 30.0
SEGMENT_S = 3.0


@pytest.fixture
def picamera2_stubbed() -> Iterator[Any]:
    """picamera2 importable with its Pi-only modules stubbed; everything undone afterwards."""
    if importlib.util.find_spec("picamera2") is None:
        pytest.skip("picamera2 is not installed (see tests/picamera2-requirements.txt)")
    stubs = {name: mock.MagicMock(name=name) for name in PI_ONLY}
    with mock.patch.dict(sys.modules, stubs):
        picamera2_adapter._picamera2.cache_clear()
        # Installed but not importable is a broken set-up (a new dependency to stub), not a skip.
        importlib.import_module("picamera2.encoders")
        yield stubs["libcamera"]
    picamera2_adapter._picamera2.cache_clear()
    assert "picamera2" not in sys.modules and "libcamera" not in sys.modules


class _Buffer:
    """What picamera2's allocator ``sync`` gives ``MappedArray``: the frame's memory."""

    def __init__(self, allocator: Any, fb: np.ndarray, write: bool) -> None:
        self.fb = fb

    def __enter__(self) -> np.ndarray:
        return self.fb

    def __exit__(self, *exc: object) -> None:
        pass


class FakeRequest:
    """A completed request as the encoder reads it: buffers, metadata, acquire/release."""

    def __init__(self, picam2: FakePicamera2, buffer: np.ndarray, sensor_ns: int) -> None:
        self.picam2 = picam2
        self.config = picam2.config
        self.stream_map = {"main": "main-stream"}
        timestamp = picam2.libcamera.controls.SensorTimestamp
        self.request = SimpleNamespace(
            buffers={"main-stream": buffer}, metadata={timestamp: sensor_ns}
        )

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass

    def get_metadata(self) -> dict[str, Any]:
        return {}


class FakePicamera2:
    """Just enough of ``Picamera2`` for the adapter: configure, start_encoder, frames, stop."""

    def __init__(self, camera: SimulatedCamera, libcamera: Any, before_stop: Any = None) -> None:
        from picamera2.request import Helpers

        self.camera = camera
        self.libcamera = libcamera
        self.helpers = Helpers(self)
        self.allocator = SimpleNamespace(sync=_Buffer)
        self.before_stop = before_stop
        self.config: dict[str, Any] = {}
        self.encoder: Any = None
        self.calls: list[str] = []
        self.delivered = 0

    def create_video_configuration(
        self, main: dict[str, Any], lores: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        config = {"main": dict(main), "lores": dict(lores) if lores else None, "encode": "main"}
        config.update(kw)
        return config

    def configure(self, config: dict[str, Any]) -> None:
        assert config["main"]["format"] == "YUV420"
        assert config["lores"] is None or config["lores"]["format"] == "YUV420"
        self.config = {
            "main": {**config["main"], "stride": config["main"]["size"][0]},
            "lores": config["lores"],
            "controls": config["controls"],
        }
        self.calls.append("configure")

    def start_encoder(self, encoder: Any, output: Any, name: str = "main") -> None:
        # What Picamera2.start_encoder does with a configured main stream.
        encoder.output = output
        encoder.name = name
        encoder.width, encoder.height = self.config[name]["size"]
        encoder.format = self.config[name]["format"]
        encoder.stride = self.config[name]["stride"]
        encoder.start()
        self.encoder = encoder
        self.calls.append("start_encoder")

    def start(self) -> None:
        self.calls.append("start")

    def deliver(self, index: int) -> None:
        """The camera thread: frame ``index`` of the simulated camera to the encoder."""
        self.delivered = index
        pts, i420 = self.camera.i420_at(index)
        self.encoder.encode("main", FakeRequest(self, i420.reshape(-1), round(pts * 1e9)))

    def capture_array(self, name: str = "main") -> np.ndarray:
        """The latest picture of stream ``name`` as YUV420 planes (what picamera2 returns)."""
        width, height = self.config[name]["size"]
        _, bgr = self.camera.frame_at(self.delivered)
        small = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2YUV_I420))

    def stop_encoder(self, encoder: Any) -> None:
        if self.before_stop is not None:
            self.before_stop()
        encoder.stop()
        self.calls.append("stop_encoder")

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


class PacedPcm:
    """The simulated microphone as a raw s16le byte stream for ``av.open``: a read returns
    only samples captured by the time of the latest video frame (as ALSA would in real time)
    and blocks until the camera gets further, or the stream is closed."""

    LEAD_S = 0.1

    def __init__(self, mic: SimulatedMicrophone) -> None:
        self.mic = mic
        self.video_pts = mic.start_pts_s
        self.cond = threading.Condition()
        self.closed = False
        self.sample = 0
        self.pending = b""

    def video_at(self, pts: float) -> None:
        with self.cond:
            self.video_pts = pts
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        chunk = 1024
        with self.cond:
            while not self.pending:
                ready = self.mic.sample_pts(self.sample + chunk) <= self.video_pts + self.LEAD_S
                if ready:
                    samples = self.mic.chunk_at(self.sample // chunk, chunk).samples
                    self.pending = samples.astype("<i2").tobytes()
                    self.sample += chunk
                elif self.closed:
                    return b""
                else:
                    self.cond.wait()
            n = len(self.pending) if size < 0 else min(size, len(self.pending))
            out, self.pending = self.pending[:n], self.pending[n:]
            return out


def _rig(libcamera: Any) -> tuple[VirtualClock, dict[int, FakePicamera2], PacedPcm]:
    clock = VirtualClock(monotonic_s=1234.0)
    config = CameraConfig(width=W, height=H, fps=FPS, start_pts_s=1234.5, flash_every_s=1.0)
    main = SimulatedCamera(shared_scene(), None, config)
    second = SimulatedCamera(shared_scene(), None, CameraConfig(width=W, height=H, pan_deg=-30))
    mic = SimulatedMicrophone(MicrophoneConfig(), main.flashes, clock.time() - clock.monotonic())
    pcm = PacedPcm(mic)
    fakes = {0: FakePicamera2(main, libcamera, pcm.close), 1: FakePicamera2(second, libcamera)}
    return clock, fakes, pcm


@pytest.mark.slow
async def test_picamera2_pipeline_writes_split_segments_on_one_timeline(
    picamera2_stubbed: Any, tmp_path: Path
) -> None:
    clock, fakes, pcm = _rig(picamera2_stubbed)
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
        audio_input={
            "file": pcm,
            "format": "s16le",
            "options": {"sample_rate": "48000", "ch_layout": "mono"},
        },
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
    snapshot = recorder.latest_frame()  # from the main camera's lores stream, for aiming
    assert snapshot is not None and snapshot.shape == (120, 160, 3)
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
