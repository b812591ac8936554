"""What the recorder records from, and how frames and sound reach an encoder thread.

Two ways in, one per clock:

- ``PullFeed`` (virtual time, tests): the encoder thread itself asks a simulated camera for
  ``frame_at(i)`` and the microphone for ``chunk_at(j, n)``, in the order they would be
  delivered, as fast as it can, but never past what the clock says has been captured by now.
  Minutes of recording take seconds and the result does not depend on thread timing.
- ``QueueFeed`` (real time): tasks on the event loop read the sources' ``stream(...)`` async
  iterators and put what arrives, stamped with the monotonic arrival time, into a queue the
  encoder thread takes from. A full queue drops the newest frame (as a camera with no free
  buffer does) and counts it; sound is never dropped.

Both end once the recorder's stop time has been reached.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ..clock import Clock

log = logging.getLogger(__name__)


class MicrophoneChunk(Protocol):
    """A block of PCM: ``samples`` (n, channels) and the wall time of its first sample."""

    @property
    def wall_s(self) -> float: ...

    @property
    def samples(self) -> NDArray[np.int16]: ...


@runtime_checkable
class PullCamera(Protocol):
    """A camera whose frames can be asked for by index (the simulated one)."""

    def frame_at(self, index: int) -> tuple[float, NDArray[np.uint8]]:
        """Frame ``index`` as (pts on the monotonic clock, BGR or I420 image)."""
        ...

    def pts_of(self, index: int) -> float:
        """Frame ``index``'s pts, without rendering it."""
        ...


@runtime_checkable
class StreamCamera(Protocol):
    """A camera that delivers (pts, image) in real time on a clock."""

    def stream(self, clock: Clock) -> AsyncIterator[tuple[float, NDArray[np.uint8]]]: ...


@runtime_checkable
class PullMicrophone(Protocol):
    """A microphone whose chunks can be asked for by index (the simulated one)."""

    def chunk_at(self, index: int, samples_per_chunk: int) -> MicrophoneChunk: ...

    def sample_pts(self, n: float) -> float:
        """Monotonic time at which sample ``n`` is captured (so: when a chunk is delivered)."""
        ...


@runtime_checkable
class StreamMicrophone(Protocol):
    """A microphone that delivers chunks in real time on a clock."""

    def stream(self, clock: Clock, samples_per_chunk: int) -> AsyncIterator[MicrophoneChunk]: ...


Camera = PullCamera | StreamCamera
"""A camera the recorder takes: pulled by index (virtual time) or streamed (real time)."""

Microphone = PullMicrophone | StreamMicrophone
"""A microphone the recorder takes, pulled or streamed like the cameras."""


@dataclass(frozen=True)
class FrameItem:
    """A frame as delivered by a camera."""

    pts_s: float  # monotonic
    image: NDArray[np.uint8]


@dataclass(frozen=True)
class AudioItem:
    """A microphone chunk as delivered, with when it arrived."""

    arrival_s: float  # monotonic time it was delivered
    wall_s: float  # the microphone's stamp of its first sample
    samples: NDArray[np.int16]


Item = FrameItem | AudioItem


