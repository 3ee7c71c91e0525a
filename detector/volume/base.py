"""The volume-detector contract: one bucket in, one detection out, causal; and the model contract under it.

``score`` judges a bucket without learning from it (used for the still-open bucket, so an alert can fire
on the post that tips it rather than at the end of the minute); ``update`` judges a closed bucket and then
learns from it, unless it judged it anomalous, so an outage does not become the new baseline. The answer
for a bucket depends only on that bucket and earlier ones: a replay gives exactly what live gives.

``skip_empty`` is ``update`` over a run of empty closed buckets for a caller that does not need their
detections while they are quiet (no incident open): a quiet night of one-minute buckets is hundreds of
``update`` calls, a sparse stream's year half a million, so a detector that can learn them faster (in
closed form, or one tight loop) says so there; the default learns none and the caller updates them.

A detector is a ``VolumeModel`` (how unusual a bucket is, and what it learns) inside the decision every
model shares (``decision.DecidedDetector``: warm-up, duration, re-arm, maintenance), which the registry
applies: a new model is its judgement, its learning and its settings, not another copy of the rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from detector.records import Bucket, Detection


class VolumeDetector(ABC):
    """Per-service streaming anomaly detector over bucket counts."""

    @abstractmethod
    def score(self, bucket: Bucket) -> Detection:
        """Judge ``bucket`` (open or closed) against what was learned so far; learn nothing."""

    @abstractmethod
    def update(self, bucket: Bucket) -> Detection:
        """Judge a closed ``bucket``, then learn from it unless it is anomalous."""

    def skip_empty(self, start: datetime, width: timedelta, count: int) -> int:
        """Learn up to ``count`` empty closed buckets from ``start`` exactly as ``update`` would; stop before
        the first whose detection could alert and return how many were learned (0: update them instead)."""
        return 0


@dataclass  # not frozen: one is made per bucket, and a frozen dataclass is slow to make
class Finding:
    """A model's judgement of one bucket, before the shared decision: how unusual, how big, and why."""

    value: float  # the metric's value in the bucket
    expected: float  # what the model expected of it (of the elapsed part, for an open bucket)
    upper: float  # the band above which the volume is still high (keeps an incident open)
    score: float  # 0..1, how close to alert-worthy
    significant: bool  # alert-worthy by the model's own test
    decisive: bool  # so strong that it need not last ``min_duration_minutes`` first
    reason: str  # why it is significant ("" when it is not)
    deciding: tuple[float, float] | None  # (sum, expected sum) of what decided, when significant
    ongoing: tuple[float, float] | None = None  # how big it still is when not significant but in an episode
    detail: Any = None  # the model's own record of the judgement, handed back to ``learn``


class VolumeModel(ABC):
    """How unusual a bucket is for one service, and what is learned from it; the decision is not here."""

    def __init__(self, settings: Any, service: str) -> None:
        self.settings = settings
        self.service = service

    @abstractmethod
    def judge(self, bucket: Bucket, closing: bool) -> Finding:
        """Judge ``bucket`` against what was learned so far. ``closing``: the bucket is closed and is
        learned next (``learn``), so the model may prepare for that; otherwise nothing may change."""

    @abstractmethod
    def learn(self, bucket: Bucket, finding: Finding, significant: bool, suppressed: bool) -> None:
        """Learn the closed ``bucket`` just judged as ``finding``; a significant bucket (and its run-up) is
        not learned as normal, a suppressed one (inside a maintenance window) not at all."""

    @abstractmethod
    def seen_hours(self) -> float:
        """Hours of closed buckets learned so far (the warm-up counts them)."""

    def skip_empty(self, start: datetime, width: timedelta, count: int,
                   suppressed: Callable[[datetime, datetime], bool] | None) -> int:
        """``learn`` over up to ``count`` empty closed buckets from ``start``, as judge-then-learn would,
        stopping before the first one it would find significant; return how many. ``suppressed`` says
        whether a bucket [start, end) lies in a maintenance window (None: there are none)."""
        return 0
