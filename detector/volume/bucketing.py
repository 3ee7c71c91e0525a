"""Turning a time-ordered stream of classified posts into per-service buckets, as they would be seen live.

The open bucket is judged after every post (so an alert fires on the post that tips it, not at the end of
the minute); every closed bucket, empty ones included, goes to the detector to learn from. A person is
counted once per reporting spell: their first complaint (and, separately, their first outage report) in
``forget_after`` counts, later ones do not
(Downdetector counts only a user's first report), so one angry user or one bot cannot raise an alert.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterator

from detector.records import Bucket, Post, Verdict
from detector.timefloor import floor_time


@dataclass
class _Open:
    start: datetime
    mentions: int = 0
    complaints: int = 0
    misinformation: int = 0
    people: set[str] = field(default_factory=set)
    complainers: set[str] = field(default_factory=set)
    outage_reports: int = 0
    reporters: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class EmptyRun:
    """``count`` consecutive closed buckets of ``service``, the first at ``start``, with nothing in them."""

    service: str
    start: datetime
    width: timedelta
    count: int


class ServiceBuckets:
    """The open bucket of one service and the memory of who already reported."""

    def __init__(self, service: str, width: timedelta, forget_after: timedelta = timedelta(hours=1)) -> None:
        self.service = service
        self.width = width
        self.forget_after = forget_after
        self._open: _Open | None = None
        self._last_report: OrderedDict[str, datetime] = OrderedDict()  # person -> last counted complaint
        self._last_outage: OrderedDict[str, datetime] = OrderedDict()  # person -> last counted outage report
        self._last_mention: OrderedDict[str, datetime] = OrderedDict()

    @property
    def open_start(self) -> datetime | None:
        return None if self._open is None else self._open.start

    def is_late(self, moment: datetime) -> bool:
        """True when ``moment`` falls in a bucket that has already closed."""
        return self._open is not None and moment < self._open.start

    def advance(self, moment: datetime) -> Iterator[Bucket]:
        """Close every bucket that ends at or before ``moment``, empty ones included, oldest first."""
        start = floor_time(moment, self.width)
        if self._open is None:
            self._open = _Open(start)
            return
        while self._open.start < start:
            yield self._as_bucket(self._open, as_of=None)
            self._open = _Open(self._open.start + self.width)

    def advance_runs(self, moment: datetime) -> Iterator[Bucket | EmptyRun]:
        """What ``advance`` closes, with the empty buckets as one ``EmptyRun`` (a detector can learn a quiet
        night in one step instead of one call a minute): the open bucket if it holds posts, then the run."""
        start = floor_time(moment, self.width)
        if self._open is None:
            self._open = _Open(start)
            return
        if self._open.start >= start:
            return
        run_start = self._open.start
        if self._open.mentions:
            yield self._as_bucket(self._open, as_of=None)
            run_start += self.width
        if run_start < start:
            yield EmptyRun(self.service, run_start, self.width, (start - run_start) // self.width)
        self._open = _Open(start)

    def add(self, post: Post, verdict: Verdict) -> Bucket:
        """Count ``post`` in the open bucket (call ``advance`` first) and return the bucket as of now."""
        assert self._open is not None and not self.is_late(post.created_at)
        bucket = self._open
        person = post.person
        bucket.mentions += 1
        if self._first_in_spell(self._last_mention, person, post.created_at):
            bucket.people.add(person)
        if verdict.complaint:
            bucket.complaints += 1
            if self._first_in_spell(self._last_report, person, post.created_at):
                bucket.complainers.add(person)
        if verdict.outage_report:
            bucket.outage_reports += 1
            if self._first_in_spell(self._last_outage, person, post.created_at):
                bucket.reporters.add(person)
        if verdict.misinformation:
            bucket.misinformation += 1
        return self._as_bucket(bucket, as_of=post.created_at)

    def snapshot(self) -> dict[str, Any]:
        """The open bucket and who was counted recently, as JSON-ready data (times in ISO 8601), for
        checkpoints; ``restore`` takes it back. Width and spell length are settings, not state."""
        bucket = self._open
        return {
            "open": None if bucket is None else {
                "start": bucket.start.isoformat(), "mentions": bucket.mentions, "complaints": bucket.complaints,
                "misinformation": bucket.misinformation, "outage_reports": bucket.outage_reports,
                "people": sorted(bucket.people), "complainers": sorted(bucket.complainers),
                "reporters": sorted(bucket.reporters),
            },
            # in the order they were counted: the oldest are forgotten first
            "last_mention": [[person, at.isoformat()] for person, at in self._last_mention.items()],
            "last_report": [[person, at.isoformat()] for person, at in self._last_report.items()],
            "last_outage": [[person, at.isoformat()] for person, at in self._last_outage.items()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a ``snapshot()``: whatever was counted here before is replaced."""
        bucket = state["open"]
        self._open = None if bucket is None else _Open(
            start=datetime.fromisoformat(bucket["start"]), mentions=bucket["mentions"],
            complaints=bucket["complaints"], misinformation=bucket["misinformation"],
            people=set(bucket["people"]), complainers=set(bucket["complainers"]),
            outage_reports=bucket["outage_reports"], reporters=set(bucket["reporters"]),
        )
        self._last_mention = OrderedDict((p, datetime.fromisoformat(at)) for p, at in state["last_mention"])
        self._last_report = OrderedDict((p, datetime.fromisoformat(at)) for p, at in state["last_report"])
        self._last_outage = OrderedDict((p, datetime.fromisoformat(at)) for p, at in state["last_outage"])

    def _first_in_spell(self, memory: OrderedDict[str, datetime], person: str, moment: datetime) -> bool:
        while memory and next(iter(memory.values())) <= moment - self.forget_after:
            memory.popitem(last=False)
        first = person not in memory
        if first:
            memory[person] = moment
        return first

    def _as_bucket(self, bucket: _Open, as_of: datetime | None) -> Bucket:
        return Bucket(
            service=self.service,
            start=bucket.start,
            end=bucket.start + self.width,
            mentions=bucket.mentions,
            complaints=bucket.complaints,
            misinformation=bucket.misinformation,
            people=len(bucket.people),
            complaint_people=len(bucket.complainers),
            as_of=as_of,
            outage_reports=bucket.outage_reports,
            outage_people=len(bucket.reporters),
        )