class StopTime:
    """Shared between the loop and the threads: when recording stops (monotonic)."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.event = threading.Event()

    def set(self, at: float) -> None:
        """Stop at monotonic time ``at`` (what was captured before it is still recorded)."""
        self.at = at
        self.event.set()


class Feed(Protocol):
    """What an encoder thread iterates over."""

    def __iter__(self) -> Iterator[Item]: ...

    def idle_since(self, t: float) -> bool:
        """True when everything delivered by monotonic time ``t`` has been processed."""
        ...


class PullFeed:
    """Pulls from simulated sources in delivery order, up to the clock's now (virtual time)."""

    POLL_S = 0.002

    def __init__(
        self,
        camera: PullCamera,
        microphone: PullMicrophone | None,
        clock: Clock,
        t0: float,
        stop: StopTime,
        samples_per_chunk: int = 1024,
    ) -> None:
        self.camera = camera
        self.microphone = microphone
        self.clock = clock
        self.t0 = t0
        self.stop = stop
        self.n = samples_per_chunk
        self._caught_up_to = -math.inf
        # I420 when the camera offers it: what the encoders take, no colour conversion.
        self._frame_at = getattr(camera, "i420_at", camera.frame_at)

    def idle_since(self, t: float) -> bool:
        return self._caught_up_to >= t

    def __iter__(self) -> Iterator[Item]:
        i = 0
        while self.camera.pts_of(i) < self.t0:
            i += 1
        j = 0
        mic = self.microphone
        if mic is not None:
            while mic.sample_pts((j + 1) * self.n) < self.t0:
                j += 1
        while True:
            v_at = self.camera.pts_of(i)
            a_at = mic.sample_pts((j + 1) * self.n) if mic is not None else math.inf
            nxt = min(v_at, a_at)
            stop_at = self.stop.at
            if stop_at is not None and nxt >= stop_at:
                return
            now = self.clock.monotonic() if stop_at is None else stop_at
            if nxt > now:
                self._caught_up_to = now
                self.stop.event.wait(self.POLL_S)
                continue
            if v_at <= a_at:
                pts, image = self._frame_at(i)
                i += 1
                yield FrameItem(pts, image)
            else:
                assert mic is not None
                chunk = mic.chunk_at(j, self.n)
                j += 1
                yield AudioItem(a_at, chunk.wall_s, chunk.samples)


_END = object()


class QueueFeed:
    """Items put by event-loop tasks, taken by the encoder thread (real time)."""

    def __init__(self, producers: int, max_frames: int) -> None:
        self._items: collections.deque[Item | object] = collections.deque()
        self._cond = threading.Condition()
        self._open_producers = producers
        self._frames = 0
        self._max_frames = max_frames
        self._waiting = False
        self.dropped = 0

    def put(self, item: Item) -> None:
        """Never blocks (the loop must stay responsive); drops a frame when full."""
        with self._cond:
            if isinstance(item, FrameItem):
                if self._frames >= self._max_frames:
                    self.dropped += 1
                    return
                self._frames += 1
            self._items.append(item)
            self._cond.notify()

    def producer_done(self) -> None:
        """One source has ended; the feed ends when all have."""
        with self._cond:
            self._items.append(_END)
            self._cond.notify()

    def idle_since(self, t: float) -> bool:
        with self._cond:
            return self._waiting and not self._items

    def __iter__(self) -> Iterator[Item]:
        while True:
            with self._cond:
                while not self._items:
                    self._waiting = True
                    self._cond.wait()
                self._waiting = False
                item = self._items.popleft()
                if item is _END:
                    self._open_producers -= 1
                    if self._open_producers <= 0:
                        return
                    continue
                if isinstance(item, FrameItem):
                    self._frames -= 1
            assert isinstance(item, FrameItem | AudioItem)
            yield item


async def pump_camera(
    camera: StreamCamera, clock: Clock, feed: QueueFeed, t0: float, stop: StopTime
) -> None:
    """Move a camera's frames into ``feed`` until the stop time."""
    frames = camera.stream(clock)
    try:
        async for pts, image in frames:
            if stop.at is not None and pts >= stop.at:
                break
            if pts >= t0:
                feed.put(FrameItem(pts, image))
    except Exception:
        log.exception("the camera stream failed")
        raise
    finally:
        await _aclose(frames)
        feed.producer_done()


async def pump_microphone(
    microphone: StreamMicrophone, clock: Clock, feed: QueueFeed, stop: StopTime, n: int
) -> None:
    """Move a microphone's chunks into ``feed`` (stamped with their arrival) until the stop."""
    chunks = microphone.stream(clock, n)
    try:
        async for chunk in chunks:
            arrival = clock.monotonic()
            if stop.at is not None and arrival > stop.at:
                break
            feed.put(AudioItem(arrival, chunk.wall_s, chunk.samples))
    except Exception:
        log.exception("the microphone stream failed")
        raise
    finally:
        await _aclose(chunks)
        feed.producer_done()


async def _aclose(iterator: AsyncIterator[object]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(RuntimeError):
            await aclose()
