"""An ALSA capture device through PyAV's ``alsa`` input: the one place the unit opens ALSA.

The webcam recorder reads it as a real-time microphone (:meth:`AlsaMicrophone.stream`); on a
Pi, picamera2's encoder opens it itself from :meth:`AlsaMicrophone.av_input`; both, and every
check before a lesson, go through :func:`use_system_alsa_config` first.
"""

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
from ..recorder.base import MicrophoneUnavailable

log = logging.getLogger(__name__)

#: The system's ALSA configuration (Debian's libasound2-data, on every Raspberry Pi OS).
SYSTEM_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")


class MicrophoneLost(MicrophoneUnavailable):
    """The microphone stopped delivering sound during a lesson."""


@dataclass(frozen=True)
class AlsaChunk:
    """``samples`` (n, channels) int16 and the wall time of the first one."""

    wall_s: float
    samples: NDArray[np.int16]


def use_system_alsa_config(conf: Path = SYSTEM_ALSA_CONF) -> None:
    """Make PyAV's ALSA input read the system's ALSA configuration.

    PyPI's PyAV wheels bundle their own alsa-lib, whose configuration path points inside the
    wheel's build tree (``/tmp/vendor/share/alsa``): there every PCM, ``hw:1,0`` included, is
    "unknown". alsa-lib reads ``ALSA_CONFIG_PATH`` at every open, so setting it here, before
    any open, is enough. A value already set (a test's own file) is kept.
    """
    if "ALSA_CONFIG_PATH" in os.environ:
        return
    if not conf.exists():
        raise MicrophoneUnavailable(
            f"the ALSA configuration {conf} is missing, so no microphone can be opened; "
            "install it with `apt-get install libasound2-data`"
        )
    os.environ["ALSA_CONFIG_PATH"] = str(conf)


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

    def _options(self) -> dict[str, str]:
        return {"sample_rate": str(self.sample_rate), "channels": str(self.channels)}

    def open(self) -> Any:
        """Open the device; raises ``MicrophoneUnavailable`` naming it if it can't."""
        use_system_alsa_config()
        try:
            return av.open(self.device, format="alsa", options=self._options())
        except (OSError, av.error.FFmpegError) as exc:
            raise MicrophoneUnavailable(
                f"microphone {self.device!r} cannot be opened ({exc}); check that it is "
                "plugged in and [audio] device (`lessoncam-device devices` lists them; "
                'a "plughw:" name converts rates and channels the device lacks)'
            ) from exc

    def check(self) -> None:
        """Open and close the device (before a lesson): raises what :meth:`open` raises."""
        self.open().close()

    def av_input(self) -> dict[str, Any]:
        """What picamera2's encoder passes to ``av.open`` (its ``audio_input``)."""
        use_system_alsa_config()
        return {"file": self.device, "format": "alsa", "options": self._options()}

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
