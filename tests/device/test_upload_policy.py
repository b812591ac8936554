"""The pure upload policies: backoff with full jitter, the bandwidth token bucket, upload
windows in local time (also across midnight), the keep policy and due times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from lessoncam_device.uploader import (
    Backoff,
    KeepPolicy,
    TimeWindow,
    TokenBucket,
    UploadSettings,
    UploadWindows,
    is_due,
)

T0 = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)

# --- backoff ----------------------------------------------------------------------------------


def test_backoff_ceiling_grows_by_the_factor_up_to_the_cap() -> None:
    backoff = Backoff(base_s=2, factor=3, cap_s=60)
    assert [backoff.ceiling(n) for n in range(6)] == [0.0, 2.0, 6.0, 18.0, 54.0, 60.0]
    assert backoff.ceiling(10_000) == 60.0  # no float overflow after days of outage


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    backoff = Backoff(base_s=1, factor=2, cap_s=300)
    assert backoff.delay(4, rand=lambda: 0.0) == 0.0
    assert backoff.delay(4, rand=lambda: 0.5) == 4.0
    assert backoff.delay(4, rand=lambda: 0.999) == pytest.approx(7.992)
    rng = random.Random(7)
    delays = [backoff.delay(20, rng.random) for _ in range(2000)]
    assert 0 <= min(delays) < 10 and 290 < max(delays) < 300
    assert 140 < sum(delays) / len(delays) < 160  # uniform: the mean is half the cap


def test_a_factor_of_one_is_a_constant_ceiling() -> None:
    assert {Backoff(base_s=5, factor=1, cap_s=5).ceiling(n) for n in range(1, 50)} == {5.0}


@pytest.mark.parametrize(
    "kw", [{"base_s": 0}, {"factor": 0.5}, {"base_s": 10, "cap_s": 5}], ids=str
)
def test_backoff_refuses_nonsense(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kw)


# --- token bucket -----------------------------------------------------------------------------


def test_the_bucket_starts_full_then_makes_senders_wait() -> None:
    bucket = TokenBucket(rate=1000, capacity=500)
    assert bucket.reserve(500, now=10.0) == 0.0
    assert bucket.reserve(250, now=10.0) == pytest.approx(0.25)
    # In debt: the next reservation waits for the debt and its own bytes.
    assert bucket.reserve(250, now=10.0) == pytest.approx(0.5)


def test_the_bucket_refills_at_the_rate_but_saves_only_its_capacity() -> None:
    bucket = TokenBucket(rate=1000, capacity=500)
    bucket.reserve(500, now=0.0)
    assert bucket.reserve(200, now=0.2) == 0.0  # 200 refilled
    assert bucket.reserve(500, now=100.0) == 0.0  # an hour idle saves only the capacity
    assert bucket.reserve(1, now=100.0) == pytest.approx(0.001)


def test_chunks_larger_than_the_capacity_still_go_at_the_average_rate() -> None:
    bucket = TokenBucket(rate=1000, capacity=100)
    now, sent = 0.0, 0
    for _ in range(50):
        now += bucket.reserve(400, now)  # the sender waits, then sends
        sent += 400
    assert sent / now == pytest.approx(1000, rel=0.01)


def test_the_bucket_ignores_a_clock_that_goes_back() -> None:
    bucket = TokenBucket(rate=100, capacity=100)
    bucket.reserve(100, now=50.0)
    assert bucket.reserve(50, now=40.0) == pytest.approx(0.5)


def test_the_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=10)
    with pytest.raises(ValueError):
        TokenBucket(rate=10, capacity=10).reserve(-1, 0.0)


# --- upload windows ---------------------------------------------------------------------------

SCHOOL = UploadWindows.parse(["07:00-08:15", "12:00-13:00", "15:30-23:59"])


@pytest.mark.parametrize(
    ("clock", "allowed"),
    [
        ("06:59", False),
        ("07:00", True),
        ("08:15", True),  # the end minute is inside
        ("08:16", False),
        ("11:59", False),
        ("12:30", True),
        ("13:01", False),
        ("15:30", True),
        ("23:59", True),
        ("00:00", False),
    ],
)
def test_school_day_windows(clock: str, allowed: bool) -> None:
    assert SCHOOL.allows(time.fromisoformat(clock)) is allowed


@pytest.mark.parametrize(
    ("clock", "allowed"),
    [
        ("15:59", False),
        ("16:00", True),
        ("23:59", True),
        ("00:00", True),
        ("07:00", True),
        ("07:01", False),
        ("12:00", False),
    ],
)
def test_a_window_across_midnight(clock: str, allowed: bool) -> None:
    assert UploadWindows.parse(["16:00-07:00"]).allows(time.fromisoformat(clock)) is allowed


def test_no_windows_means_always() -> None:
    always = UploadWindows.parse([])
    assert always.allows(time(3, 0)) and always.seconds_until_open(time(3, 0)) == 0.0


def test_seconds_until_the_next_window_opens() -> None:
    day = datetime(2026, 11, 2)
    assert SCHOOL.seconds_until_open(day.replace(hour=9, minute=0)) == 3 * 3600
    assert SCHOOL.seconds_until_open(day.replace(hour=12, minute=30)) == 0.0
    assert SCHOOL.seconds_until_open(day.replace(hour=13, minute=1, second=30)) == (
        2 * 3600 + 29 * 60 - 30
    )
    # After the last window of the day, the first one tomorrow.
    night = UploadWindows.parse(["07:00-08:15"])
    assert night.seconds_until_open(day.replace(hour=23, minute=0)) == 8 * 3600
    late = UploadWindows.parse(["22:00-02:00"])
    assert late.seconds_until_open(day.replace(hour=3)) == 19 * 3600


def test_windows_use_the_local_time_they_are_given() -> None:
    amsterdam = T0.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert amsterdam.hour == 9  # 08:30 UTC in November
    assert UploadWindows.parse(["09:00-09:59"]).allows(amsterdam)
    assert not UploadWindows.parse(["08:00-08:59"]).allows(amsterdam)


@pytest.mark.parametrize("spec", ["7-8", "07:00", "24:00-01:00", "07:60-08:00", "a-b", ""])
def test_bad_windows_are_refused_with_their_text(spec: str) -> None:
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        TimeWindow.parse(spec)
    with pytest.raises(ValueError):
        UploadSettings(windows=(spec,))


def test_window_parsing_tolerates_spaces_and_single_digit_hours() -> None:
    assert TimeWindow.parse(" 7:05 - 8:15 ") == TimeWindow(7 * 60 + 5, 8 * 60 + 15)


# --- keep policy and due times ----------------------------------------------------------------


def test_delete_after_upload() -> None:
    keep = KeepPolicy()
    assert keep.mode == "delete_after_upload"
    assert keep.should_delete(T0, T0) and keep.confirmed_by(T0) == T0


def test_keep_days() -> None:
    keep = KeepPolicy("keep_days", days=7)
    assert not keep.should_delete(T0, T0 + timedelta(days=6, hours=23))
    assert keep.should_delete(T0, T0 + timedelta(days=7))
    assert keep.delete_at(T0) == T0 + timedelta(days=7)
    assert keep.confirmed_by(T0 + timedelta(days=7)) == T0


def test_keep_all() -> None:
    keep = KeepPolicy("keep_all")
    assert not keep.should_delete(T0, T0 + timedelta(days=3650))
    assert keep.delete_at(T0) is None and keep.confirmed_by(T0) is None


def test_unknown_keep_modes_are_refused() -> None:
    with pytest.raises(ValueError, match="delete_after_upload"):
        KeepPolicy("keep_forever")  # type: ignore[arg-type]


def test_due_times_and_a_wall_clock_that_went_back() -> None:
    assert is_due(None, T0, 300)
    assert is_due(T0, T0, 300)
    assert not is_due(T0 + timedelta(seconds=299), T0, 300)
    # A deadline a year ahead means the clock jumped back after it was set: try now.
    assert is_due(T0 + timedelta(days=365), T0, 300)
