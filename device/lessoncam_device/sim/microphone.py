"""A simulated microphone: room noise, and a beep at every camera flash, on its own clock.

The camera's monotonic clock is the reference. The microphone's sample clock may run fast or
slow (``drift_ppm``): after T seconds of camera time it has produced T * (1 + ppm / 1e6) seconds'
worth of samples. Its chunks are stamped on the unit's wall clock the way an audio stack does:
the wall time capture started, plus samples counted at the nominal rate (plus an optional fixed
error). So beeps found in the audio drift and shift against the flashes in the video, as on
real hardware, and code that measures and corrects that can be tested.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..clock import Clock
from .camera import FlashSchedule

# Noise is generated in fixed blocks seeded by block number, so a sample's value does not
# depend on how the stream is chunked.
_NOISE_BLOCK = 4800
_BLOCKS_KEPT = 4  # two channels, each with the block a chunk started in and the next


@dataclass(frozen=True)
class MicrophoneConfig:
    """The microphone and its clock."""

    sample_rate: int = 48_000
    channels: int = 1
    start_pts_s: float | None = None  # camera time of sample 0; None: the camera's frame 0
    drift_ppm: float = 0.0  # the sample clock's error against the camera clock
    timestamp_offset_s: float = 0.0  # a fixed error in the reported timestamps
    beep_hz: float = 1000.0
    beep_s: float = 0.1
    beep_level: float = 0.5  # of full scale
    noise_level: float = 0.003  # rms, of full scale (about -50 dBFS)
    seed: int = 0


@dataclass(frozen=True)
class AudioChunk:
    """``samples`` is (n, channels) int16; ``wall_s`` is the reported time of its first sample."""

    index: int
    first_sample: int
    wall_s: float
    samples: NDArray[np.int16]


class SimulatedMicrophone:
    """PCM in chunks: ``chunk_at`` for virtual time, ``stream`` for real time."""

    def __init__(
        self,
        config: MicrophoneConfig | None = None,
        flashes: FlashSchedule | None = None,
        wall_minus_mono_s: float = 0.0,
    ) -> None:
        """``wall_minus_mono_s`` relates the unit's clocks: wall time = monotonic time + it."""
        self.config = config or MicrophoneConfig()
        c = self.config
        if c.channels not in (1, 2):
            raise ValueError("mono or stereo")
        self.flashes = flashes
        self.wall_minus_mono_s = wall_minus_mono_s
        start = c.start_pts_s
        if start is None:
            if flashes is None:
                raise ValueError("say when sample 0 is captured: start_pts_s or a flash schedule")
            start = flashes.start_pts_s
        self.start_pts_s = start
        # Samples per second of camera time: the sample clock's true rate.
        self.true_rate = c.sample_rate * (1.0 + c.drift_ppm / 1e6)
        self._blocks: dict[tuple[int, int], NDArray[np.float64]] = {}

    def sample_position(self, pts_s: float) -> float:
        """The (fractional) sample index captured at camera time ``pts_s``."""
        return (pts_s - self.start_pts_s) * self.true_rate

    def sample_pts(self, n: float) -> float:
        """Camera time at which sample ``n`` was really captured."""
        return self.start_pts_s + n / self.true_rate

    def timestamp_of(self, n: float) -> float:
        """The wall-clock timestamp the audio stack reports for sample ``n``."""
        c = self.config
        wall0 = self.start_pts_s + self.wall_minus_mono_s + c.timestamp_offset_s
        return wall0 + n / c.sample_rate

    def chunk_at(self, index: int, samples_per_chunk: int) -> AudioChunk:
        """Chunk ``index``: samples ``[index * n, (index + 1) * n)``."""
        c = self.config
        first = index * samples_per_chunk
        n = np.arange(first, first + samples_per_chunk, dtype=np.float64)
        signal = self._beeps(n)
        out = np.empty((samples_per_chunk, c.channels), np.int16)
        for ch in range(c.channels):
            mix = signal + self._noise(first, samples_per_chunk, ch)
            out[:, ch] = np.clip(np.round(mix * 32767.0), -32768, 32767).astype(np.int16)
        return AudioChunk(index, first, self.timestamp_of(first), out)

    async def stream(
        self, clock: Clock, samples_per_chunk: int, start_index: int = 0
    ) -> AsyncIterator[AudioChunk]:
        """Chunks in real time on ``clock`` (read as camera time): each once fully captured."""
        index = start_index
        while True:
            ready = self.sample_pts((index + 1) * samples_per_chunk)
            wait = ready - clock.monotonic()
            if wait > 0:
                await clock.sleep(wait)
            yield self.chunk_at(index, samples_per_chunk)
            index += 1

    def _beeps(self, n: NDArray[np.float64]) -> NDArray[np.float64]:
        c = self.config
        out = np.zeros(len(n))
        if self.flashes is None or len(n) == 0:
            return out
        lo = self.sample_pts(float(n[0])) - c.beep_s
        hi = self.sample_pts(float(n[-1]) + 1.0)
        for k in self.flashes.between(lo, hi):
            onset = self.sample_position(self.flashes.pts(k))
            dt = (n - onset) / self.true_rate  # seconds since the flash, in real time
            on = (dt >= 0) & (dt < c.beep_s)
            out[on] += c.beep_level * np.sin(2.0 * math.pi * c.beep_hz * dt[on])
        return out

    def _noise(self, first: int, count: int, channel: int) -> NDArray[np.float64]:
        c = self.config
        if c.noise_level <= 0:
            return np.zeros(count)
        b0, b1 = first // _NOISE_BLOCK, (first + count - 1) // _NOISE_BLOCK
        blocks = [self._noise_block(channel, b) for b in range(b0, b1 + 1)]
        start = first - b0 * _NOISE_BLOCK
        return np.concatenate(blocks)[start : start + count]

    def _noise_block(self, channel: int, b: int) -> NDArray[np.float64]:
        # A chunk is a fraction of a block: keep the last few rather than draw each again.
        block = self._blocks.get((channel, b))
        if block is None:
            c = self.config
            rng = np.random.default_rng([c.seed, channel, b])
            block = self._blocks[(channel, b)] = rng.normal(0.0, c.noise_level, _NOISE_BLOCK)
            while len(self._blocks) > _BLOCKS_KEPT:
                del self._blocks[next(iter(self._blocks))]  # the oldest drawn
        return block
