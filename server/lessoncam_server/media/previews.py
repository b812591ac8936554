"""Poster image and seek-preview thumbnails for an assembled lesson video.

Frames are found by seeking to the keyframe at or before each wanted time and decoding only
keyframes (``skip_frame = "NONKEY"``): a unit's stream has a keyframe every second or so, which
is precise enough for a preview and far cheaper than decoding everything. Images are scaled and
encoded with OpenCV, and written atomically (temporary file, fsync, rename), like the video.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import cv2
import numpy as np
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.codeccontext import VideoCodecContext
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from lessoncam_common.durable import write_atomic

log = logging.getLogger(__name__)

POSTER_QUALITY = 85
STRIP_QUALITY = 75
#: Tiles per row of the thumbnail sprite.
STRIP_COLUMNS = 10


class PreviewError(Exception):
    """The video cannot be read, or has no picture to take a preview from."""


@dataclass(frozen=True)
class ThumbnailStrip:
    """One JPEG sprite of ``count`` tiles, ``columns`` per row, row-major in time order.

    Tile ``i`` shows the video at about ``i * interval_s`` and stands for the interval
    ``[i * interval_s, (i + 1) * interval_s)``. ``width`` and ``height`` are one tile's size.
    """

    path: Path
    interval_s: float
    count: int
    columns: int
    width: int
    height: int


def _encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise PreviewError("JPEG encoding failed")
    return bytes(buf.tobytes())


class _Video:
    """An open video with keyframe-only decoding and seconds-based seeking."""

    def __init__(self, path: Path) -> None:
        try:
            self.container: InputContainer = av.open(str(path))
        except (av.error.FFmpegError, OSError) as e:
            raise PreviewError(f"cannot open {path}: {e}") from e
        if not self.container.streams.video:
            self.container.close()
            raise PreviewError(f"{path} has no video stream")
        self.stream: VideoStream = self.container.streams.video[0]
        self.stream.codec_context.skip_frame = "NONKEY"
        tb = self.stream.time_base
        self.tb: Fraction = tb if tb is not None else Fraction(1, av.time_base)
        self.width = int(self.stream.codec_context.width)
        self.height = int(self.stream.codec_context.height)
        # Times are on the player's timeline: an MP4 whose first seconds are missing (an
        # empty edit) has its first frame at start_s > 0, and ends at end_s.
        start = self.stream.start_time
        self.start_s = max(float(start * self.tb), 0.0) if start is not None else 0.0
        ends = [0.0]
        if self.stream.duration:
            ends.append(self.start_s + float(self.stream.duration * self.tb))
        if self.container.duration:
            first = max(self.container.start_time or 0, 0)
            ends.append((first + self.container.duration) / av.time_base)
        self.end_s = max(ends)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> _Video:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def keyframes(self) -> Iterator[VideoFrame]:
        return self.container.decode(self.stream)

    def keyframe_at(self, t: float) -> VideoFrame | None:
        """The keyframe at or before ``t`` seconds (the first one if ``t`` is earlier)."""
        try:
            self.container.seek(max(int(t / self.tb), 0), stream=self.stream, backward=True)
            for frame in self.keyframes():
                return frame
        except av.error.FFmpegError as e:
            log.debug("seek to %.3f s failed: %s", t, e)
        return None


def _frame_image(frame: VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame as a BGR image of the given size."""
    # Let swscale do the colour conversion and the bulk of a large reduction (cheap), and
    # OpenCV's area filter the last step (sharp, without aliasing).
    if frame.width >= 4 * width:
        image = np.asarray(
            frame.to_ndarray(width=width * 2, height=height * 2, format="bgr24"), dtype=np.uint8
        )
    else:
        image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    if image.shape[1] != width or image.shape[0] != height:
        image = np.asarray(
            cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8
        )
    return image


def _fit(width: int, height: int, max_width: int) -> tuple[int, int]:
    if width <= max_width:
        return width, height
    return max_width, max(round(height * max_width / width), 1)


