"""The resting camera: when a standing teacher has really moved off, and when to re-centre on
her lazily. Pure: sightings in, decisions out.

A person standing never stands still: she sways (a few centimetres, over seconds), gestures and
leans. None of that should move the camera. So resting has hysteresis: the camera starts to move
only when she is beyond the band on the same side for ``sustain_s``, or far off at once (beyond
``escape`` bands), or clearly walking off (further from where she stood than a lean takes her,
still going at ``walk_dps`` and not slowing down before the band's edge); once moving, the
controller stops much closer to her (its settle band).

The band is ``band_deg``, or a marker width when that is wider: a marker is ~20 cm, more than a
sway or a lean, and nearer the camera the same lean is a larger angle. Lazy re-centring waits
until she has stood for ``recentre_after_s`` (long enough to average a slow sway) with her
sightings within ``sway`` (~6 cm: a sway, not a lean), and aims at their middle, only when that
is clearly off the centre (more than ``recentre_min_deg``, and more than the sway explains).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .estimate import fit_motion


@dataclass(frozen=True)
class RestSettings:
    """How much a standing teacher may move before the camera does."""

    band_deg: float = 2.0  # beyond this (or a marker width) from the picture's centre ...
    band_markers: float = 0.85  # ... the band is at least this many marker widths
    sustain_s: float = 0.25  # ... for this long: she has moved
    escape: float = 2.5  # beyond this many bands: she has moved, at once
    walk_dps: float = 2.0  # walking off: at least this fast ...
    walk_window_s: float = 0.4  # ... over this long ...
    walk_min: float = 0.7  # ... already this many bands from where she stood ...
    walk_min_markers: float = 0.8  # ... and marker widths (~16 cm: more than a lean) ...
    lead_s: float = 1.2  # ... and out of the band within this time
    recentre_after_s: float = 8.0  # stood (sway allowed) this long: re-centre on her
    recentre_min_deg: float = 0.2  # ... if the middle of her sway is this far off-centre
    # She stands (sway allowed) while her sightings spread less than this many marker widths
    # (~6 cm: a sway, not a lean or a step), or ``sway_deg`` while the marker's size is unknown.
    sway_markers: float = 0.3
    sway_min_deg: float = 0.3
    sway_deg: float = 1.5
    # Settling after a step: her marker's width changed this much since the camera came to
    # rest (she walked nearer or further: a sway or a lean does not do that), and over the
    # last ``settle_window_s`` she stands (within ``sway``): re-centre on her now.
    step_size_change: float = 0.15
    settle_window_s: float = 0.4

    def __post_init__(self) -> None:
        if self.band_deg <= 0 or self.band_markers < 0 or self.escape < 1:
            raise ValueError("band_deg must be > 0, band_markers >= 0 and escape >= 1")
        if self.sustain_s < 0 or self.walk_window_s <= 0 or self.recentre_after_s < 0:
            raise ValueError("sustain_s and recentre_after_s must be >= 0, walk_window_s > 0")


class RestPolicy:
    """Sightings while the camera rests at ``pan``; says when to leave and where to glide."""

    def __init__(self, settings: RestSettings | None = None) -> None:
        self.settings = settings or RestSettings()
        self.pan = 0.0
        self.marker_deg = 0.0  # the marker's width as an angle (0: not known)
        self._since = 0.0
        self._sightings: deque[tuple[float, float]] = deque()
        self._outside_since: float | None = None
        self._outside_side = 0
        self._widths: deque[tuple[float, float]] = deque()  # (t, marker width) since rest
        self._width_at_rest: float | None = None

    def start(self, t: float, pan: float) -> None:
        """The camera has come to rest at ``pan`` at time ``t``: forget what came before."""
        self.pan = pan
        self._since = t
        self._sightings.clear()
        self._outside_since = None
        self._outside_side = 0
        self._widths.clear()
        self._width_at_rest = None

    @property
    def sway(self) -> float:
        """How far her sightings may spread while she stands (sways)."""
        s = self.settings
        if self.marker_deg <= 0:
            return s.sway_deg
        return max(s.sway_min_deg, s.sway_markers * self.marker_deg)

    @property
    def band(self) -> float:
        """How far she may be from the centre before the camera follows."""
        s = self.settings
        return max(s.band_deg, s.band_markers * self.marker_deg)

    def observe(self, t: float, bearing: float, marker_deg: float | None = None) -> bool:
        """Take a sighting (and the marker's width, as an angle, if known); True when she has
        moved off and the camera should follow."""
        s = self.settings
        if marker_deg is not None and marker_deg > 0:
            self.marker_deg = marker_deg
            self._note_width(t, marker_deg)
        keep = max(s.recentre_after_s, s.walk_window_s) * 2.0
        self._sightings.append((t, bearing))
        while self._sightings and self._sightings[0][0] < t - keep:
            self._sightings.popleft()
        band = self.band
        offset = bearing - self.pan
        if abs(offset) > s.escape * band:
            return True
        side = (offset > band) - (offset < -band)
        if side == 0 or side != self._outside_side:
            self._outside_since = t if side else None
            self._outside_side = side
        elif self._outside_since is not None and t - self._outside_since >= s.sustain_s:
            return True
        return self._walking_off(t, band)

    def _walking_off(self, t: float, band: float) -> bool:
        s = self.settings
        recent = [(ts, b) for ts, b in self._sightings if ts >= t - s.walk_window_s]
        if len(recent) < 4 or recent[-1][0] - recent[0][0] < 0.6 * s.walk_window_s:
            return False
        _, rate, accel = fit_motion(recent, t)
        if abs(rate) < s.walk_dps:
            return False
        # Where she is: the last two sightings (a parabola through a jump rings past it).
        now = (recent[-1][1] + recent[-2][1]) / 2.0
        before = sorted(b for ts, b in self._sightings if ts < recent[0][0])
        # Where she stood: the median, not the mean, so a lean held a while does not move it;
        # seen only this long, where she was first seen (not the picture's centre: standing
        # off-centre inside the band is not a walk).
        anchor = before[len(before) // 2] if before else recent[0][1]
        moved = now - anchor
        travel = abs(rate) * s.lead_s
        if accel * rate < 0:
            # Slowing down (the end of a lean, not the start of a walk): where she stops.
            travel = min(travel, rate * rate / (2.0 * abs(accel)))
        ahead = now + travel * (1.0 if rate > 0 else -1.0) - self.pan
        least = max(s.walk_min * band, s.walk_min_markers * self.marker_deg)
        return moved * rate > 0 and abs(moved) >= least and abs(ahead) > band

    def recentre_target(self, t: float) -> float | None:
        """Where to glide to, once she has stood off-centre long enough; else None. Standing
        means for ``recentre_after_s`` (long enough to average a slow sway) within
        ``sway``."""
        s = self.settings
        if t - self._since < s.recentre_after_s:
            return None
        window = [(ts, b) for ts, b in self._sightings if ts >= t - s.recentre_after_s]
        if len(window) < 3 or window[-1][0] - window[0][0] < 0.75 * s.recentre_after_s:
            return None  # not seen enough of her lately to know where she stands
        recent = [b for _, b in window]
        spread = max(recent) - min(recent)
        if spread > self.sway:
            return None  # she is moving about, not standing
        middle = sum(recent) / len(recent)
        # The middle of a sway is known to about a third of its width: closer than that a
        # glide would only chase the sway.
        off = abs(middle - self.pan)
        return middle if off >= max(s.recentre_min_deg, 0.6 * spread) else None

    def _note_width(self, t: float, width: float) -> None:
        window = self.settings.settle_window_s
        self._widths.append((t, width))
        while self._widths and self._widths[0][0] < t - window:
            self._widths.popleft()
        if self._width_at_rest is None and len(self._widths) >= 3:
            # Where she was when the camera came to rest: the median of its first sightings.
            self._width_at_rest = sorted(w for _, w in self._widths)[len(self._widths) // 2]

    def settle_target(self, t: float) -> float | None:
        """After a step: where to settle now (else None). She has walked nearer or further
        since the camera came to rest (her marker's width changed by ``step_size_change``),
        and over the last ``settle_window_s`` she stands: the middle of those sightings, when
        clearly off-centre. Waiting ``recentre_after_s`` would leave her off-centre for a
        whole short stop."""
        s = self.settings
        if self._width_at_rest is None or len(self._widths) < 4:
            return None
        widths = sorted(w for _, w in self._widths)
        now = widths[len(widths) // 2]
        if abs(now / self._width_at_rest - 1.0) < s.step_size_change:
            return None
        window = [b for ts, b in self._sightings if ts >= t - s.settle_window_s]
        if len(window) < 4 or max(window) - min(window) > self.sway:
            return None  # still walking (one still walking along her line of sight, hardly
            # changing her bearing, is settled on as she goes: no harm, she is not standing)
        middle = sum(window) / len(window)
        return middle if abs(middle - self.pan) >= s.recentre_min_deg else None

    def still_there(self, target: float, bearing: float) -> bool:
        """During a glide to ``target``: whether a sighting still fits her standing there."""
        return abs(bearing - target) <= self.sway
