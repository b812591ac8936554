"""Where the camera looks while she is lost: her predicted spot first, then a sweep that covers
the whole reach, then a sensible resting view."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lessoncam_device.tracking.search import (
    Phase,
    SearchPlan,
    SearchSettings,
    resting_view,
    sweep_stops,
)

S = SearchSettings()
HALF = S.view_deg / 2.0


def covered(intervals: list[tuple[float, float]], lo: float, hi: float) -> bool:
    """Whether the union of ``intervals`` covers [lo, hi] (half a degree is not worth a stop)."""
    edge = lo + 0.5
    for a, b in sorted(intervals):
        if a > edge + 1e-6:
            return False
        edge = max(edge, b)
    return edge >= hi - 0.5


@given(st.floats(-90.0, 90.0), st.floats(0.0, 30.0), st.sampled_from((-1, 0, 1)))
def test_the_sweep_covers_the_whole_reach(at: float, wider: float, heading: int) -> None:
    seen = [(at - HALF, at + HALF + wider)]
    stops = sweep_stops(S, seen, heading, at)
    views = seen + [(p - HALF, p + HALF) for p in stops]
    assert covered(views, S.min_deg - HALF, S.max_deg + HALF)
    assert all(S.min_deg <= p <= S.max_deg for p in stops)
    assert len(stops) <= 4  # a 60 deg view covers 186 deg in a few stops


def test_the_sweep_goes_her_way_first_then_the_other() -> None:
    stops = sweep_stops(S, [(-30.0, 30.0)], 1, 0.0)
    assert stops == [60.0, -60.0]
    assert sweep_stops(S, [(-30.0, 30.0)], -1, 0.0) == [-60.0, 60.0]
    # Standing still near the left end: the nearer end first.
    assert sweep_stops(S, [(-70.0, -10.0)], 0, -40.0)[0] == -60.0


def test_resting_view_is_nearest_home_that_still_shows_her_spot() -> None:
    assert resting_view(S, None) == S.home_deg
    assert resting_view(S, 10.0) == 0.0  # home shows it already
    assert resting_view(S, 45.0) == 45.0 - (HALF - S.rest_margin_deg)
    assert resting_view(S, 90.0) == S.max_deg  # beyond the reach: as near as it gets


def follow(plan: SearchPlan, until: float, looking_at: float = 0.0) -> list[tuple[float, float]]:
    """(time, target) every 0.1 s, the camera arriving on each target at once."""
    out = []
    target = None
    t = plan.lost_at
    while t <= until:
        arrived = target is not None
        target = plan.target(t, looking_at, arrived)
        out.append((t, target))
        t = round(t + 0.1, 6)
    return out


def test_lost_walking_look_where_she_went_then_sweep_then_rest() -> None:
    plan = SearchPlan(S, 0.0, 20.0, heading=1)
    targets = follow(plan, 6.0, looking_at=28.0)
    assert all(target == 28.0 for t, target in targets if t < S.look_s)  # her predicted spot
    swept = [target for t, target in targets if t >= S.look_s]
    assert swept[0] == 60.0  # on her way first
    assert -60.0 in swept
    assert plan.phase is Phase.REST and not plan.searching
    assert swept[-1] == plan.rest_deg == resting_view(S, 28.0)


def test_lost_standing_hold_then_widen_then_sweep() -> None:
    plan = SearchPlan(S, 0.0, 40.0, heading=0)
    targets = dict(follow(plan, S.look_standing_s + 8.0, looking_at=40.0))
    assert targets[S.hold_standing_s - 0.5] == 40.0  # where she stood
    wide = targets[S.hold_standing_s + 0.5]
    assert wide == resting_view(S, 40.0) and abs(wide - 40.0) <= HALF  # her spot still in view
    assert not plan.searching
    assert any(t > S.look_standing_s and target == -60.0 for t, target in targets.items())


def test_lost_standing_near_home_holds_on_her_spot_instead_of_a_small_widening() -> None:
    # At 5 deg from home, widening towards it would uncover 5 deg of the room and turn the
    # camera away from where she most likely comes back (at the board, turned away).
    plan = SearchPlan(S, 0.0, 5.0, heading=0)
    assert abs(resting_view(S, 5.0) - 5.0) < S.min_widen_deg
    targets = dict(follow(plan, S.look_standing_s - 0.5, looking_at=5.0))
    assert set(targets.values()) == {5.0}
    assert plan.phase is Phase.WIDE


def test_out_of_reach_wait_at_the_other_edge_then_rest_at_hers() -> None:
    plan = SearchPlan(S, 0.0, 91.0, heading=1)  # walked out past the right edge
    assert plan.exit_side == 1
    targets = follow(plan, S.look_s + S.other_edge_s + 2.0, looking_at=95.0)
    assert all(target == 60.0 for t, target in targets if t < S.look_s)
    assert [target for t, target in targets if S.look_s <= t < S.look_s + S.other_edge_s] == [
        -60.0
    ] * round(S.other_edge_s / 0.1)
    assert targets[-1][1] == 60.0 and plan.phase is Phase.REST


def test_never_seen_looks_then_sweeps_then_rests_at_home_and_goes_home_later() -> None:
    plan = SearchPlan(S, 0.0, None)
    targets = follow(plan, S.home_after_s + 1.0, looking_at=30.0)
    assert plan.phase is Phase.HOME
    assert targets[-1][1] == S.home_deg
    assert {-60.0, 60.0} <= {target for _, target in targets}


def test_searching_is_looking_and_resting_is_lost() -> None:
    plan = SearchPlan(S, 0.0, 0.0, heading=1)
    assert plan.searching
    follow(plan, 30.0)
    assert not plan.searching and plan.phase is Phase.HOME
