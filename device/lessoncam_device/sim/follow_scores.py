"""How well a closed-loop run followed the teacher, frame by frame (docs/tracking.md section 5).

- *Reachable* frames: the camera could see her marker at some pan within its soft limits
  (she is in the room, not hidden, not behind the camera). Only these count for following.
- *Re-acquire*: from the first frame in which she is reachable while the tracker is not locked
  (she came back, or it lost her) to the frame in which it is locked again. Those windows are
  measured by their length and left out of the in-view fraction, and they and the turn to her
  after them (until she is first in the middle third) out of the centred fraction: these say
  how well she is followed once found. ``in_view_fraction_all`` and ``centred_fraction_all``
  keep them in.
- *Stops*: every pause of at least ``STOP_MIN_S`` in which she can be seen. The overshoot is
  how far the camera ends up past her (where she stands in the pause) in the direction it
  came from; ``overshoot_to_marker_deg`` measures it from her marker's median bearing in the
  pause instead (the first benchmark's measure: a lean right after the stop moves that).
- *Error*: the angle between the optical axis and where she stands (``FrameRecord.stance``:
  while she pauses, her spot without her sway and leans, which the camera is meant not to
  follow; while she walks, her marker), over reachable frames. ``mean_error_to_marker_deg``
  keeps the first benchmark's measure, to the marker itself.
- *Standing*: pauses of at least ``STILL_MIN_S``, from the moment the camera first rests after
  she stops (at least ``STILL_SETTLE_S`` in): the pan's range, and how many separate moves
  (glides) it makes.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..tracking.controller import TrackState
from .pan_follow import FrameRecord, RunResult

STOP_MIN_S = 1.0
STILL_MIN_S = 6.0
STILL_SETTLE_S = 1.0
# The pan moves (frame to frame, deg/s) above this; it rests after this long below it.
_MOVING_DPS = 0.3
_REST_S = 0.3
# Approaches closer than this say nothing about a direction.
_APPROACH_DEG = 0.3


@dataclass(frozen=True)
class Scores:
    """The figures of one run (or of several pooled)."""

    frames: int
    reachable_frames: int
    centred_fraction: float
    centred_fraction_all: float
    in_view_fraction: float
    in_view_fraction_all: float
    mean_error_deg: float  # angle between where she stands and the optical axis
    p95_error_deg: float
    mean_error_to_marker_deg: float  # ... between her marker (sway and leans in) and the axis
    p95_accel_deg_s2: float
    max_accel_deg_s2: float
    reacquire_s: list[float]  # from back in the picture to locked (the older measure)
    reacquire_from_visible_s: list[float]  # from reachable to locked
    overshoot_deg: list[float]  # one per stop, past where she stands
    overshoot_to_marker_deg: list[float]  # ... past her marker (a lean after the stop counts)
    still_s: float  # seconds of standing measured
    still_glides: int
    still_movement_deg: list[float]  # pan range, one per stand

    @property
    def reacquire_s_max(self) -> float:
        return max(self.reacquire_s, default=0.0)

    @property
    def reacquire_from_visible_s_max(self) -> float:
        return max(self.reacquire_from_visible_s, default=0.0)

    @property
    def overshoot_deg_max(self) -> float:
        return max(self.overshoot_deg, default=0.0)

    @property
    def overshoot_to_marker_deg_max(self) -> float:
        return max(self.overshoot_to_marker_deg, default=0.0)

    @property
    def still_glides_per_min(self) -> float:
        return self.still_glides / (self.still_s / 60.0) if self.still_s > 0 else 0.0

    @property
    def still_movement_deg_max(self) -> float:
        return max(self.still_movement_deg, default=0.0)


def _fraction(hits: int, total: int) -> float:
    return hits / total if total else 1.0


def reacquire_times(records: Sequence[FrameRecord]) -> list[float]:
    """For every time the marker came (back) into the picture while the tracker was not
    locked: seconds until it locked. The clock restarts if the marker leaves the picture
    again before the lock (it cannot be found while out of the picture)."""
    times: list[float] = []
    since: float | None = None
    for r in records:
        locked = r.state is TrackState.LOCKED
        if since is not None and locked:
            times.append(r.t - since)
            since = None
        elif not locked:
            if r.marker_x is None:
                since = None
            elif since is None:
                since = r.t
    return times


def reacquire_windows(records: Sequence[FrameRecord]) -> tuple[list[float], set[int]]:
    """Seconds from reachable-but-not-locked to locked, each time; and the frames inside
    those windows. A window still open at the end counts until the end."""
    times: list[float] = []
    inside: set[int] = set()
    start: int | None = None
    for i, r in enumerate(records):
        locked = r.state is TrackState.LOCKED
        if not r.reachable:
            start = None  # out of reach again: nothing to find yet
            continue
        if locked:
            if start is not None:
                times.append(r.t - records[start].t)
                start = None
            continue
        if start is None:
            start = i
        inside.add(i)
    if start is not None:
        times.append(records[-1].t - records[start].t)
    return times, inside


def _spells(records: Sequence[FrameRecord], min_s: float) -> list[tuple[int, int]]:
    """(first, last) frame indices of each standing pause of at least ``min_s``."""
    spells: list[tuple[int, int]] = []
    start: int | None = None
    for i, r in enumerate(records):
        same = start is not None and r.standing and r.leg == records[start].leg
        if not same:
            if start is not None and records[i - 1].t - records[start].t >= min_s:
                spells.append((start, i - 1))
            start = i if r.standing else None
    if start is not None and records[-1].t - records[start].t >= min_s:
        spells.append((start, len(records) - 1))
    return spells


def _sign(x: float) -> float:
    return 0.0 if abs(x) < _APPROACH_DEG else (1.0 if x > 0 else -1.0)


def overshoots(records: Sequence[FrameRecord], fps: float, to_marker: bool = False) -> list[float]:
    """How far past her the camera went at each stop (0 when it stopped short): past where she
    stands, or (``to_marker``) past her marker's median bearing, sway and leans included."""
    found: list[float] = []
    back = max(1, round(0.5 * fps))
    for first, last in _spells(records, STOP_MIN_S):
        seen = [i for i in range(first, last + 1) if records[i].reachable]
        if not seen:
            continue
        stop = statistics.median(
            records[i].bearing_deg if to_marker else records[i].stance for i in seen
        )
        locked = [i for i in seen if records[i].state is TrackState.LOCKED]
        if not locked:
            continue
        ref = locked[0]
        direction = 0.0
        if ref == first and first >= back:
            # Followed into the stop: she came from this side.
            direction = _sign(records[first].bearing_deg - records[first - back].bearing_deg)
        if direction == 0.0:
            direction = _sign(stop - records[ref].pan_deg)
        if direction == 0.0:
            found.append(0.0)
            continue
        past = max(direction * (records[i].pan_deg - stop) for i in seen if i >= ref)
        found.append(max(0.0, past))
    return found


