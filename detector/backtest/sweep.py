"""The detector's decisions over a service's stored posts, again, with another false-alert budget.

A backtest classifies and stores the posts once (a replay); each budget then re-runs only the detect stage
over the stored, classified posts: the pipeline's own ``observe`` (people counted per bucket as live, the open
bucket judged after every post, closed buckets learned, incidents opened by the alert manager), fed in time
order from the store. So an alert still fires on the post that tips it, at that post's second, and at the
budget the replay itself ran with the decisions are the replay's. Nothing is written: the detect stage runs
against a throwaway in-memory store and no channel is configured.

Differences from the replay, both small: posts are fed strictly in time order (a file out of order by more
than a bucket had some posts judged "late" in the replay; here none are), and the stored person token stands
for the author (same person, same token, so the counts are the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Sequence

from detector.alerting.settings import AlertSettings
from detector.volume.bucketing import ServiceBuckets
from detector.pipeline import Pipeline, RunReport
from detector.records import Post, Verdict
from detector.store.backtests import ClassifiedPost
from detector.store.store import Store
from detector.volume.settings import VolumeSettings, metric_value

BUDGET_FIELD = "false_alerts_per_week"
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Page:
    """One notification on-call would have received about an incident: it opened (outside maintenance), a
    suppressed one surfaced when its maintenance window ended, it reopened within the cooldown, or it
    escalated. ``new`` is True for the first two: those are the pages that start an incident (and that count
    as false alerts outside known incidents); the others tell on-call that an open incident grew."""

    service: str
    at: datetime
    incident: str
    new: bool


# Detectors that have no false-alert budget of their own and take a per-bucket false-alarm probability instead.
_ALPHA_DETECTORS = frozenset({"seasonal"})


def budget_setting(detection: VolumeSettings) -> str:
    """The setting a budget moves for ``detection``'s detector: ``false_alerts_per_week``, or ``alpha`` for a
    detector that does not read the budget."""
    return "alpha" if detection.detector in _ALPHA_DETECTORS else BUDGET_FIELD


def with_budget(detection: VolumeSettings, budget: float) -> VolumeSettings:
    """``detection`` with a false-alert budget of ``budget`` alerts per week for every service.

    Sets ``false_alerts_per_week`` and drops the per-service overrides (the sweep compares one budget across
    the board). A detector that does not read the budget (``seasonal``) gets instead the per-bucket false-alarm
    probability that spends it if every bucket were independent (budget / buckets per week): only as good as
    that detector's own calibration.
    """
    if budget <= 0:
        raise ValueError(f"a budget must be above 0 alerts per week (got {budget:g})")
    values = {**detection.model_dump(), BUDGET_FIELD: budget, f"{BUDGET_FIELD}_by_service": {}}
    if budget_setting(detection) == "alpha":
        values["alpha"] = min(0.5, budget / (7 * 24 * 3600 / detection.bucket_seconds))
    return detection.model_validate(values)


def as_records(stored: Iterable[ClassifiedPost], service: str) -> tuple[list[Post], list[Verdict]]:
    """Stored posts as the records the detect stage takes (the stored person token stands for the author)."""
    posts, verdicts = [], []
    for p in stored:
        posts.append(Post(p.source, p.source_id, p.created_at, "", services=(service,), author=p.person))
        verdicts.append(Verdict(p.source, p.source_id, p.complaint, p.complaint_p, p.misinformation,
                                outage_report=p.outage_report, outage_report_p=p.outage_report_p))
    return posts, verdicts


def pages(posts: Sequence[Post], verdicts: Sequence[Verdict], detection: VolumeSettings, alerts: AlertSettings,
          progress: Callable[[int], None] | None = None) -> list[Page]:
    """Run the pipeline's detect stage over ``posts`` (one service, time order) and return its pages."""
    if not posts:
        return []
    store = Store("sqlite:///:memory:")  # the detect stage resumes from a store; this one is empty and thrown away
    try:
        pipeline = Pipeline(store, rules=(), classifier=None, detection=detection, alerts=alerts, channels=())
        report, found = RunReport(), []
        for i in range(0, len(posts), _CHUNK):
            observed = pipeline.observe(list(posts[i:i + _CHUNK]), list(verdicts[i:i + _CHUNK]), report)
            found += _pages(observed.changes)
            if progress is not None:
                progress(min(i + _CHUNK, len(posts)))
        found += _pages(pipeline.observe_flush(posts[-1].created_at).changes)
        return found
    finally:
        store.close()


_STARTS = ("opened", "unsuppressed")
_GROWS = ("reopened", "escalated")


def _pages(changes) -> list[Page]:
    return [Page(c.alert.service, c.at, c.alert.id, c.kind in _STARTS) for c in changes
            if c.kind in _STARTS + _GROWS and not c.alert.suppressed]


def counted_times(posts: Sequence[Post], verdicts: Sequence[Verdict], detection: VolumeSettings) -> list[datetime]:
    """The times of the posts the detector's metric counted: those that raised the metric of their bucket
    (for the default, a complaint from a person not already counted in the last hour), counted as live."""
    if not posts:
        return []
    buckets = ServiceBuckets(posts[0].services[0], detection.bucket_width)
    times, open_start, before = [], None, 0.0
    for post, verdict in zip(posts, verdicts):
        for _ in buckets.advance(post.created_at):
            pass
        if buckets.open_start != open_start:
            open_start, before = buckets.open_start, 0.0
        value = metric_value(buckets.add(post, verdict), detection.metric)
        if value > before:
            times.append(post.created_at)
        before = value
    return times