def make_poster(video: Path, out: Path, *, at_fraction: float = 0.1, max_width: int = 1280) -> Path:
    """Write a JPEG poster of the keyframe at about ``at_fraction`` of the video's length.

    The picture is scaled down (never up) to at most ``max_width`` pixels wide.
    """
    with _Video(video) as v:
        t = max(v.start_s, max(0.0, min(at_fraction, 1.0)) * v.end_s)
        frame = v.keyframe_at(t) or v.keyframe_at(v.start_s)
        if frame is None:
            raise PreviewError(f"{video}: no decodable picture")
        width, height = _fit(frame.width, frame.height, max_width)
        image = _frame_image(frame, width, height)
    write_atomic(out, _encode_jpeg(image, POSTER_QUALITY))
    log.debug("poster %s: %dx%d from %.3f s", out, width, height, t)
    return out


#: The default strip has at most this many tiles (and more than half as many).
TILES_PER_STRIP = 100


def default_interval(duration_s: float, most: int = TILES_PER_STRIP) -> float:
    """The shortest of 2, 4, 8, 16... seconds that needs at most ``most`` tiles.

    Powers of two, so that a strip can be made while the lesson is recorded: whatever length
    it ends with, the times of its tiles are multiples of the interval chosen for the length
    so far (see :class:`LiveTiles`).
    """
    interval = 2
    while duration_s / interval > most:
        interval *= 2
    return float(interval)


class LiveTiles:
    """Seek thumbnails made while a lesson is recorded, so few are left to make at the stop.

    :meth:`add` is given every video keyframe as it is written, in time order. A strip tile at
    time ``t`` shows the keyframe at or before ``t`` (the first one from half a second before
    it), as :func:`make_thumbnail_strip` picks them from the file. The interval of the strip is
    :func:`default_interval` of the final length, a multiple of the interval for the length so
    far, so only the keyframes at multiples of that are decoded, and the tiles kept (at most
    about twice ``most``) are thinned out whenever the interval doubles. One keyframe is held
    back until the next one says how far it reaches. Anything that cannot be decoded makes the
    whole set unusable (``broken``), and the strip is made from the file as before.
    """

    def __init__(self, *, width: int = 160, most: int = TILES_PER_STRIP) -> None:
        self.width = width
        self.most = most
        self.interval = default_interval(0.0, most)
        self.tiles: dict[int, np.ndarray] = {}  # by whole second, multiples of ``interval``
        self.broken: str | None = None
        self.decoded = 0  # keyframes decoded, for the curious (and the tests)
        self._held: tuple[float, Packet[Stream]] | None = None
        self._first = True
        self._decoder: VideoCodecContext | None = None

    def add(self, packet: Packet[Stream], time_s: float) -> None:
        """The next keyframe written, at ``time_s`` on the video's timeline."""
        if self.broken is not None:
            return
        try:
            self._reach(time_s)
            self._held = (time_s, packet)
        except Exception as e:  # whatever it is, a thumbnail must never cost the live file
            self._break(f"keyframe at {time_s:.3f} s: {e}")

    def finish(self, end_s: float) -> None:
        """The video ends at ``end_s``: the last keyframe reaches it."""
        if self.broken is None:
            try:
                self._reach(end_s + 1.0)
            except (av.error.FFmpegError, ValueError, PreviewError) as e:
                self._break(f"last keyframe: {e}")
        self._held = None
        self._decoder = None

    def _reach(self, until_s: float) -> None:
        """Tiles of the held keyframe, from its time (or half a second before the first one)
        up to ``until_s``; thinned to the interval for a video this long."""
        interval = default_interval(until_s, self.most)
        if interval != self.interval:
            step = round(interval)
            self.tiles = {t: image for t, image in self.tiles.items() if t % step == 0}
            self.interval = interval
        if self._held is None:
            return
        start, packet = self._held
        if self._first:
            start -= 0.5
            self._first = False
        step = round(self.interval)
        times = range(max(math.ceil(start / step), 0) * step, math.ceil(until_s), step)
        wanted = [t for t in times if start <= t < until_s]
        if wanted:
            image = self._decode(packet)
            for t in wanted:
                self.tiles[t] = image

    def _decode(self, packet: Packet[Stream]) -> np.ndarray:
        if self._decoder is None:
            source = packet.stream.codec_context
            # An output stream names its encoder (libx264): decode by the format's name.
            name = source.codec.canonical_name
            decoder = av.CodecContext.create(name, "r")
            if not isinstance(decoder, VideoCodecContext):
                raise PreviewError(f"{name} is not a video codec")
            self._decoder = decoder
            if source.extradata:
                self._decoder.extradata = source.extradata
            self._decoder.thread_count = 1  # one picture at a time, no frame delay
        decoder = self._decoder
        frames = decoder.decode(packet) or decoder.decode(None)
        decoder.flush_buffers()  # each keyframe stands alone
        if not frames:
            raise PreviewError("keyframe gave no picture")
        frame = frames[0]
        assert isinstance(frame, VideoFrame)
        self.decoded += 1
        return _frame_image(frame, *_fit(frame.width, frame.height, self.width))

    def _break(self, reason: str) -> None:
        log.info("thumbnails during the lesson given up (%s): made from the file", reason)
        self.broken = reason
        self.tiles.clear()
        self._held = None
        self._decoder = None


