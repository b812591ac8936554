"""Putting the microphone's samples on the video clock: fixed offset, drift, resampling.

Video pts come from the camera's monotonic clock; the microphone's chunks are stamped on the
wall clock (ALSA through libavdevice does that), and its sample clock is a different crystal
that runs a little fast or slow (tens to a hundred ppm: 0.36 s an hour at 100 ppm).

- The *offset*: the first chunk's wall stamp, moved to the monotonic clock, plus a fixed
  ``offset_s`` calibrated per hardware, says when the first sample was captured.
- The *drift*: a least-squares fit of samples delivered against elapsed video-clock time
  (one point per chunk) measures the true sample rate; while it settles (``settle_s``) the
  nominal rate is used.
- The *correction* resamples (linear interpolation, varying ratio): sample ``k`` of the output
  is the input at position ``k * ratio``, so the AAC track has exactly ``sample_rate`` samples
  per second of video time and its timestamps stay contiguous. Players that play audio
  sample by sample (browsers do) then stay in sync, not only those that obey timestamps.
  Changes of the estimate are steered in gently (at most ``max_slew_ppm`` faster or slower,
  an inaudible pitch change) instead of jumping.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)


class DriftEstimator:
    """The microphone's true rate against the video clock, from (video time, samples) points.

    A least-squares line through every point of the recording: jitter in when chunks arrive
    averages out, and a constant crystal error is what it measures best.
    """

    def __init__(
        self, nominal_rate: float, settle_s: float = 30.0, max_ppm: float = 5000.0
    ) -> None:
        self.nominal_rate = nominal_rate
        self.settle_s = settle_s
        self.max_ppm = max_ppm
        self._ref: tuple[float, float] | None = None
        self._n = 0
        self._sx = self._sy = self._sxx = self._sxy = 0.0
        self._span = 0.0
        self._ppm = 0.0
        self._warned = False

    def observe(self, video_t_s: float, samples: float) -> None:
        """``samples`` had been delivered when the video clock read ``video_t_s``."""
        if self._ref is None:
            self._ref = (video_t_s, samples)
        x, y = video_t_s - self._ref[0], samples - self._ref[1]
        self._n += 1
        self._sx += x
        self._sy += y
        self._sxx += x * x
        self._sxy += x * y
        self._span = max(self._span, x)
        if self._span >= self.settle_s and self._n >= 3:
            self._ppm = self._fit()

    @property
    def ppm(self) -> float:
        """How much faster than nominal the sample clock runs (0 until settled)."""
        return self._ppm

    @property
    def ratio(self) -> float:
        """Input samples per nominal sample of video time."""
        return 1.0 + self._ppm / 1e6

    def _fit(self) -> float:
        n = self._n
        var = n * self._sxx - self._sx * self._sx
        if var <= 0:
            return self._ppm
        slope = (n * self._sxy - self._sx * self._sy) / var
        ppm = (slope / self.nominal_rate - 1.0) * 1e6
        if abs(ppm) > self.max_ppm:
            if not self._warned:
                log.warning(
                    "microphone clock off by %.0f ppm (more than %.0f): check the sample rate",
                    ppm,
                    self.max_ppm,
                )
                self._warned = True
            ppm = math.copysign(self.max_ppm, ppm)
        return ppm


class DriftResampler:
    """A continuous resampler whose ratio may change between blocks, without clicks.

    Output sample ``k`` should be the input at position ``(k + phase) * ratio``; the read
    position follows that target with a bounded slew, and jumps only when it is further off
    than ``max_jump_s`` (a hole in the input, say).
    """

    def __init__(
        self,
        channels: int,
        sample_rate: int,
        block: int = 1024,
        *,
        phase: float = 0.0,
        max_slew_ppm: float = 2000.0,
        max_jump_s: float = 0.1,
    ) -> None:
        self.channels = channels
        self.block = block
        self.phase = phase
        self.max_slew = max_slew_ppm / 1e6
        self.max_jump = max_jump_s * sample_rate
        self._buf: NDArray[np.float32] = np.zeros((channels, 0), np.float32)
        self._buf_start = 0  # input index of _buf[:, 0]
        self._received = 0  # input samples pushed so far
        self.k = 0  # next output sample
        self.pos = phase  # input position of output sample k

    @property
    def received(self) -> int:
        return self._received

    def skip_to(self, k: int, ratio: float = 1.0) -> None:
        """Start the output at sample ``k`` (drop what comes before it)."""
        self.k = k
        self.pos = (k + self.phase) * ratio

    def push(self, samples: NDArray[np.float32]) -> None:
        """Append input samples, (channels, n)."""
        self._buf = np.concatenate([self._buf, samples], axis=1)
        self._received += samples.shape[1]

    def pull(self, ratio: float) -> list[tuple[int, NDArray[np.float32]]]:
        """Every full output block the input allows: (output index of its first sample, block)."""
        out: list[tuple[int, NDArray[np.float32]]] = []
        b = self.block
        while True:
            error = (self.k + self.phase) * ratio - self.pos
            if abs(error) > self.max_jump:
                log.info("audio position off by %.0f samples: jumping", error)
                self.pos += error
                error = 0.0
            limit = b * self.max_slew
            step = ratio + min(max(error, -limit), limit) / b
            last = self.pos + step * (b - 1)
            if math.floor(last) + 1 >= self._buf_start + self._buf.shape[1]:
                break  # not enough input yet
            positions = self.pos + step * np.arange(b)
            rel = positions - self._buf_start
            if rel[0] < 0:  # the target lies before what is kept: silence
                block = np.zeros((self.channels, b), np.float32)
            else:
                i0 = np.floor(rel).astype(np.int64)
                frac = (rel - i0).astype(np.float32)
                block = self._buf[:, i0] * (1.0 - frac) + self._buf[:, i0 + 1] * frac
            out.append((self.k, block.astype(np.float32, copy=False)))
            self.k += b
            self.pos += step * b
            self._trim()
        self._trim()
        return out

    def _trim(self) -> None:
        keep_from = max(math.floor(self.pos) - 1, self._buf_start)
        drop = min(keep_from - self._buf_start, self._buf.shape[1])
        if drop > 0:
            self._buf = self._buf[:, drop:]
            self._buf_start += drop


@dataclass(frozen=True)
class AudioSyncSettings:
    """How the microphone's time is mapped onto the video clock."""

    offset_s: float = 0.0  # added to the microphone's timestamps (calibrated per hardware)
    drift_correction: bool = True
    # Measure this long before correcting: at 100 ppm only 3 ms drift by then, and arrival
    # jitter (ALSA periods, frame quantisation) has averaged out of the estimate.
    settle_s: float = 30.0
    max_drift_ppm: float = 5000.0  # larger estimates are clamped (and logged)
    max_slew_ppm: float = 2000.0
    gap_s: float = 0.1  # a jump in the wall stamps larger than this is a hole (filled silent)


