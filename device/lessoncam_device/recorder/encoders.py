"""One continuous encoder per stream: libx264 for video, AAC for audio (PyAV).

The encoders live on the streams of a throw-away in-memory MPEG-TS container: that opens them
once for the whole recording, and gives every segment file a template stream to copy (codec
parameters, extradata). Cutting segments never restarts an encoder, so there is no AAC
priming at the joins and no extra keyframes beyond the ones asked for.

Timestamps: video in 1/90000 (the MPEG-TS clock), audio in 1/sample_rate; both are the
recording's time plus ``PTS_BASE_S``, so that nothing (AAC priming, audio captured a moment
before the first frame) ever has a negative timestamp.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.packet import Packet
from av.video.frame import PictureType
from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: File pts of the recording's t = 0, in seconds.
PTS_BASE_S = 10.0
TS_TIME_BASE = Fraction(1, 90000)


def to_ticks(t_s: float) -> int:
    """Recording time (s) to a 90 kHz file timestamp."""
    return round((t_s + PTS_BASE_S) * 90000)


def from_ticks(ticks: int, time_base: Fraction = TS_TIME_BASE) -> float:
    """A file timestamp back to recording time (s)."""
    return float(ticks * time_base) - PTS_BASE_S


@dataclass(frozen=True)
class VideoSettings:
    """libx264 settings of one camera."""

    width: int
    height: int
    fps: float
    preset: str = "veryfast"
    tune: str | None = "zerolatency"  # no B-frames or lookahead: packets leave at once
    crf: float | None = 23.0
    bitrate: int | None = None  # bits/s; replaces crf when set
    keyframe_s: float = 1.0  # GOP length: a cut is never more than this late
    threads: int = 0  # 0: libx264 decides

    @property
    def gop_frames(self) -> int:
        return max(1, round(self.keyframe_s * self.fps))

    @property
    def rate(self) -> Fraction:
        return Fraction(self.fps).limit_denominator(1001)


@dataclass(frozen=True)
class AudioSettings:
    """AAC settings of the recording's one audio track."""

    sample_rate: int = 48_000
    channels: int = 1
    bitrate: int = 96_000
    coder: str = "twoloop"  # FFmpeg's best; "fast" is ~2.5x quicker (tests)


class EncoderBank:
    """Owns the template container and the encoders on it; close it when done."""

    def __init__(self) -> None:
        self._container: Any = av.open(io.BytesIO(), "w", format="mpegts")
        self._started = False

    def video(self, settings: VideoSettings) -> VideoEncoder:
        """Add a libx264 encoder (before :meth:`start`)."""
        return VideoEncoder(self._container, settings)

    def audio(self, settings: AudioSettings) -> AudioEncoder:
        """Add an AAC encoder (before :meth:`start`)."""
        return AudioEncoder(self._container, settings)

    def start(self) -> None:
        """Open the encoders."""
        self._container.start_encoding()
        self._started = True

    def close(self) -> None:
        """Close the template container (after the encoders have been flushed)."""
        self._container.close()


class VideoEncoder:
    """Frames (BGR or I420 numpy arrays) in, H.264 packets out, in 1/90000."""

    def __init__(self, container: Any, settings: VideoSettings) -> None:
        self.settings = s = settings
        options = {"preset": s.preset, "forced-idr": "1"}
        if s.tune:
            options["tune"] = s.tune
        if s.bitrate is None and s.crf is not None:
            options["crf"] = f"{s.crf:g}"
        stream = container.add_stream("libx264", rate=s.rate, options=options)
        stream.width, stream.height, stream.pix_fmt = s.width, s.height, "yuv420p"
        stream.time_base = TS_TIME_BASE
        cc = stream.codec_context
        cc.time_base = TS_TIME_BASE
        cc.gop_size = s.gop_frames
        cc.thread_count = s.threads
        if s.bitrate is not None:
            cc.bit_rate = s.bitrate
        self.stream = stream
        self._frame_ticks = round(90000 / s.fps)

    def encode(self, image: NDArray[np.uint8], t_s: float, keyframe: bool) -> list[Packet[Any]]:
        """Encode the frame taken at recording time ``t_s``; ``keyframe`` forces an IDR."""
        frame = _video_frame(image)
        s = self.settings
        if (frame.width, frame.height, frame.format.name) != (s.width, s.height, "yuv420p"):
            frame = frame.reformat(width=s.width, height=s.height, format="yuv420p")
        frame.pts = to_ticks(t_s)
        frame.time_base = TS_TIME_BASE
        if keyframe:
            frame.pict_type = PictureType.I
        return self._stamp(self.stream.encode(frame))

    def flush(self) -> list[Packet[Any]]:
        """The frames still inside the encoder."""
        return self._stamp(self.stream.encode(None))

    def _stamp(self, packets: list[Packet[Any]]) -> list[Packet[Any]]:
        for p in packets:
            p.duration = self._frame_ticks  # tells the muxer how long the last frame lasts
        return packets


class AudioEncoder:
    """Float PCM blocks of ``frame_size`` samples in, AAC packets out, in 1/sample_rate."""

    def __init__(self, container: Any, settings: AudioSettings) -> None:
        self.settings = settings
        stream = container.add_stream(
            "aac", rate=settings.sample_rate, options={"aac_coder": settings.coder}
        )
        self.layout = "mono" if settings.channels == 1 else "stereo"
        stream.layout = self.layout
        stream.bit_rate = settings.bitrate
        stream.time_base = TS_TIME_BASE
        self.stream = stream
        self.time_base = Fraction(1, settings.sample_rate)

    @property
    def frame_size(self) -> int:
        return int(self.stream.codec_context.frame_size or 1024)

    def encode(self, block: NDArray[np.float32], pts_samples: int) -> list[Packet[Any]]:
        """Encode ``block`` (channels, n) whose first sample is at ``pts_samples``."""
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block), format="fltp", layout=self.layout
        )
        frame.sample_rate = self.settings.sample_rate
        frame.pts = pts_samples
        frame.time_base = self.time_base
        return list(self.stream.encode(frame))

    def flush(self) -> list[Packet[Any]]:
        """The frames still inside the encoder."""
        return list(self.stream.encode(None))


def _video_frame(image: NDArray[np.uint8]) -> av.VideoFrame:
    """BGR (h, w, 3) or I420 (h * 3 / 2, w) to a VideoFrame."""
    if image.ndim == 3:
        return av.VideoFrame.from_ndarray(image, format="bgr24")
    if image.ndim == 2:
        return av.VideoFrame.from_ndarray(image, format="yuv420p")
    raise ValueError(f"frames must be BGR (h, w, 3) or I420 (h * 3 / 2, w), not {image.shape}")
