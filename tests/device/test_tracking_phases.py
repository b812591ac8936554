"""The benchmark's error breakdown: every reachable frame gets the phase of what she is doing,
and the phases' parts add up to the ratio of two runs' mean errors."""

from __future__ import annotations

import pytest

from lessoncam_device.sim.follow_phases import breakdown, phases
from lessoncam_device.sim.pan_follow import FrameRecord
from lessoncam_device.tracking.controller import TrackState


def frames(off: float, n: int = 110) -> list[FrameRecord]:
    """10 fps: stands 3 s (leg 0), walks 3 s (leg 1), hidden 1 s, stands 4 s (leg 2); the
    camera ``off`` degrees from her."""
    out = []
    for i in range(n):
        t = i / 10.0
        hidden = 6.0 <= t < 7.0
        standing = t < 3.0 or t >= 6.0
        leg = 0 if t < 3.0 else 1 if t < 6.0 else 2
        bearing = 0.0 if t < 3.0 else min(t - 3.0, 3.0) * 2.0
        out.append(
            FrameRecord(
                t,
                bearing + off,
                bearing,
                not hidden,
                960.0,
                TrackState.LOCKED,
                not hidden,
                True,
                standing,
                leg,
            )
        )
    return out


def test_every_reachable_frame_gets_the_phase_of_what_she_does() -> None:
    labels = phases(frames(0.0))
    at = {round(i / 10.0, 1): label for i, label in enumerate(labels)}
    assert at[1.0] == "after_stop" and at[2.5] == "standing"
    assert at[3.2] == "walk_start" and at[4.5] == "walking" and at[5.5] == "braking"
    assert at[6.5] is None  # hidden: nothing to point at
    assert at[7.5] == "found_again" and at[10.5] == "standing"


def test_the_parts_add_up_to_the_ratio_of_mean_errors() -> None:
    ours = frames(0.5)
    other = frames(0.1)
    table = breakdown(ours, other)

    def mean_error(run: list[FrameRecord]) -> float:
        seen = [abs(r.stance - r.pan_deg) for r in run if r.reachable]
        return sum(seen) / len(seen)

    ratio = mean_error(ours) / mean_error(other)
    assert sum(p["ratio_part"] for p in table.values()) == pytest.approx(ratio, abs=0.01)
    assert sum(p["frames"] for p in table.values()) == pytest.approx(1.0, abs=0.01)
    assert table["standing"] == {
        "frames": pytest.approx(0.2, abs=0.02),
        "ours_deg": 0.5,
        "other_deg": 0.1,
        "ratio_part": pytest.approx(21 * 0.5 / (100 * 0.1), abs=0.01),  # 21 of 100 frames
    }


def test_runs_of_different_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="not the same path"):
        breakdown(frames(0.0), frames(0.0, n=100))
