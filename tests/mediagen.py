"""Synthetic media for tests: no real recordings of people, ever.

The generator behaves like the classroom unit: one continuous libx264 encoder and one continuous
AAC encoder, cut into segment files at video keyframes (the unit's ``SplittableOutput`` does the
same), so audio packets go into whichever file is open when the encoder emits them.

Every frame carries its index twice: as text (for people) and as a 16-bit barcode along the top
edge (for tests, see :func:`read_frame_index`). Once per second, at ``FLASH_PHASE`` frames past
the whole second, the frame is full white and a 1 kHz beep starts in the audio at the same moment,
so A/V sync can be measured with :func:`flash_times` and :func:`beep_onsets`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.frame import PictureType

from lessoncam_common.hashing import sha256_file
from lessoncam_device.recorder.segmenter import copy_stream

#: Frames after each whole second at which the white flash (and the beep) happens.
FLASH_PHASE = 10
BEEP_HZ = 1000.0
BEEP_S = 0.1
BARCODE_BITS = 16
#: Height in pixels of the barcode along the top edge (16 cells across the width).
BAR_H = 12
# Synthetic timestamps start here, like a sensor's monotonic clock that is not 0 at the start.
DEFAULT_PTS_BASE_S = 10.0

_TS_TB = Fraction(1, 90000)


@dataclass(frozen=True)
class GeneratedSegment:
    """One segment file as the unit would describe it in its manifest."""

    sequence: int
    start_s: float
    duration_s: float
    path: Path
    sha256: str
    frames: int


class _FramePainter:
    """Draws the test pattern straight into a YUV 4:2:0 buffer (no colour conversion: fast)."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._buf = np.empty((height * 3 // 2, width), np.uint8)
        self._buf[height:] = 128  # neutral chroma: a grey-scale picture
        ramp = (np.arange(width, dtype=np.int32) * 160 // max(width - 1, 1) + 40).astype(np.uint8)
        self._ramp = np.tile(ramp, (height, 1))
        self._cell = max(width // BARCODE_BITS, 1)

    def frame(self, index: int) -> av.VideoFrame:
        w, h = self.width, self.height
        y = self._buf[:h]
        if index % self.fps == FLASH_PHASE % self.fps:
            y[:] = 235
        else:
            # A ramp that scrolls sideways plus a bouncing block: motion for the encoder.
            shift = (index * 4) % w
            y[:] = np.roll(self._ramp, shift, axis=1)
            bx = (index * 7) % max(w - 40, 1)
            y[h // 2 : h // 2 + 40, bx : bx + 40] = 16
            scale = max(h / 240.0, 0.4)
            text = f"{index} {index / self.fps:7.3f}s"
            cv2.putText(y, text, (8, h - 12), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 2)
        for bit in range(BARCODE_BITS):
            on = (index >> bit) & 1
            y[:BAR_H, bit * self._cell : (bit + 1) * self._cell] = 235 if on else 16
        return av.VideoFrame.from_ndarray(self._buf, format="yuv420p")


class NoisePainter:
    """Random pictures (seeded by the frame index): with ``video_options={"qp": "0"}`` they
    make large segments (about 4 MB per second at 320x240), for tests that need big files."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height

    def frame(self, index: int) -> av.VideoFrame:
        rng = np.random.default_rng(index)
        picture = rng.integers(0, 256, (self.height, self.width, 3), dtype=np.uint8)
        return av.VideoFrame.from_ndarray(picture, format="rgb24")


def _audio_chunks(
    sample_rate: int, fps: int, total_frames: int, frame_size: int
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (video frame index after which to encode, samples) in encoder-sized chunks."""
    total = round(total_frames * sample_rate / fps)
    audio = np.zeros(total, np.float32)
    beep_n = round(BEEP_S * sample_rate)
    tone = (0.5 * np.sin(2 * np.pi * BEEP_HZ * np.arange(beep_n) / sample_rate)).astype(np.float32)
    for second in range(int(total_frames / fps) + 1):
        start = round((second + FLASH_PHASE / fps) * sample_rate)
        if start >= total:
            break
        n = min(beep_n, total - start)
        audio[start : start + n] = tone[:n]
    for pos in range(0, total, frame_size):
        chunk = audio[pos : pos + frame_size]
        # The chunk is due once video has reached the time of its last sample.
        due_frame = min(((pos + len(chunk)) * fps) // sample_rate, total_frames - 1)
        yield due_frame, chunk


class _SegmentWriter:
    """Muxes encoder output into segment files, starting a new file at each boundary IDR."""

    def __init__(
        self,
        out_dir: Path,
        *,
        fmt: str,
        fps: int,
        seg_frames: int,
        continuous: bool,
        pts_base_s: float,
        templates: list[Any],
    ) -> None:
        self.out_dir, self.fmt, self.fps, self.seg_frames = out_dir, fmt, fps, seg_frames
        self.continuous = continuous
        self.pts_base = round(pts_base_s * 90000)
        self.templates = templates
        self.ext = {"mpegts": "ts", "mp4": "mp4"}[fmt]
        self.options = (
            {"movflags": "frag_keyframe+delay_moov+default_base_moof"} if fmt == "mp4" else {}
        )
        self.segments: list[GeneratedSegment] = []
        self.container: Any = None
        self.streams: list[Any] = []
        self.seq = -1
        self.first_frame = 0
        self.frames = 0
        self.shift = 0

    def _open(self, first_frame: int) -> None:
        self.seq += 1
        self.path = self.out_dir / f"seg{self.seq:05d}.{self.ext}"
        self.container = av.open(str(self.path), "w", format=self.fmt, options=self.options)
        # copy_stream: also on PyAV 12.3 (Raspberry Pi OS Bookworm's), which the rehearsal runs.
        self.streams = [copy_stream(self.container, t) for t in self.templates]
        self.first_frame, self.frames = first_frame, 0
        # Restarting timestamps: this file's first frame is at pts_base again.
        self.shift = 0 if self.continuous else round(first_frame / self.fps * 90000)

    def close(self) -> None:
        if self.container is None:
            return
        self.container.close()
        self.container = None
        self.segments.append(
            GeneratedSegment(
                sequence=self.seq,
                start_s=self.first_frame / self.fps,
                duration_s=self.frames / self.fps,
                path=self.path,
                sha256=sha256_file(self.path),
                frames=self.frames,
            )
        )

    def mux(self, packets: list[av.Packet], index: int) -> None:
        for p in packets:
            if index == 0:
                # Video packets are in 1/fps (in the stream's 1/90000 on PyAV 12).
                frame_no = round(p.pts * p.time_base * self.fps)
                # One frame: lets muxers know how long the last frame lasts.
                p.duration = round(1 / (p.time_base * self.fps))
                if p.is_keyframe and frame_no % self.seg_frames == 0:
                    if self.container is not None and frame_no > self.first_frame:
                        self.close()
                    if self.container is None:
                        self._open(frame_no)
                self.frames += 1
            elif self.container is None:
                self._open(0)
            tb = p.time_base
            p.stream = self.streams[index]
            # Everything in the 90 kHz MPEG-TS clock, shifted to the synthetic sensor clock.
            shift = self.pts_base - self.shift
            if p.pts is not None:
                p.pts = round(p.pts * tb / _TS_TB) + shift
            if p.dts is not None:
                p.dts = round(p.dts * tb / _TS_TB) + shift
            if p.duration:
                p.duration = round(p.duration * tb / _TS_TB)
            p.time_base = _TS_TB
            self.container.mux(p)


def make_segments(
    out_dir: Path,
    *,
    seconds: float,
    segment_s: float = 10.0,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    audio: bool = True,
    fmt: str = "mpegts",
    continuous: bool = True,
    sample_rate: int = 48000,
    pts_base_s: float = DEFAULT_PTS_BASE_S,
    video_options: dict[str, str] | None = None,
    painter: Any = None,
) -> list[GeneratedSegment]:
    """Record ``seconds`` of synthetic video (and audio) into segment files in ``out_dir``.

    ``fmt`` is ``"mpegts"`` (the unit's format) or ``"mp4"`` (fragmented MP4). With
    ``continuous=False`` every segment's timestamps restart at ``pts_base_s`` (as a unit that
    restarts its muxer per file would write); otherwise they continue across files.
    ``video_options`` go to libx264 (e.g. ``{"tune": "film", "preset": "veryfast"}`` for
    B-frames). ``painter`` may replace the frame source: an object with
    ``frame(index) -> av.VideoFrame``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    total_frames = round(seconds * fps)
    seg_frames = max(round(segment_s * fps), 1)

    # The encoders live on streams of a throw-away container: that opens them once, and gives
    # every segment container a template (codec parameters, extradata) to copy.
    template = av.open(io.BytesIO(), "w", format="mpegts")
    writer: _SegmentWriter | None = None
    try:
        options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1"}
        options.update(video_options or {})
        vstream = template.add_stream("libx264", rate=fps, options=options)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.codec_context.gop_size = fps
        vstream.codec_context.thread_count = 1
        vstream.time_base = _TS_TB
        streams: list[Any] = [vstream]
        if audio:
            astream = template.add_stream("aac", rate=sample_rate, options={"aac_coder": "fast"})
            astream.layout = "mono"
            astream.bit_rate = 64000
            astream.time_base = _TS_TB
            streams.append(astream)
        template.start_encoding()

        writer = _SegmentWriter(
            out_dir,
            fmt=fmt,
            fps=fps,
            seg_frames=seg_frames,
            continuous=continuous,
            pts_base_s=pts_base_s,
            templates=streams,
        )
        paint = painter or _FramePainter(width, height, fps)
        chunks: Iterator[tuple[int, np.ndarray]] = (
            _audio_chunks(sample_rate, fps, total_frames, streams[1].codec_context.frame_size)
            if audio
            else iter(())
        )
        pending = next(chunks, None)
        audio_pts = 0
        for i in range(total_frames):
            frame = paint.frame(i)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            if i % seg_frames == 0:
                frame.pict_type = PictureType.I  # segments start on an IDR frame
            writer.mux(vstream.encode(frame), 0)
            while pending is not None and pending[0] <= i:
                samples = pending[1]
                af = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
                af.sample_rate = sample_rate
                af.pts = audio_pts
                af.time_base = Fraction(1, sample_rate)
                audio_pts += samples.shape[0]
                writer.mux(streams[1].encode(af), 1)
                pending = next(chunks, None)
        writer.mux(vstream.encode(None), 0)
        if audio:
            writer.mux(streams[1].encode(None), 1)
        writer.close()
        return writer.segments
    finally:
        if writer is not None and writer.container is not None:
            writer.container.close()
        template.close()


# --- analysis helpers -------------------------------------------------------------------------


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The frame's Y plane (no colour conversion for the usual 4:2:0 formats: fast)."""
    if frame.format.name in ("yuv420p", "yuvj420p"):
        return np.asarray(frame.to_ndarray()[: frame.height])
    return np.asarray(frame.to_ndarray(format="gray"))


def read_frame_index(frame: av.VideoFrame | np.ndarray) -> int:
    """Decode the barcode that :func:`make_segments` drew on a frame (or its luma)."""
    y = frame if isinstance(frame, np.ndarray) else luma(frame)
    cell = max(y.shape[1] // BARCODE_BITS, 1)
    cells = y[2 : BAR_H - 2, : cell * BARCODE_BITS].reshape(BAR_H - 4, BARCODE_BITS, cell)
    # Away from the cell edges, which blur under compression and scaling.
    bits = cells[:, :, cell // 4 : cell - cell // 4].mean(axis=(0, 2)) > 128
    return int(np.dot(bits.astype(np.int64), 1 << np.arange(BARCODE_BITS, dtype=np.int64)))


@dataclass(frozen=True)
class VideoFrameInfo:
    time_s: float
    index: int
    luma: float


def video_frames(path: Path) -> list[VideoFrameInfo]:
    """Every decoded video frame: its time, barcode index and mean luma (below the bar)."""
    out: list[VideoFrameInfo] = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        for frame in c.decode(stream):
            if frame.pts is None:
                continue
            y = luma(frame)
            out.append(
                VideoFrameInfo(
                    time_s=float(frame.pts * frame.time_base),
                    index=read_frame_index(y),
                    luma=float(y[BAR_H:].mean()),
                )
            )
    return out


def flash_times(path: Path) -> list[float]:
    """Times (seconds) of the white flash frames in a file."""
    return [f.time_s for f in video_frames(path) if f.luma > 200]


def audio_frames(path: Path) -> list[tuple[float, int, np.ndarray]]:
    """Decoded audio of a file: (time of the first sample, sample rate, mono samples) per frame."""
    out: list[tuple[float, int, np.ndarray]] = []
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        for frame in c.decode(stream):
            if frame.pts is None:
                continue
            arr = frame.to_ndarray()
            mono = arr.reshape(-1, frame.samples)[0] if arr.ndim > 1 else arr
            out.append((float(frame.pts * frame.time_base), frame.sample_rate, mono))
    return out


def beep_onsets(path: Path, *, threshold: float = 0.1) -> list[float]:
    """Times (seconds) at which a beep starts after at least 0.3 s of quiet.

    Times come from each decoded frame's own timestamp, so holes in the timeline count.
    """
    return onsets_in(audio_frames(path), threshold)


def onsets_in(frames: list[tuple[float, int, np.ndarray]], threshold: float = 0.1) -> list[float]:
    """Beep onsets in decoded audio frames (see ``audio_frames``), in time order."""
    onsets: list[float] = []
    last_loud = -1e9
    for start, rate, samples in sorted(frames, key=lambda f: f[0]):
        loud = np.flatnonzero(np.abs(samples) > threshold)
        if not loud.size:
            continue
        # A frame is ~20 ms, so it holds at most one onset: its first loud sample.
        first = start + int(loud[0]) / rate
        if first - last_loud > 0.3:
            onsets.append(first)
        last_loud = start + int(loud[-1]) / rate
    return onsets


def truncate(path: Path, fraction: float) -> None:
    """Cut a file to ``fraction`` of its size, as a power cut during writing would."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(int(size * fraction))


def top_level_boxes(path: Path) -> list[str]:
    """Types of the top-level ISO BMFF boxes in file order (``ftyp``, ``moov``, ``mdat``...)."""
    boxes: list[str] = []
    size_total = path.stat().st_size
    with path.open("rb") as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            header = f.read(16)
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                size = size_total - pos
            if size < 8:
                raise ValueError(f"bad box size {size} at {pos}")
            boxes.append(kind)
            pos += size
    return boxes


def make_phone_video(
    path: Path,
    *,
    seconds: float = 4.0,
    width: int = 480,
    height: int = 270,
    fps: int = 30,
    codec: str = "libx264",
    audio: bool = True,
    sample_rate: int = 48000,
) -> Path:
    """One file as a phone's camera app writes it: MP4 or MOV (from the suffix), H.264 with
    B-frames (or ``codec``, e.g. ``"libx265"``) and AAC audio, its index (moov) at the end.
    Frames carry the same barcode and flashes as :func:`make_segments`."""
    fmt = "mov" if path.suffix.lower() == ".mov" else "mp4"
    total_frames = round(seconds * fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as container:
        options = {"preset": "veryfast"} if codec == "libx264" else {"preset": "ultrafast"}
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
        vstream = container.add_stream(codec, rate=fps, options=options)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.codec_context.gop_size = fps
        vstream.codec_context.thread_count = 1
        astream: Any = None
        chunks: Iterator[tuple[int, np.ndarray]] = iter(())
        if audio:
            astream = container.add_stream("aac", rate=sample_rate)
            astream.layout = "mono"
            astream.bit_rate = 64000
        painter = _FramePainter(width, height, fps)
        if audio:
            container.start_encoding()
            chunks = _audio_chunks(sample_rate, fps, total_frames, astream.codec_context.frame_size)
        pending = next(chunks, None)
        audio_pts = 0
        for i in range(total_frames):
            frame = painter.frame(i)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(vstream.encode(frame))
            while pending is not None and pending[0] <= i:
                af = av.AudioFrame.from_ndarray(pending[1][None, :], format="fltp", layout="mono")
                af.sample_rate = sample_rate
                af.pts = audio_pts
                af.time_base = Fraction(1, sample_rate)
                audio_pts += pending[1].shape[0]
                container.mux(astream.encode(af))
                pending = next(chunks, None)
        container.mux(vstream.encode(None))
        if audio:
            container.mux(astream.encode(None))
    return path
