"""The simulated microphone: beeps on the camera's flashes, drift and offset as configured."""

from __future__ import annotations

import numpy as np
import pytest

from lessoncam_device.sim.camera import CameraConfig, SimulatedCamera
from lessoncam_device.sim.clock import VirtualClock
from lessoncam_device.sim.microphone import MicrophoneConfig, SimulatedMicrophone

from .sim_helpers import beep_onsets, shared_scene

RATE = 48_000
CHUNK = 1024
CLOCK = VirtualClock(monotonic_s=1234.0)
WALL_MINUS_MONO = CLOCK.time() - CLOCK.monotonic()


def _camera() -> SimulatedCamera:
    config = CameraConfig(width=64, height=36, fps=30.0, flash_every_s=2.0, start_pts_s=1234.5)
    return SimulatedCamera(shared_scene(), None, config)


def _microphone(
    camera: SimulatedCamera, config: MicrophoneConfig | None = None
) -> SimulatedMicrophone:
    return SimulatedMicrophone(config or MicrophoneConfig(), camera.flashes, WALL_MINUS_MONO)


def _beeps_between(mic: SimulatedMicrophone, first_chunk: int, chunks: int) -> list[float]:
    """Reported wall times of the beeps found in a run of chunks (first channel)."""
    parts = [mic.chunk_at(i, CHUNK) for i in range(first_chunk, first_chunk + chunks)]
    audio = np.concatenate([p.samples[:, 0] for p in parts])
    return [parts[0].wall_s + n / RATE for n in beep_onsets(audio)]


def test_chunks_have_the_right_shape_and_timestamps() -> None:
    camera = _camera()
    for channels in (1, 2):
        mic = _microphone(camera, MicrophoneConfig(channels=channels))
        chunks = [mic.chunk_at(i, CHUNK) for i in range(3)]
        for i, chunk in enumerate(chunks):
            assert chunk.samples.shape == (CHUNK, channels)
            assert chunk.samples.dtype == np.int16
            assert chunk.first_sample == i * CHUNK
            assert chunk.wall_s == pytest.approx(1234.5 + WALL_MINUS_MONO + i * CHUNK / RATE)
    rms = float(np.sqrt((mic.chunk_at(5, CHUNK).samples.astype(np.float64) ** 2).mean()))
    assert 70 < rms < 130  # -50 dBFS of room noise


def test_stereo_channels_carry_the_same_beep_and_different_noise() -> None:
    mic = _microphone(_camera(), MicrophoneConfig(channels=2))
    quiet = mic.chunk_at(3, CHUNK).samples
    assert not np.array_equal(quiet[:, 0], quiet[:, 1])
    beep = mic.chunk_at(round(2.02 * RATE / CHUNK), CHUNK).samples.astype(np.int32)
    assert np.abs(beep[:, 0] - beep[:, 1]).max() < 1000 < np.abs(beep[:, 0]).max()


def test_without_flashes_the_start_must_be_given() -> None:
    with pytest.raises(ValueError):
        SimulatedMicrophone(MicrophoneConfig(), None)
    mic = SimulatedMicrophone(MicrophoneConfig(start_pts_s=10.0), None, 100.0)
    chunk = mic.chunk_at(2, 480)
    assert chunk.wall_s == pytest.approx(110.0 + 0.02)
    assert np.abs(chunk.samples).max() < 1000  # room noise only


def test_samples_do_not_depend_on_chunk_size() -> None:
    mic = _microphone(_camera())
    a = np.concatenate([mic.chunk_at(i, 1000).samples for i in range(3)])
    b = np.concatenate([mic.chunk_at(i, 1500).samples for i in range(2)])
    assert np.array_equal(a, b)
    assert np.array_equal(mic.chunk_at(7, 1000).samples, mic.chunk_at(7, 1000).samples)


def test_beep_is_a_100_ms_1_khz_tone() -> None:
    mic = _microphone(_camera(), MicrophoneConfig(noise_level=0.0))
    start = 2 * RATE  # the first flash, 2 s in
    audio = np.concatenate([mic.chunk_at(i, 4800).samples[:, 0] for i in range(19, 23)])
    audio = audio[start - 19 * 4800 : start - 19 * 4800 + 6000].astype(np.float64)
    loud = np.flatnonzero(np.abs(audio) > 0)
    assert (loud[-1] - loud[0] + 1) == pytest.approx(0.1 * RATE, abs=2)
    crossings = np.count_nonzero(np.diff(np.signbit(audio[loud[0] : loud[-1]])))
    assert crossings == pytest.approx(200, abs=2)  # 100 cycles
    assert np.abs(audio).max() == pytest.approx(0.5 * 32767, rel=0.01)


def test_beeps_line_up_with_the_flash_frames() -> None:
    camera = _camera()
    mic = _microphone(camera)
    beeps = _beeps_between(mic, 0, round(9.0 * RATE / CHUNK))
    assert len(beeps) == 4
    assert camera.flashes is not None
    for k, beep_wall in enumerate(beeps, start=1):
        pts, image = camera.frame_at(camera.flashes.frame_index(k))
        assert image.min() == 255
        assert abs(beep_wall - WALL_MINUS_MONO - pts) < 0.001


def test_microphone_started_later_still_beeps_at_the_flash() -> None:
    camera = _camera()
    mic = _microphone(camera, MicrophoneConfig(start_pts_s=1234.5 + 0.37))
    beeps = _beeps_between(mic, 0, round(5.0 * RATE / CHUNK))
    assert abs(beeps[0] - WALL_MINUS_MONO - (1234.5 + 2.0)) < 0.001


def test_fixed_offset_shifts_every_reported_beep() -> None:
    camera = _camera()
    mic = _microphone(camera, MicrophoneConfig(timestamp_offset_s=0.25))
    beeps = _beeps_between(mic, 0, round(5.0 * RATE / CHUNK))
    assert beeps[0] - WALL_MINUS_MONO - (1234.5 + 2.0) == pytest.approx(0.25, abs=0.001)


@pytest.mark.parametrize("ppm", [100.0, -40.0])
def test_drift_accumulates_as_configured_over_an_hour(ppm: float) -> None:
    camera = _camera()
    assert camera.flashes is not None
    mic = _microphone(camera, MicrophoneConfig(drift_ppm=ppm))
    k = 1800  # the flash one hour in
    flash_pts = camera.flashes.pts(k)
    assert flash_pts == pytest.approx(1234.5 + 3600.0)
    near = int((flash_pts - 1234.5 - 0.1) * RATE * (1 + ppm / 1e6)) // CHUNK
    beeps = _beeps_between(mic, near, round(0.4 * RATE / CHUNK))
    assert len(beeps) == 1
    late = beeps[0] - WALL_MINUS_MONO - flash_pts
    assert late == pytest.approx(3600.0 * ppm / 1e6, abs=0.001)  # 0.36 s at +100 ppm


async def test_stream_delivers_each_chunk_once_captured() -> None:
    clock = VirtualClock(monotonic_s=1234.0)
    camera = _camera()
    mic = _microphone(camera, MicrophoneConfig(drift_ppm=100.0))
    seen = 0
    async for chunk in mic.stream(clock, CHUNK):
        assert chunk.index == seen
        end = mic.sample_pts(chunk.first_sample + CHUNK)
        assert clock.monotonic() == pytest.approx(end)
        seen += 1
        if seen == 500:
            break
    assert clock.monotonic() == pytest.approx(1234.5 + 500 * CHUNK / (RATE * 1.0001))