def stands(records: Sequence[FrameRecord], fps: float) -> tuple[float, int, list[float]]:
    """(seconds measured, glides, pan range per stand) while she stands."""
    total_s = 0.0
    glides = 0
    ranges: list[float] = []
    rest_frames = max(1, round(_REST_S * fps))
    for first, last in _spells(records, STILL_MIN_S):
        if not all(records[i].reachable for i in range(first, last + 1)):
            continue  # hidden for part of it: a search, not a stand
        pans = np.array([records[i].pan_deg for i in range(first, last + 1)])
        moving = np.abs(np.diff(pans, prepend=pans[0])) * fps > _MOVING_DPS
        earliest = round(STILL_SETTLE_S * fps)
        begin = None
        quiet = 0
        for k in range(len(pans)):
            quiet = 0 if moving[k] else quiet + 1
            if k >= earliest and quiet >= rest_frames:
                begin = k
                break
        if begin is None:
            continue
        window = moving[begin:]
        onsets = 0
        quiet = rest_frames
        for m in window:
            if m and quiet >= rest_frames:
                onsets += 1
            quiet = 0 if m else quiet + 1
        glides += onsets
        total_s += (len(window) - 1) / fps
        ranges.append(float(pans[begin:].max() - pans[begin:].min()))
    return total_s, glides, ranges


def score_records(records: Sequence[FrameRecord], width: int, fps: float) -> Scores:
    """Score the frames of one run."""
    third = width / 6.0
    cx = (width - 1) / 2.0
    reacquire, windows = reacquire_windows(records)

    def is_centred(r: FrameRecord) -> bool:
        return r.marker_x is not None and abs(r.marker_x - cx) <= third

    finding = set(windows)
    for i in sorted(windows):
        # After the lock: turning to her, until she is first in the middle third.
        j = i + 1
        while j < len(records) and j not in windows and records[j].reachable:
            if is_centred(records[j]):
                break
            finding.add(j)
            j += 1
    followed = [r for i, r in enumerate(records) if r.reachable and i not in windows]
    in_view = sum(1 for r in followed if r.marker_x is not None)
    centrable = [r for i, r in enumerate(records) if r.centrable and i not in finding]
    centred = sum(1 for r in centrable if is_centred(r))
    centrable_all = [r for r in records if r.centrable]
    reachable = [r for r in records if r.reachable]
    in_view_all = sum(1 for r in reachable if r.marker_x is not None)
    errors = np.array([abs(r.stance - r.pan_deg) for r in reachable]) if reachable else None
    to_marker = np.array([abs(r.bearing_deg - r.pan_deg) for r in reachable]) if reachable else None
    pans = np.array([r.pan_deg for r in records])
    accel = np.abs(np.diff(pans, 2)) * fps**2 if len(pans) > 2 else np.zeros(1)
    still_s, glides, ranges = stands(records, fps)
    return Scores(
        frames=len(records),
        reachable_frames=len(reachable),
        centred_fraction=_fraction(centred, len(centrable)),
        centred_fraction_all=_fraction(sum(map(is_centred, centrable_all)), len(centrable_all)),
        in_view_fraction=_fraction(in_view, len(followed)),
        in_view_fraction_all=_fraction(in_view_all, len(reachable)),
        mean_error_deg=float(errors.mean()) if errors is not None else 0.0,
        p95_error_deg=float(np.percentile(errors, 95)) if errors is not None else 0.0,
        mean_error_to_marker_deg=float(to_marker.mean()) if to_marker is not None else 0.0,
        p95_accel_deg_s2=float(np.percentile(accel, 95)),
        max_accel_deg_s2=float(accel.max()),
        reacquire_s=reacquire_times(records),
        reacquire_from_visible_s=reacquire,
        overshoot_deg=overshoots(records, fps),
        overshoot_to_marker_deg=overshoots(records, fps, to_marker=True),
        still_s=still_s,
        still_glides=glides,
        still_movement_deg=ranges,
    )


def score(result: RunResult) -> Scores:
    """Score a run frame by frame."""
    return score_records(result.records, result.width, result.fps)
