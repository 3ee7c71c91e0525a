"""Flooring a time to the start of its bucket: the one rule for buckets, the store and the live loop."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def floor_time(moment: datetime, width: timedelta) -> datetime:
    """The start of the bucket of ``width`` that holds ``moment`` (buckets align to the Unix epoch)."""
    seconds = int(width.total_seconds())
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, timezone.utc)
