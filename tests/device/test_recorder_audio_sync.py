"""Putting microphone samples on the video clock: offset, drift estimate, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from lessoncam_device.recorder.audio_sync import (
    AudioSyncSettings,
    AudioTimeline,
    DriftEstimator,
    DriftResampler,
)


@pytest.mark.slow
@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_a_60_minute_lesson_stays_within_40_ms_at_100_ppm(ppm: float) -> None:
    """An hour of chunks arriving with real-time jitter; no encoding, so the whole hour."""
    rate, chunk = 8000, 2048
    true_rate = rate * (1 + ppm / 1e6)
    timeline = AudioTimeline(rate, 1, AudioSyncSettings(), block=1024)
    rng = np.random.default_rng(1)
    silence = np.zeros((chunk, 1), np.int16)
    worst = 0.0
    n = 0
    while n < 3600 * true_rate:
        stamp = n / rate  # stamped by counting at the nominal rate, as ALSA-like stacks do
        captured = (n + chunk) / true_rate  # when the chunk's last sample really was taken
        arrival = captured + 0.005 + rng.uniform(0.0, 0.02)  # period latency and jitter
        timeline.add(stamp, silence, arrival)
        n += chunk
        r = timeline._resampler
        assert r is not None
        # Output sample k plays at k / rate; it holds input sample r.pos (captured at
        # r.pos / true_rate). The difference is how far sound is from picture.
        error_s = r.pos / true_rate - (r.k + r.phase) / rate
        worst = max(worst, abs(error_s))
    assert timeline.ppm == pytest.approx(ppm, abs=5)
    assert worst < 0.040, worst


def test_the_estimate_ignores_jitter_and_waits_to_settle() -> None:
    est = DriftEstimator(48000, settle_s=30.0)
    rng = np.random.default_rng(2)
    for i in range(1, 1000):
        t = i * 0.05
        est.observe(t + rng.uniform(0, 0.03), t * 48000 * (1 + 250e-6))
        if t < 30:
            assert est.ppm == 0.0
    assert est.ppm == pytest.approx(250, abs=30)


def test_an_absurd_clock_is_clamped() -> None:
    est = DriftEstimator(48000, settle_s=1.0, max_ppm=5000)
    for i in range(100):
        est.observe(i * 0.1, i * 0.1 * 44100)  # a 44.1 kHz device taken for 48 kHz
    assert est.ppm == -5000


def test_resampling_is_smooth_when_the_ratio_changes() -> None:
    rate = 48000
    r = DriftResampler(1, rate, block=1024)
    n = np.arange(rate * 2)
    tone = np.sin(2 * np.pi * 440 * n / rate).astype(np.float32)[None, :]
    out: list[np.ndarray] = []
    for i in range(0, tone.shape[1], 1000):
        r.push(tone[:, i : i + 1000])
        ratio = 1.0 if i < rate else 1.002  # the estimate changes halfway
        out.extend(block[0] for _, block in r.pull(ratio))
    y = np.concatenate(out)
    assert len(y) > rate * 1.9
    # No clicks: consecutive samples never differ more than the tone's own slope allows.
    assert np.abs(np.diff(y)).max() < 2 * np.pi * 440 / rate * 1.01


def test_a_hole_in_the_microphone_stream_is_filled_with_silence() -> None:
    rate = 16000
    timeline = AudioTimeline(rate, 1, AudioSyncSettings(drift_correction=False), block=1024)
    loud = np.full((1600, 1), 8000, np.int16)
    got = timeline.add(1.0, loud, 1.1)
    got += timeline.add(1.1, loud, 1.2)
    got += timeline.add(1.5, loud, 1.6)  # 0.3 s went missing
    got += timeline.add(1.6, loud, 1.7)
    assert timeline.filled_samples == round(0.3 * rate)
    samples = np.concatenate([b[0] for _, b in got])
    first = got[0][0]
    assert first == rate  # 1.0 s into the recording
    hole = samples[round(0.25 * rate) : round(0.45 * rate)]
    assert np.abs(hole).max() == 0.0
    assert samples[round(0.55 * rate)] == pytest.approx(8000 / 32768)


def test_the_calibrated_offset_moves_the_sound() -> None:
    timeline = AudioTimeline(16000, 1, AudioSyncSettings(offset_s=-0.125), block=1024)
    got = timeline.add(2.0, np.zeros((2048, 1), np.int16), 2.1)
    assert got[0][0] == round((2.0 - 0.125) * 16000)
    assert timeline.first_sample_s == pytest.approx(1.875)


def test_sound_from_before_the_start_is_left_out() -> None:
    timeline = AudioTimeline(16000, 2, AudioSyncSettings(), block=1024)
    got = timeline.add(-0.1, np.ones((4096, 1), np.int16), 0.2)
    assert got and got[0][0] == 0
    assert got[0][1].shape == (2, 1024)  # mono duplicated to the encoder's two channels
