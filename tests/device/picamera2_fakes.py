"""A stand-in Raspberry Pi for the picamera2 adapter: picamera2's real code, a fake camera.

picamera2 from PyPI (0.3.38 here; 0.3.30, for Bookworm's 0.3.29, in the arm64 rehearsal),
installed without its dependencies (nothing is built from C), imports off a Pi once its
Pi-only and C-built modules (libcamera, prctl, ...) are stubbed in ``sys.modules``; the stubs
(and every picamera2 module imported under them) are removed again after each test. A fake
``Picamera2`` hands frames of the simulated camera to the adapter's real ``LibavH264Encoder``
as the camera thread would, and the simulated microphone comes in as raw PCM through the
encoder's own audio input (``av.open``), paced by the video as ALSA would be in real time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import av
import cv2
import numpy as np
import pytest

from lessoncam_device.recorder import picamera2_adapter
from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.microphone import MicrophoneConfig, SimulatedMicrophone

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


@pytest.fixture
def picamera2_stubbed() -> Iterator[Any]:
    """picamera2 importable with its Pi-only modules stubbed; everything undone afterwards."""
    if importlib.util.find_spec("picamera2") is None:
        pytest.skip("picamera2 is not installed (see tests/picamera2-requirements.txt)")
    stubs = {name: mock.MagicMock(name=name) for name in PI_ONLY}
    with mock.patch.dict(sys.modules, stubs), contextlib.ExitStack() as stack:
        picamera2_adapter._picamera2.cache_clear()
        # Installed but not importable is a broken set-up (a new dependency to stub), not a skip.
        importlib.import_module("picamera2.encoders")
        if int(av.__version__.split(".")[0]) < 14:
            encoder = importlib.import_module("picamera2.encoders.libav_h264_encoder")
            stack.enter_context(mock.patch.object(encoder, "av", PiOsPyAV()))
        yield stubs["libcamera"]
    picamera2_adapter._picamera2.cache_clear()
    assert "picamera2" not in sys.modules and "libcamera" not in sys.modules


class _PiOsVideoFrame:
    """``av.VideoFrame`` as Raspberry Pi OS Bookworm's python3-av 12.3 has it.

    Raspberry Pi's build carries their ``from_numpy_buffer(..., width=)`` (for rows padded to
    the ISP's alignment; upstream only from PyAV 14), which every picamera2 since 0.3.24
    calls. PyPI's 12.3 (the arm64 rehearsal's) lacks the keyword. Standing in for the patch
    is exact only for rows without padding, which is what the fake camera delivers (its
    stride is its width); padded rows are refused rather than guessed at.
    """

    @staticmethod
    def from_numpy_buffer(array: np.ndarray, format: str = "rgb24", width: int = 0) -> Any:
        if width and array.ndim >= 2 and array.shape[1] != width:
            raise ValueError(
                f"rows of {array.shape[1]} for width {width}: padded rows need "
                "Raspberry Pi's PyAV, not PyPI's 12.3"
            )
        return av.VideoFrame.from_numpy_buffer(array, format=format)


class PiOsPyAV(types.ModuleType):
    """PyPI's PyAV, with the ``VideoFrame.from_numpy_buffer`` of Raspberry Pi OS's 12.3."""

    VideoFrame = _PiOsVideoFrame

    def __init__(self) -> None:
        super().__init__("av")

    def __getattr__(self, name: str) -> Any:
        return getattr(av, name)


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


class PacedMicrophone:
    """The simulated microphone as picamera2's encoder opens it: raw PCM through ``av.open``."""

    def __init__(self, pcm: PacedPcm) -> None:
        self.pcm = pcm

    def check(self) -> None:
        pass

    def av_input(self) -> dict[str, Any]:
        # PyAV 12.3 (Bookworm's) probes 128 KiB of a raw input when it opens it, PyAV 14 and
        # later nothing; paced by video that has not started yet, that would wait forever.
        # A small probe and buffer keep the opening read within the stream's lead.
        return {
            "file": self.pcm,
            "format": "s16le",
            "options": {"sample_rate": "48000", "ch_layout": "mono", "probesize": "32"},
            "buffer_size": 2048,
        }


def rig(libcamera: Any) -> tuple[VirtualClock, dict[int, FakePicamera2], PacedPcm]:
    clock = VirtualClock(monotonic_s=1234.0)
    config = CameraConfig(width=W, height=H, fps=FPS, start_pts_s=1234.5, flash_every_s=1.0)
    main = SimulatedCamera(shared_scene(), None, config)
    second = SimulatedCamera(shared_scene(), None, CameraConfig(width=W, height=H, pan_deg=-30))
    mic = SimulatedMicrophone(MicrophoneConfig(), main.flashes, clock.time() - clock.monotonic())
    pcm = PacedPcm(mic)
    fakes = {0: FakePicamera2(main, libcamera, pcm.close), 1: FakePicamera2(second, libcamera)}
    return clock, fakes, pcm
