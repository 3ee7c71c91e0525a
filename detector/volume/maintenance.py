"""Known events: the maintenance windows of the configuration (one-off or recurring cron windows), and
which of them, if any, covers a bucket."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # minute hour day month weekday (0 = Sunday)
_CRON_NAMES = ("minute", "hour", "day", "month", "weekday")


@lru_cache(maxsize=64)
def parse_cron(expression: str) -> tuple[frozenset[int], ...]:
    """Return the allowed values of the five cron fields; raise ValueError naming the bad field."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expression!r} needs 5 fields (minute hour day month weekday), got {len(fields)}")
    parsed = []
    for text, (low, high), name in zip(fields, _CRON_RANGES, _CRON_NAMES):
        values: set[int] = set()
        for part in text.split(","):
            body, _, step_text = part.partition("/")
            try:
                step = int(step_text) if step_text else 1
                if body == "*":
                    first, last = low, high
                elif "-" in body:
                    first, last = (int(v) for v in body.split("-", 1))
                else:
                    first = last = int(body)
            except ValueError:
                raise ValueError(f"cron {expression!r}: {name} field {text!r} is not a number, range or '*'") from None
            if name == "weekday" and last == 7:  # 7 is also Sunday
                values.add(0)
                last = 6 if first <= 6 else 7
            if step < 1 or first < low or last > high or first > last:
                raise ValueError(f"cron {expression!r}: {name} field {text!r} is outside {low}-{high}")
            values.update(range(first, last + 1, step))
        parsed.append(frozenset(values))
    return tuple(parsed)


class MaintenanceWindow(BaseModel):
    """A known event (maintenance, a TV premiere) during which alerts are recorded as suppressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(None, description="Service the window applies to; empty means every service.")
    start: datetime | None = Field(None, description="Start of a one-off window (timezone-aware, UTC if naive).")
    end: datetime | None = Field(None, description="End (exclusive) of a one-off window.")
    cron: str | None = Field(
        None,
        description="Recurring start as a 5-field cron expression in UTC ('minute hour day month weekday', "
        "numbers, '*', lists, ranges and '/step'), e.g. '0 2 * * 2' for Tuesdays 02:00.",
    )
    duration_minutes: float | None = Field(None, gt=0, description="Length of each recurring window, in minutes.")
    reason: str = Field("maintenance", description="Why alerts are suppressed; shown on the suppressed detection.")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _one_kind(self) -> MaintenanceWindow:
        if self.cron is not None:
            if self.duration_minutes is None:
                raise ValueError("a recurring window needs duration_minutes next to cron")
            parse_cron(self.cron)  # raises ValueError with the offending field
        elif self.start is None or self.end is None:
            raise ValueError("a maintenance window needs start and end, or cron and duration_minutes")
        elif self.end <= self.start:
            raise ValueError(f"maintenance window ends ({self.end}) before it starts ({self.start})")
        return self


def _cron_matches(fields: tuple[frozenset[int], ...], moment: datetime) -> bool:
    minute, hour, day, month, weekday = fields
    return (
        moment.minute in minute
        and moment.hour in hour
        and moment.day in day
        and moment.month in month
        and (moment.isoweekday() % 7) in weekday
    )


def _recurring_covers(window: MaintenanceWindow, start: datetime, end: datetime) -> bool:
    """True when some firing of the cron window, lasting duration_minutes, overlaps [start, end)."""
    fields = parse_cron(window.cron or "")
    duration = timedelta(minutes=window.duration_minutes or 0)
    moment = (start - duration).replace(second=0, microsecond=0)
    if moment + duration <= start:
        moment += timedelta(minutes=1)
    while moment < end:
        if _cron_matches(fields, moment):
            return True
        moment += timedelta(minutes=1)
    return False


def suppression_reason(
    windows: Sequence[MaintenanceWindow], service: str, start: datetime, end: datetime
) -> str | None:
    """Return the reason of the first window that overlaps [start, end) for ``service``, else None."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    for window in windows:
        if window.service not in (None, "", service):
            continue
        if window.cron is not None:
            if _recurring_covers(window, start, end):
                return window.reason
        elif window.start < end and start < window.end:  # type: ignore[operator]
            return window.reason
    return None
