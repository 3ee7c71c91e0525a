"""The volume-detector contract: one bucket in, one detection out, causal.

``score`` judges a bucket without learning from it (used for the still-open bucket, so an alert can fire
on the post that tips it rather than at the end of the minute); ``update`` judges a closed bucket and then
learns from it, unless it judged it anomalous, so an outage does not become the new baseline. The answer
for a bucket depends only on that bucket and earlier ones: a replay gives exactly what live gives.

``skip_empty`` is ``update`` over a run of empty closed buckets for a caller that does not need their
detections while they are quiet (no incident open): a quiet night of one-minute buckets is hundreds of
``update`` calls, a sparse stream's year half a million, so a detector that can learn them faster (in
closed form, or one tight loop) says so there; the default learns none and the caller updates them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta

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
