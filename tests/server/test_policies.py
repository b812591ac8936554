"""The pure policies: permissions, throttling, session expiry, retention, completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lessoncam_server.access.permissions import NO_ACCESS, OWNER_ACCESS, ShareFacts, lesson_access
from lessoncam_server.access.sessions import SessionPolicy
from lessoncam_server.access.throttle import LoginThrottle
from lessoncam_server.infra.disk_space import DiskSpace
from lessoncam_server.lessons import retention
from lessoncam_server.units.recordings import outstanding

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def share(user: int, role: str = "viewer", **kw: datetime | None) -> ShareFacts:
    return ShareFacts(user, role, kw.get("expires_at"), kw.get("revoked_at"))  # type: ignore[arg-type]


def test_owner_has_everything_others_nothing() -> None:
    assert lesson_access(1, 1, [], NOW) == OWNER_ACCESS
    assert lesson_access(2, 1, [], NOW) == NO_ACCESS
    assert lesson_access(1, None, [share(1)], NOW) == NO_ACCESS  # unassigned: nobody


def test_shares_grant_view_or_comment_until_expiry_or_revocation() -> None:
    viewer = lesson_access(2, 1, [share(2)], NOW)
    assert viewer.view and not viewer.comment and not viewer.manage
    assert lesson_access(2, 1, [share(2, "commenter")], NOW).comment
    hour = timedelta(hours=1)
    assert lesson_access(2, 1, [share(2, expires_at=NOW - hour)], NOW) == NO_ACCESS
    assert lesson_access(2, 1, [share(2, expires_at=NOW + hour)], NOW).view
    assert lesson_access(2, 1, [share(2, revoked_at=NOW - hour)], NOW) == NO_ACCESS
    assert lesson_access(3, 1, [share(2)], NOW) == NO_ACCESS


def test_throttle_counts_per_account_and_address() -> None:
    throttle = LoginThrottle(per_account=3, per_address=5, window=timedelta(minutes=10))
    for i in range(3):
        assert throttle.retry_after("anna", "10.0.0.1", NOW) is None
        throttle.failed("Anna", "10.0.0.1", NOW + timedelta(seconds=i))
    wait = throttle.retry_after("ANNA", "10.0.0.9", NOW + timedelta(seconds=3))
    assert wait is not None and 590 < wait <= 600
    assert throttle.retry_after("bert", "10.0.0.1", NOW) is None  # 3 of 5 for the address
    throttle.failed("bert", "10.0.0.1", NOW)
    throttle.failed("carl", "10.0.0.1", NOW)
    assert throttle.retry_after("dora", "10.0.0.1", NOW) is not None
    assert throttle.retry_after("dora", "10.0.0.1", NOW + timedelta(minutes=11)) is None
    throttle.succeeded("anna")
    assert throttle.retry_after("anna", "10.0.0.2", NOW) is None


def test_session_policy() -> None:
    policy = SessionPolicy(idle=timedelta(hours=2), absolute=timedelta(hours=12))
    assert policy.is_live(NOW, NOW, NOW + timedelta(hours=1))
    assert not policy.is_live(NOW, NOW, NOW + timedelta(hours=2))
    assert not policy.is_live(NOW, NOW + timedelta(hours=11), NOW + timedelta(hours=12))


def test_retention_cutoff() -> None:
    assert retention.is_expired(NOW - timedelta(days=31), NOW, 30)
    assert not retention.is_expired(NOW - timedelta(days=29), NOW, 30)


def test_outstanding_segments() -> None:
    assert outstanding(None, {}, {"main": {0, 1}}) is None
    assert outstanding({"main": 3}, {}, {"main": {0, 2}}) == {"main": [1]}
    assert outstanding({"main": 3}, {"main": [1]}, {"main": {0, 2}}) == {}
    assert outstanding({"main": 2, "pupils": 1}, {}, {"main": {0, 1}}) == {"pupils": [0]}


@pytest.mark.slow
def test_throttle_forgets_stale_keys() -> None:
    throttle = LoginThrottle(per_account=3, per_address=5, window=timedelta(minutes=1))
    for i in range(6000):
        throttle.failed(f"user{i}", f"10.0.{i // 250}.{i % 250}", NOW)
    later = NOW + timedelta(minutes=2)
    throttle.failed("last", "10.9.9.9", later)
    assert throttle.tracked == 2


def test_the_server_disk_is_low_below_5_gib_or_5_percent() -> None:
    gib = 1024**3
    assert DiskSpace(free_bytes=4 * gib, total_bytes=40 * gib).low
    assert not DiskSpace(free_bytes=6 * gib, total_bytes=40 * gib).low
    assert DiskSpace(free_bytes=40 * gib, total_bytes=1000 * gib).low  # 4 % of a large disk
    assert not DiskSpace(free_bytes=60 * gib, total_bytes=1000 * gib).low
