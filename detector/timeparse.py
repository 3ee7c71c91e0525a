"""Parsing the many ways recorded data writes a time, into aware UTC."""

from __future__ import annotations

import math
from datetime import datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime

_FORMATS = ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S", "%d/%m/%Y %H:%M")


def parse_time(value: object, zone: tzinfo = timezone.utc) -> datetime:
    """Return ``value`` as aware UTC; times without an offset are read in ``zone``. Raise ValueError."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isnan(value):
            raise ValueError("empty time")
        seconds = value / 1000 if abs(value) > 1e11 else value  # epoch milliseconds
        return datetime.fromtimestamp(seconds, timezone.utc)
    else:
        text = str(value or "").strip()
        if not text:
            raise ValueError("empty time")
        moment = _parse_text(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    moment = moment.astimezone(timezone.utc)
    if not 1990 <= moment.year <= 2100:
        raise ValueError(f"time {moment.isoformat()} is outside 1990-2100")
    return moment


def _parse_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return parse_time(number)
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"unparseable time {text[:40]!r}") from None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP Retry-After header (delta-seconds or an HTTP date); None when absent or
    unreadable. Shared by the sources (a 429 from an API) and the alert channels (a 429 from Slack)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
