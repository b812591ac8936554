"""Retention policy: how long a lesson is kept. Pure; the sweep that acts on it is in lessons.py."""

from __future__ import annotations

from datetime import datetime, timedelta

SETTING_KEY = "retention_days"
MIN_DAYS = 1
MAX_DAYS = 3650


def cutoff(now: datetime, days: int) -> datetime:
    """Lessons that started before this moment have outlived their retention period."""
    return now - timedelta(days=days)


def is_expired(started_at: datetime, now: datetime, days: int) -> bool:
    return started_at < cutoff(now, days)
