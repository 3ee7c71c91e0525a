"""The volume-detector contract: one bucket in, one detection out, causal.

``score`` judges a bucket without learning from it (used for the still-open bucket, so an alert can fire
on the post that tips it rather than at the end of the minute); ``update`` judges a closed bucket and then
learns from it, unless it judged it anomalous, so an outage does not become the new baseline. The answer
for a bucket depends only on that bucket and earlier ones: a replay gives exactly what live gives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from detector.records import Bucket, Detection


class VolumeDetector(ABC):
    """Per-service streaming anomaly detector over bucket counts."""

    @abstractmethod
    def score(self, bucket: Bucket) -> Detection:
        """Judge ``bucket`` (open or closed) against what was learned so far; learn nothing."""

    @abstractmethod
    def update(self, bucket: Bucket) -> Detection:
        """Judge a closed ``bucket``, then learn from it unless it is anomalous."""
