"""Where a run's pointing error comes from: the error split by what the teacher is doing.

Each reachable frame gets one phase from the path alone (the same frames for every controller,
so two controllers' errors compare phase by phase):

- ``found_again``: the first ``FOUND_S`` after she was out of reach or hidden (a search ends);
- ``walk_start``: the first ``START_S`` of a walk that follows a pause;
- ``braking``: the last ``BRAKE_S`` of a walk (she slows down and stops);
- ``walking``: the rest of a walk;
- ``after_stop``: the first ``SETTLE_S`` of a pause (the camera arrives and settles);
- ``standing``: the rest of a pause (she sways, gestures, leans; the camera should rest).

``breakdown`` gives, per phase, the share of frames, the mean error of each run and each
phase's part of the ratio of the runs' mean errors (the parts add up to the ratio).
"""

from __future__ import annotations

from collections.abc import Sequence

from .pan_follow import FrameRecord

FOUND_S = 3.0
START_S = 1.0
BRAKE_S = 1.0
SETTLE_S = 2.0
PHASES = ("found_again", "walk_start", "walking", "braking", "after_stop", "standing")


def phases(records: Sequence[FrameRecord]) -> list[str | None]:
    """The phase of every frame (None where she cannot be reached)."""
    n = len(records)
    # Each leg's first and last frame time.
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for r in records:
        first.setdefault(r.leg, r.t)
        last[r.leg] = r.t
    standing_legs = {r.leg for r in records if r.standing}
    out: list[str | None] = [None] * n
    gone_until: float | None = None  # when she was last out of reach (or hidden)
    for i, r in enumerate(records):
        if not r.reachable:
            gone_until = r.t
            continue
        if gone_until is not None and r.t - gone_until < FOUND_S:
            out[i] = "found_again"
        elif r.standing:
            out[i] = "after_stop" if r.t - first[r.leg] < SETTLE_S else "standing"
        elif last[r.leg] - r.t < BRAKE_S:
            out[i] = "braking"
        elif r.t - first[r.leg] < START_S and (r.leg - 1 in standing_legs or r.leg == 0):
            out[i] = "walk_start"
        else:
            out[i] = "walking"
    return out


def breakdown(
    ours: Sequence[FrameRecord], other: Sequence[FrameRecord]
) -> dict[str, dict[str, float]]:
    """Per phase: ``frames`` (share of reachable frames), ``ours_deg`` and ``other_deg`` (mean
    error to where she stands) and ``ratio_part`` (this phase's error in ours / all of the
    other's error: the parts add up to the runs' ratio of mean errors). Both runs must be of
    the same path at the same frame rate."""
    if len(ours) != len(other):
        raise ValueError("the runs differ in length: not the same path")
    labels = phases(ours)
    sums: dict[str, list[float]] = {p: [0.0, 0.0, 0.0] for p in PHASES}
    for label, a, b in zip(labels, ours, other, strict=True):
        if label is None:
            continue
        cell = sums[label]
        cell[0] += 1
        cell[1] += abs(a.stance - a.pan_deg)
        cell[2] += abs(b.stance - b.pan_deg)
    total_frames = sum(c[0] for c in sums.values())
    total_other = sum(c[2] for c in sums.values())
    return {
        p: {
            "frames": round(c[0] / total_frames, 4) if total_frames else 0.0,
            "ours_deg": round(c[1] / c[0], 3) if c[0] else 0.0,
            "other_deg": round(c[2] / c[0], 3) if c[0] else 0.0,
            "ratio_part": round(c[1] / total_other, 3) if total_other else 0.0,
        }
        for p, c in sums.items()
    }