class AudioTimeline:
    """Microphone chunks in; blocks on the recording's clock out, ready for the AAC encoder.

    ``to_recording_s`` maps a chunk's timestamp to recording time (for ALSA: wall clock minus
    (wall - monotonic) minus the recording's t0). Output block ``(pts, samples)`` has ``pts``
    in samples of recording time; sample ``pts + i`` plays at ``(pts + i) / sample_rate``.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        settings: AudioSyncSettings,
        block: int = 1024,
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.settings = settings
        self.block = block
        self.drift = DriftEstimator(sample_rate, settings.settle_s, settings.max_drift_ppm)
        self._resampler: DriftResampler | None = None
        self._out0 = 0  # output sample index (recording time * rate) of resampler output 0
        self._next_stamp: float | None = None
        self.chunks = 0
        self.filled_samples = 0  # silence put into holes

    @property
    def ppm(self) -> float:
        return self.drift.ppm

    @property
    def first_sample_s(self) -> float | None:
        """Recording time of the first microphone sample (None before any)."""
        if self._resampler is None:
            return None
        return (self._out0 - self._resampler.phase) / self.sample_rate

    def add(
        self, stamp_s: float, samples: NDArray[np.generic], video_t_s: float | None
    ) -> list[tuple[int, NDArray[np.float32]]]:
        """One chunk: its first sample's time ``stamp_s`` (recording time, before the
        calibrated offset), its samples (n, channels) int16 or float, and the video clock's
        time ``video_t_s`` when it was delivered (None: not known, e.g. chunks held back
        until the first frame; they do not count for the drift)."""
        pcm = self._planar(samples)
        rate = self.sample_rate
        if self._resampler is None:
            first = stamp_s + self.settings.offset_s
            self._out0 = math.ceil(first * rate)
            phase = self._out0 - first * rate  # in [0, 1): output 0 is a hair after input 0
            self._resampler = DriftResampler(
                self.channels,
                rate,
                self.block,
                phase=phase,
                max_slew_ppm=self.settings.max_slew_ppm,
            )
            if self._out0 < 0:  # captured before t = 0: not part of the recording
                self._resampler.skip_to(-self._out0)
        elif self._next_stamp is not None:
            hole = stamp_s - self._next_stamp
            if hole > self.settings.gap_s:
                n = round(hole * rate)
                log.warning("microphone skipped %.3f s: filling it with silence", hole)
                self._resampler.push(np.zeros((self.channels, n), np.float32))
                self.filled_samples += n
        r = self._resampler
        r.push(pcm)
        self._next_stamp = stamp_s + pcm.shape[1] / rate
        self.chunks += 1
        if self.settings.drift_correction and video_t_s is not None:
            self.drift.observe(video_t_s, r.received)
        return [(self._out0 + k, block) for k, block in r.pull(self.drift.ratio)]

    def _planar(self, samples: NDArray[np.generic]) -> NDArray[np.float32]:
        """(n, channels) int16/float to (channels, n) float32 in [-1, 1], channels matched."""
        a = np.asarray(samples)
        if a.ndim == 1:
            a = a[:, None]
        scale = 1.0 / 32768.0 if a.dtype == np.int16 else 1.0
        pcm = (a.astype(np.float32) * np.float32(scale)).T
        if pcm.shape[0] != self.channels:
            mono = pcm.mean(axis=0, keepdims=True)
            pcm = np.repeat(mono, self.channels, axis=0)
        return np.ascontiguousarray(pcm)
