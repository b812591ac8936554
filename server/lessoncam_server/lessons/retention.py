"""Retention: how long a lesson is kept (a pure policy) and the lessons past it. The sweep that
acts on it is in housekeeping.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils import Database

from ..infra.timeutil import to_iso

SETTING_KEY = "retention_days"
MIN_DAYS = 1
MAX_DAYS = 3650


def cutoff(now: datetime, days: int) -> datetime:
    """Lessons that started before this moment have outlived their retention period."""
    return now - timedelta(days=days)


def is_expired(started_at: datetime, now: datetime, days: int) -> bool:
    return started_at < cutoff(now, days)


def retention_days(db: Database, default: int) -> int:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [SETTING_KEY]).fetchone()
    return int(row[0]) if row else default


def expired_ids(db: Database, now: datetime, days: int) -> list[str]:
    limit = to_iso(cutoff(now, days))
    rows = db.execute("SELECT id FROM recordings WHERE started_at < ?", [limit]).fetchall()
    return [r[0] for r in rows]