def make_thumbnail_strip(
    video: Path,
    out: Path,
    *,
    interval_s: float | None = None,
    width: int = 160,
    max_count: int = 200,
    columns: int = STRIP_COLUMNS,
    live: LiveTiles | None = None,
) -> ThumbnailStrip:
    """Write one JPEG sprite of thumbnails, one per ``interval_s`` of video.

    ``interval_s`` defaults to :func:`default_interval`; it is widened when more than
    ``max_count`` thumbnails would be needed (the returned strip says what was used).
    ``live``: the tiles made while the video was written (see :class:`LiveTiles`); a tile it
    does not have is taken from the file.
    """
    if width <= 0 or max_count <= 0 or columns <= 0:
        raise ValueError("width, max_count and columns must be positive")
    with _Video(video) as v:
        duration = v.end_s
        most = live.most if live is not None else TILES_PER_STRIP
        interval = interval_s if interval_s and interval_s > 0 else default_interval(duration, most)
        if duration / interval > max_count:
            interval = duration / max_count
        count = max(1, math.ceil(duration / interval - 1e-9))
        tile_w, tile_h = _fit(v.width, v.height, width)
        if v.width < width:
            log.debug("thumbnails at %d px: the video is narrower than %d px", v.width, width)
        made: dict[int, np.ndarray] = {}
        if live is not None and live.broken is None and live.width == width:
            live.finish(duration)
            made = live.tiles
        columns = min(columns, count)
        rows = math.ceil(count / columns)
        sprite = np.zeros((rows * tile_h, columns * tile_w, 3), np.uint8)
        last: np.ndarray | None = None
        for i in range(count):
            # Before the first picture (a missing start) the tile stays black, in a hole it
            # shows the last picture before it, as the player does.
            at = i * interval
            image = made.get(round(at)) if at == round(at) else None
            if image is not None and image.shape == (tile_h, tile_w, 3):
                last = image
            else:
                frame = v.keyframe_at(at) if at >= v.start_s - 0.5 else None
                if frame is not None:
                    last = _frame_image(frame, tile_w, tile_h)
            if last is None:
                continue  # nothing decodable yet: leave the tile black
            r, c = divmod(i, columns)
            sprite[r * tile_h : (r + 1) * tile_h, c * tile_w : (c + 1) * tile_w] = last
        if last is None:
            raise PreviewError(f"{video}: no decodable picture")
    write_atomic(out, _encode_jpeg(sprite, STRIP_QUALITY))
    log.debug("strip %s: %d tiles of %dx%d every %.2f s", out, count, tile_w, tile_h, interval)
    return ThumbnailStrip(
        path=out,
        interval_s=interval,
        count=count,
        columns=columns,
        width=tile_w,
        height=tile_h,
    )
