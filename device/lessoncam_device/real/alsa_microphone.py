"""An ALSA capture device through PyAV's ``alsa`` input, as a real-time microphone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

from ..clock import Clock

log = logging.getLogger(__name__)

# PyPI's PyAV wheel carries its own alsa-lib, which looks for its config under the build
# machine's prefix; point it at the system's copy (Debian's alsa-utils/libasound2-data).
_SYSTEM_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")


class MicrophoneLost(RuntimeError):
    """The microphone cannot be opened or stopped delivering sound."""


@dataclass(frozen=True)
class AlsaChunk:
    """``samples`` (n, channels) int16 and the wall time of the first one."""

    wall_s: float
    samples: NDArray[np.int16]


def _alsa_environment() -> None:
    if "ALSA_CONFIG_PATH" not in os.environ and _SYSTEM_ALSA_CONF.exists():
        os.environ["ALSA_CONFIG_PATH"] = str(_SYSTEM_ALSA_CONF)


class AlsaMicrophone:
    """Sound from ``device`` (e.g. ``hw:1,0`` or ``default``) at ``sample_rate`` and
    ``channels``, cut into chunks of equal length stamped with ALSA's wall-clock time.

    A reader thread does the blocking reads; the recorder's audio timeline turns the wall
    stamps into an offset and the delivery times into a drift estimate.
    """

    def __init__(self, device: str, sample_rate: int, channels: int) -> None:
        self.device = device
        self.sample_rate = sample_rate
        self.channels = channels
        self.samples = 0

    def open(self) -> Any:
        """Open the device; raises ``MicrophoneLost`` with the reason if it can't."""
        _alsa_environment()
        options = {"sample_rate": str(self.sample_rate), "channels": str(self.channels)}
        try:
            return av.open(self.device, format="alsa", options=options)
        except (OSError, av.error.FFmpegError) as exc:
            raise MicrophoneLost(
                f"microphone {self.device!r} cannot be opened ({exc}); check "
                "`lessoncam-device devices` and [audio] device"
            ) from exc

    async def stream(self, clock: Clock, samples_per_chunk: int) -> AsyncIterator[AlsaChunk]:
        """Chunks of ``samples_per_chunk`` samples as they are captured."""
        container = await asyncio.to_thread(self.open)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[AlsaChunk | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: AlsaChunk | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody listens
                loop.call_soon_threadsafe(chunks.put_nowait, item)

        reader = threading.Thread(
            target=self._read,
            args=(container, samples_per_chunk, deliver, stop),
            name=f"alsa-{self.device}",
            daemon=True,
        )
        reader.start()
        try:
            while True:
                item = await chunks.get()
                if item is None:
                    raise MicrophoneLost(f"microphone {self.device!r} stopped delivering sound")
                if isinstance(item, BaseException):
                    raise MicrophoneLost(
                        f"microphone {self.device!r} failed ({item}); the recording goes on "
                        "without sound"
                    ) from item
                yield item
        finally:
            stop.set()
            await asyncio.to_thread(reader.join, 2.0)

    def _read(self, container: Any, n: int, deliver: Any, stop: threading.Event) -> None:
        layout = "mono" if self.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="s16", layout=layout, rate=self.sample_rate)
        pending: list[NDArray[np.int16]] = []
        held = 0
        first_wall: float | None = None  # wall time of the first pending sample
        try:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                if stop.is_set():
                    break
                for frame in packet.decode():
                    wall = float(frame.pts * frame.time_base) if frame.pts is not None else None
                    for out in resampler.resample(frame):
                        block = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(
                            -1, self.channels
                        )
                        if first_wall is None:
                            first_wall = wall if wall is not None else 0.0
                        pending.append(block)
                        held += len(block)
                while held >= n and first_wall is not None:
                    joined = np.concatenate(pending)
                    deliver(AlsaChunk(first_wall, np.ascontiguousarray(joined[:n])))
                    self.samples += n
                    rest = joined[n:]
                    pending, held = ([rest] if len(rest) else []), len(rest)
                    first_wall += n / self.sample_rate
                    if not held:
                        first_wall = None
            deliver(None)
        except Exception as exc:  # a device that vanished: tell the consumer, end the thread
            deliver(exc)
        finally:
            container.close()
