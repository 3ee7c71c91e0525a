"""The decision every volume model shares: when a model's significant bucket becomes an alert.

A model (``base.VolumeModel``: the seasonal window tests, the CUSUMs) says how unusual a bucket is. Whether
that alerts is one rule for all of them, applied by the registry around each model:

* **warm-up**: nothing alerts before ``warmup_minutes`` of history (the model cannot know the series yet);
* **duration**: a significant run must last ``min_duration_minutes`` (from its first significant bucket)
  before it alerts, unless the model calls the evidence decisive (the CUSUM calls every crossing decisive:
  it has already summed its evidence over time);
* **re-arm**: one episode gives one alert; the next needs the volume normal for ``rearm_minutes`` first;
* **maintenance**: detections inside a maintenance window are marked suppressed (recorded, not paged), and
  the model does not learn from those buckets.

Significant, not alerting, buckets say why in their reason ("warming up: ...", "not yet 10 min: ...",
"ongoing since ...: ", "suppressed (upgrade): ...").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from detector.records import Bucket, Detection
from detector.volume.base import Finding, VolumeDetector, VolumeModel
from detector.volume.maintenance import suppression_reason


@dataclass
class Episode:
    """Where the service stands in the decision: its current alert episode and run; plain data.

    No field shares a name with the model's state: a pickle writes an attribute name shared by two objects
    once (by identity), and after a round trip the two names are no longer one string, so a detector and
    its restored copy would pickle to different bytes (tests/test_pipeline_snapshot.py compares them)."""

    alerted_at: datetime | None = None  # when the current episode alerted (None: no episode)
    last_anomalous_end: datetime | None = None  # end of the last significant closed bucket
    run_start: datetime | None = None  # first bucket of the current run of significant closed buckets
    closed_until: datetime | None = None  # end of the last closed bucket


class DecidedDetector(VolumeDetector):
    """A volume model inside the shared decision (warm-up, duration, re-arm, maintenance): what the
    registry builds for every configured detector."""

    def __init__(self, model: VolumeModel) -> None:
        self.model = model
        self.episode = Episode()
        self._derive()

    @property
    def settings(self):
        return self.model.settings

    @property
    def service(self) -> str:
        return self.model.service

    def _derive(self) -> None:
        s = self.model.settings
        self._rearm = timedelta(minutes=s.rearm_minutes)
        self._min_duration = timedelta(minutes=s.min_duration_minutes)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._derive()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_rearm"], state["_min_duration"]  # derived from the settings
        return state

    # -- the contract ---------------------------------------------------------------------------------

    def score(self, bucket: Bucket) -> Detection:
        """Judge ``bucket`` (open or closed) against what was learned so far; learn nothing."""
        return self._detection(bucket, self.model.judge(bucket, closing=False))

    def update(self, bucket: Bucket) -> Detection:
        """Judge a closed ``bucket``, advance the episode, then let the model learn from it."""
        if not bucket.closed:
            raise ValueError(f"update() needs a closed bucket; {bucket.start} is open until {bucket.end}")
        finding = self.model.judge(bucket, closing=True)
        detection = self._detection(bucket, finding)
        episode = self.episode
        if finding.significant:
            episode.last_anomalous_end = bucket.end
            if episode.run_start is None:
                episode.run_start = bucket.start
            if detection.alert:
                episode.alerted_at = bucket.as_of
        else:
            self._quiet(bucket.end)
        self.model.learn(bucket, finding, finding.significant, detection.suppressed)
        episode.closed_until = bucket.end
        return detection

    def skip_empty(self, start: datetime, width: timedelta, count: int) -> int:
        """Learn up to ``count`` empty closed buckets in one call of the model (see ``base``)."""
        suppressed = ((lambda begin, end: self._suppressed_by(begin, end) is not None)
                      if self.model.settings.maintenance else None)
        learned = self.model.skip_empty(start, width, count, suppressed)
        if learned:  # as many quiet buckets: the last one's end decides the re-arm (ends only grow)
            end = start + learned * width
            self._quiet(end)
            self.episode.closed_until = end
        return learned

    # -- deciding -------------------------------------------------------------------------------------

    def _quiet(self, end: datetime) -> None:
        """A closed bucket ending at ``end`` was not significant: the run is over, maybe the episode too."""
        episode = self.episode
        episode.run_start = None
        quiet_since = episode.last_anomalous_end
        if quiet_since is not None and end - quiet_since >= self._rearm:
            episode.alerted_at = None  # the episode is over: the next anomaly is a new one

    def _suppressed_by(self, start: datetime, end: datetime) -> str | None:
        """The reason of the maintenance window covering [start, end) for this service, if any."""
        maintenance = self.model.settings.maintenance
        return suppression_reason(maintenance, self.model.service, start, end) if maintenance else None

    def _detection(self, bucket: Bucket, finding: Finding) -> Detection:
        s = self.model.settings
        episode = self.episode
        elapsed = self.model.seen_hours() * 60 + (bucket.as_of - bucket.start).total_seconds() / 60
        warm = elapsed >= s.warmup_minutes
        ongoing = (
            episode.alerted_at is not None
            and episode.last_anomalous_end is not None
            and bucket.start < episode.last_anomalous_end + self._rearm
        )
        significant = finding.significant
        adjacent_run = episode.run_start is not None and episode.closed_until == bucket.start
        run_start = episode.run_start if adjacent_run else bucket.start
        lasting = bucket.as_of - run_start >= self._min_duration or finding.decisive
        alert = significant and warm and not ongoing and lasting
        reason = finding.reason
        if significant and not warm:
            reason = f"warming up: {reason}"
        elif significant and not lasting:
            reason = f"not yet {s.min_duration_minutes:g} min: {reason}"
        elif significant and ongoing:
            reason = f"ongoing since {episode.alerted_at.isoformat()}: {reason}"
        suppressed_by = self._suppressed_by(bucket.start, bucket.end)
        if suppressed_by is not None and reason:
            reason = f"suppressed ({suppressed_by}): {reason}"
        size = finding.deciding if significant else finding.ongoing if ongoing else None
        return Detection(
            service=self.model.service,
            bucket_start=bucket.start,
            at=bucket.as_of,
            value=finding.value,
            expected=finding.expected,
            upper=finding.upper,
            score=finding.score,
            alert=alert,
            reason=reason,
            suppressed=suppressed_by is not None,
            window_value=None if size is None else size[0],
            window_expected=None if size is None else size[1],
        )
