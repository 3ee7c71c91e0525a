"""Wiring the stages: match -> classify -> store -> bucket -> detect -> incidents -> outbox.

Each batch is handled in event-time order and written in one transaction with the source's cursor, the
incident changes, their notifications, the recounted buckets with the detector's scores and the detectors'
state, so a crash at any point either loses the whole batch (it is read again from the cursor) or none of
it, and nothing is counted twice.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:
    from detector.alerting.grouping import CascadeGrouper

from detector.alerting.manager import AlertChange, AlertManager
from detector.alerting.notification import build_payload, post_view
from detector.alerting.routing import enqueue_released, routes_for, save_cascade_changes, save_changes
from detector.alerting.settings import AlertSettings, ChannelSettings
from detector.volume.bucketing import EmptyRun, ServiceBuckets
from detector.classify.base import Classifier
from detector.classify.cause_rumours import flag_cause_rumours
from detector.classify.claims import Claim
from detector.places.extract import PlaceFinder
from detector.sources.matching import ServiceMatcher, ServiceRule
from detector.records import Bucket, Detection, Post, Rejected, Verdict, text_fingerprint
from detector.snapshot import PipelineSnapshot, check_version, detector_state
from detector.sources.base import SourceBatch
from detector.store.alerts import latest_alerts
from detector.store.store import Store, Transaction
from detector.timefloor import floor_time
from detector.volume.base import VolumeDetector
from detector.volume.registry import build_detector
from detector.volume.settings import VolumeSettings

if TYPE_CHECKING:
    from detector.alerting.grouping import CascadeGrouper

log = logging.getLogger("detector.pipeline")


@dataclass
class RunReport:
    """What a run did, for the summary line and for tests."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unmatched: int = 0
    late: int = 0
    conflicts: int = 0  # of the quarantined: a known id with a different text
    reasons: Counter = field(default_factory=Counter)  # why rows were quarantined, for the run's summary
    changes: list[AlertChange] = field(default_factory=list)
    opened_before: int = 0  # incidents opened in the parts ``add`` folded in (their changes are not kept)

    @property
    def opened(self) -> int:
        return self.opened_before + sum(1 for c in self.changes if c.kind == "opened")

    def add(self, part: "RunReport") -> None:
        """Add the counts of ``part`` (one poll of a live run) to this report, keeping neither its incident
        changes nor its quarantine reasons: a service that runs for months would hold every change it ever
        made (each with its incident and evidence) and one reason per conflicting id, for a summary line
        that prints only counts. The changes are in the store (``detector alerts``), the reasons in the
        quarantine (``detector quarantine``)."""
        self.read += part.read
        self.stored += part.stored
        self.duplicates += part.duplicates
        self.quarantined += part.quarantined
        self.unmatched += part.unmatched
        self.late += part.late
        self.conflicts += part.conflicts
        self.opened_before += part.opened

    def summary(self) -> str:
        return (
            f"read {self.read}, stored {self.stored}, duplicate {self.duplicates}, "
            f"quarantined {self.quarantined}"
            + (f" ({self.conflicts} conflicting ids)" if self.conflicts else "")
            + f", unmatched {self.unmatched}, "
            f"incidents opened {self.opened}"
        )


@dataclass(frozen=True)
class _Reported:
    at: datetime
    key: str
    person: str
    p: float  # the outage-report probability
    text: str = ""  # fingerprint of the text: a copy-pasted report is one piece of evidence


_EVIDENCE_KEPT = 500  # outage reports remembered per service, the most recent


class Evidence:
    """Recent outage reports per service, to show why an incident opened."""

    def __init__(self, keep: timedelta = timedelta(minutes=30), limit: int = 5) -> None:
        self.keep = keep
        self.limit = limit
        self._recent: dict[str, deque[_Reported]] = {}

    def add(self, service: str, post: Post, verdict: Verdict) -> None:
        recent = self._recent.setdefault(service, deque(maxlen=_EVIDENCE_KEPT))
        recent.append(_Reported(post.created_at, f"{post.source}:{post.source_id}", post.person,
                                verdict.outage_report_p, text_fingerprint(post.text)))

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The recent outage reports per service as JSON-ready data (times in ISO 8601), for checkpoints."""
        return {service: [{"at": r.at.isoformat(), "key": r.key, "person": r.person, "p": float(r.p),
                           "text": r.text} for r in recent]
                for service, recent in self._recent.items()}

    def restore(self, state: Mapping[str, list[dict[str, Any]]]) -> None:
        """Continue from a ``snapshot()``: the reports kept here before are replaced."""
        self._recent = {
            service: deque((_Reported(datetime.fromisoformat(r["at"]), r["key"], r["person"], r["p"], r["text"])
                            for r in recent), maxlen=_EVIDENCE_KEPT)
            for service, recent in state.items()
        }

    def for_service(self, service: str, now: datetime) -> tuple[str, ...]:
        """Up to ``limit`` recent outage reports from distinct people with distinct texts, the most confident
        first."""
        recent = [r for r in self._recent.get(service, ()) if now - self.keep <= r.at <= now]
        recent.sort(key=lambda r: (r.p, r.at), reverse=True)
        chosen, people, texts = [], set(), set()
        for r in recent:
            if r.person not in people and (not r.text or r.text not in texts):
                chosen.append(r.key)
                people.add(r.person)
                texts.add(r.text)
            if len(chosen) >= self.limit:
                break
        return tuple(chosen)


# The longest silence walked bucket by bucket (see Pipeline._across_silence).
LONGEST_WALK = timedelta(days=30)


class PostSelector:
    """Which posts of a batch are new and about a watched service (the ingest stage)."""

    def __init__(self, store: Store, rules: Iterable[ServiceRule]) -> None:
        self.store = store
        self.rules = {rule.name: rule for rule in rules}
        self.matcher = ServiceMatcher([rule for rule in self.rules.values() if rule.terms])

    def services_for(self, post: Post, assigned: str | None) -> tuple[str, ...]:
        """The services a post is about: matched by name, plus the source's own service when it has no terms."""
        matched = list(self.matcher.services(post.text))
        if assigned:
            rule = self.rules.get(assigned)
            if (rule is None or not rule.terms) and assigned not in matched:
                matched.insert(0, assigned)
        return tuple(matched)

    def select(
        self, batch: SourceBatch, *, assigned: str | None, report: RunReport,
        pending: Iterable[Post] = (),
    ) -> tuple[list[Post], list[Rejected]]:
        """The batch's matched posts that are not stored yet, with their services, in event-time order; and
        the conflicts: posts whose id is known with a different text, kept in quarantine rather than dropped
        (an edited post, or two files that reuse ids), so the second version is never silently lost.

        ``pending``: posts selected from the previous batch that are still being classified, not stored
        yet; they count as stored, so this batch is chosen exactly as it would be once they are."""
        report.read += batch.read
        posts: list[Post] = []
        conflicts: list[Rejected] = []
        seen: dict[tuple[str, str], str] = {}
        for post in batch.posts:
            services = self.services_for(post, assigned)
            if not services:
                report.unmatched += 1
                continue
            if post.key in seen:
                if _same_text(seen[post.key], post.text):
                    report.duplicates += 1
                else:
                    conflicts.append(_conflict(post))
                continue
            seen[post.key] = post.text
            posts.append(replace(post, services=services))
        waiting = {p.key: p.text for p in pending}
        known = self.store.stored_texts([p.key for p in posts if p.key not in waiting])
        known.update((p.key, waiting[p.key]) for p in posts if p.key in waiting)
        for post in posts:
            if post.key in known:
                if _same_text(known[post.key], post.text):
                    report.duplicates += 1
                else:
                    conflicts.append(_conflict(post))
        report.conflicts += len(conflicts)
        new = sorted((p for p in posts if p.key not in known), key=lambda p: p.created_at)
        return new, conflicts


def _same_text(stored: str, text: str) -> bool:
    return " ".join(stored.split()) == " ".join(text.split())


def _conflict(post: Post) -> Rejected:
    raw = json.dumps({"created_at": post.created_at.isoformat(), "text": post.text, "url": post.url,
                      "lang": post.lang}, ensure_ascii=False)
    return Rejected(post.source, f"{post.source}:{post.source_id}"[:256],
                    f"conflict: id {post.source_id!r} is already stored with a different text", raw)


def classify_posts(classifier: Classifier, posts: list[Post],
                   places: PlaceFinder | None = None) -> tuple[list[Post], list[Verdict]]:
    """One verdict per post (the classify stage), with the places it names when ``places`` is given;
    posts gain the language the classifier found."""
    if not posts:
        return [], []
    verdicts = flag_cause_rumours(posts, classifier.classify(posts))  # whichever classifier: one rule
    if places is not None:
        verdicts = [replace(v, places=places.find(p.text)) for p, v in zip(posts, verdicts)]
    return [replace(p, lang=p.lang or v.lang) for p, v in zip(posts, verdicts)], list(verdicts)


@dataclass
class Observation:
    """What the detect stage made of some posts or a flush: incident changes and their notifications,
    closed buckets the detector scored, and the buckets to recount."""

    changes: list[AlertChange] = field(default_factory=list)
    notifications: list = field(default_factory=list)
    scored: list[Detection] = field(default_factory=list)
    touched: dict[str, set[datetime]] = field(default_factory=dict)
    # cascades (detector.alerting.grouping): their changes and notifications, and held incident changes
    # released now (recorded in an earlier batch) with their notifications
    cascades: list = field(default_factory=list)
    cascade_notifications: list = field(default_factory=list)
    released: list = field(default_factory=list)

    def extend(self, other: "Observation") -> None:
        self.changes += other.changes
        self.notifications += other.notifications
        self.cascades += other.cascades
        self.cascade_notifications += other.cascade_notifications
        self.released += other.released
        self.scored += other.scored
        for service, starts in other.touched.items():
            self.touched.setdefault(service, set()).update(starts)


class Pipeline:
    """Runs batches of posts through every stage into the store."""

    def __init__(
        self,
        store: Store,
        *,
        rules: Iterable[ServiceRule],
        classifier: Classifier | None,
        detection: VolumeSettings,
        alerts: AlertSettings,
        channels: Iterable[ChannelSettings] = (),
        on_change: Callable[[AlertChange], None] | None = None,
        claims: Mapping[str, Claim] | None = None,
        grouper: "CascadeGrouper | None" = None,
        places: PlaceFinder | None = None,
    ) -> None:
        self.store = store
        self.grouper = grouper  # groups incidents into cascades and holds back their own pages
        self.places = places  # None: places are not looked for (tests, the aggregate worker)
        self.claims = dict(claims or {})  # known claims by id: notifications quote their text and answer
        self.selector = PostSelector(store, rules)
        self.rules = self.selector.rules
        self.matcher = self.selector.matcher
        self.classifier = classifier  # None when only the detect stage runs here (the aggregate worker)
        self.detection = detection
        self.alert_settings = alerts
        self.channels = list(channels)
        self.on_change = on_change
        self.width = detection.bucket_width
        self.detectors: dict[str, VolumeDetector] = store.load_detector_states()
        self.buckets: dict[str, ServiceBuckets] = {}
        self.manager = AlertManager(alerts, latest_alerts(store))
        self.evidence = Evidence(limit=alerts.evidence_posts)

    # -- the detect stage's state, for checkpoints -------------------------------------------------
    def snapshot(self) -> PipelineSnapshot:
        """The detect stage's learned state as a plain, versioned record (detectors, open buckets,
        evidence, incidents); the cascade grouper is not in it (it resumes from the store)."""
        return PipelineSnapshot(
            detectors={service: detector_state(d) for service, d in self.detectors.items()},
            buckets={service: b.snapshot() for service, b in self.buckets.items()},
            evidence=self.evidence.snapshot(),
            incidents=self.manager.snapshot(),
        )

    def restore(self, snapshot: PipelineSnapshot) -> None:
        """Continue exactly where the pipeline that took ``snapshot`` was; SnapshotError for a record of
        another format version."""
        check_version(snapshot.version)
        self.detectors = snapshot.detector_states()
        buckets = {}
        for service, state in snapshot.buckets.items():
            buckets[service] = ServiceBuckets(service, self.width)
            buckets[service].restore(state)
        self.buckets = buckets
        self.evidence.restore(snapshot.evidence)
        self.manager.restore(snapshot.incidents)

    # -- matching ----------------------------------------------------------------------------------
    def services_for(self, post: Post, assigned: str | None) -> tuple[str, ...]:
        """The services a post is about: matched by name, plus the source's own service when it has no terms."""
        return self.selector.services_for(post, assigned)

    # -- the batch ---------------------------------------------------------------------------------
    def process(self, batch: SourceBatch, *, source: str, assigned: str | None = None, report: RunReport) -> None:
        new_posts, conflicts = self.selector.select(batch, assigned=assigned, report=report)
        new_posts, verdicts = classify_posts(self.classifier, new_posts, self.places)
        self._store_batch(batch, conflicts, new_posts, verdicts, source=source, report=report)

    def process_all(self, batches: Iterable[SourceBatch], *, source: str, assigned: str | None = None,
                    report: RunReport, after: Callable[[SourceBatch], None] | None = None) -> None:
        """``process`` each batch in order, calling ``after`` once each is stored, with each batch's
        classification on a thread of its own while the batch before it is stored, bucketed and judged.

        Why: the encoder is most of a replay's time and torch releases the GIL while it computes, so the
        rest of the pipeline (store, buckets, detector, incidents) can run meanwhile instead of after it.
        Nothing else changes: batches are selected, stored and judged in order, one at a time, by this
        thread; the next batch is selected as if the one being classified were stored already (its posts
        are ``pending``), so duplicates are found as before. At most one batch is classified ahead.

        Errors are raised as ``process`` would raise them, in batch order: a failed classification when
        its batch's turn to be stored comes (the batches before it are stored, none after); a failure to
        read or select the next batch after the batch ahead of it is stored. On KeyboardInterrupt the batch
        being classified is dropped (its cursor was not saved: it is read again on resume), after its
        classification, which cannot be interrupted, ends."""
        if self.classifier is None:  # the detect stage alone (aggregate worker): nothing to overlap
            for batch in batches:
                self.process(batch, source=source, assigned=assigned, report=report)
                if after is not None:
                    after(batch)
            return
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classify")
        ahead: _Ahead | None = None  # selected, being classified, not stored

        def store_ahead(classified: tuple[list[Post], list[Verdict]]) -> None:
            report.add(ahead.counted)  # selecting counts no changes nor reasons: add() keeps all there is
            self._store_batch(ahead.batch, ahead.conflicts, *classified, source=source, report=report)
            if after is not None:
                after(ahead.batch)

        unread = iter(batches)
        try:
            while True:
                try:
                    batch = next(unread, None)
                    counted = RunReport()
                    if batch is not None:
                        posts, conflicts = self.selector.select(batch, assigned=assigned, report=counted,
                                                                pending=ahead.posts if ahead else ())
                except Exception:
                    if ahead is not None:  # stored before the error, as a batch at a time would have
                        store_ahead(ahead.classified.result())
                    raise
                classified = ahead.classified.result() if ahead is not None else None
                following = None
                if batch is not None:
                    following = _Ahead(batch, posts, conflicts, counted,
                                       pool.submit(classify_posts, self.classifier, posts, self.places))
                if classified is not None:
                    store_ahead(classified)  # while the classify thread works on the following batch
                if following is None:
                    return
                ahead = following
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _store_batch(self, batch: SourceBatch, conflicts: list[Rejected], new_posts: list[Post],
                     verdicts: list[Verdict], *, source: str, report: RunReport) -> None:
        """Judge a batch's classified posts and store them, its rejected rows, the incidents' changes, the
        recounted buckets and the cursor in one transaction; then tell listeners."""
        observed = self.observe(new_posts, verdicts, report)
        with self.store.transaction() as conn:
            stored = self.store.add_posts(new_posts, verdicts, conn)
            report.quarantined += self.store.quarantine([*batch.rejected, *conflicts], conn)
            report.reasons.update(r.reason for r in [*batch.rejected, *conflicts])
            save_changes(self.store, observed.changes, observed.notifications, conn)
            save_grouping(observed, conn)
            if batch.cursor is not None:
                self.store.save_cursor(source, batch.cursor, conn)
            if new_posts:
                self.store.save_detector_states(self.detectors, new_posts[-1].created_at, conn)
            # the batch's buckets recounted and the detector's scores written in the same transaction
            # (they were two more commits per batch, and a crash between them left counts behind posts)
            if observed.touched:
                self.store.recompute_buckets(observed.touched, self.width, conn)
            self._record(observed.scored, conn)
        report.stored += len(stored.new_ids)
        report.duplicates += stored.duplicates
        self.announce(observed, report)

    def flush(self, until: datetime, report: RunReport) -> None:
        """Close every bucket that ends by ``until`` (end of a replay, or the wall clock in a live run)."""
        observed = self.observe_flush(until)
        with self.store.transaction() as conn:
            save_changes(self.store, observed.changes, observed.notifications, conn)
            save_grouping(observed, conn)
            self.store.save_detector_states(self.detectors, until, conn)
            self._record(observed.scored, conn)
        self.announce(observed, report)

    # -- the detect stage --------------------------------------------------------------------------
    def observe(self, posts: list[Post], verdicts: list[Verdict], report: RunReport) -> Observation:
        """Count classified posts (in event-time order) into their buckets and judge them; nothing is
        written: the caller stores the observation in its own transaction."""
        observed = Observation()
        for post, verdict in zip(posts, verdicts):
            if self.grouper is not None:
                self.grouper.note_post(post.services, post.created_at, verdict.reports(self.detection.metric),
                                       f"{post.source}:{post.source_id}")
            for service in post.services:
                observed.touched.setdefault(service, set()).add(floor_time(post.created_at, self.width))
                observed.changes += self._observe_post(service, post, verdict, observed.scored, report)
        fresh = {f"{p.source}:{p.source_id}": post_view(p, v) for p, v in zip(posts, verdicts)}
        self._decide(observed, posts[-1].created_at if posts else None, fresh)
        return observed

    def observe_flush(self, until: datetime) -> Observation:
        """Judge every bucket that ends by ``until``; nothing is written."""
        observed = Observation()
        for service in list(self.buckets):
            buckets, last = self._across_silence(service, self.buckets[service], until)
            for bucket in [*last, *buckets.advance_runs(until)]:
                observed.changes += self._judge_closed(bucket, observed.scored)
        self._decide(observed, until, {})
        return observed

    def _decide(self, observed: Observation, now: datetime | None, fresh: dict[str, dict[str, Any]]) -> None:
        """Which changes are paged: all of them, or (with cascades) what the grouper lets through, its
        cascades' notifications and the held changes it releases."""
        if self.grouper is None or now is None:
            observed.notifications = self._notifications(observed.changes, fresh, observed.scored)
            return
        from detector.alerting.cascade_payload import build_cascade_payload, cascade_routes

        decision = self.grouper.decide(observed.changes, now)
        ours = {id(c) for c in observed.changes}
        observed.notifications = self._notifications([c for c in decision.page if id(c) in ours], fresh,
                                                     observed.scored)
        observed.released = self._notifications([c for c in decision.page if id(c) not in ours], fresh,
                                                observed.scored)
        observed.cascades = decision.cascades
        observed.cascade_notifications = [
            (change, channel, build_cascade_payload(self.store, change.cascade, change.kind, change.at,
                                                    self.alert_settings))
            for change in decision.cascades if change.notify
            for channel in cascade_routes(change.cascade, self.channels)
        ]

    def announce(self, observed: Observation, report: RunReport) -> None:
        """After the observation is committed (with the detector's scores on its buckets): tell listeners."""
        report.changes += observed.changes
        for change in observed.changes:
            if self.on_change is not None:
                self.on_change(change)

    # -- one post ----------------------------------------------------------------------------------
    def _observe_post(
        self, service: str, post: Post, verdict: Verdict, scored: list[Detection], report: RunReport
    ) -> list[AlertChange]:
        buckets = self.buckets.get(service)
        if buckets is None:
            buckets = self.buckets[service] = ServiceBuckets(service, self.width)
        if buckets.is_late(post.created_at):
            report.late += 1  # stored and counted in its bucket, but the detector has moved on
            return []
        changes: list[AlertChange] = []
        buckets, last = self._across_silence(service, buckets, post.created_at)
        for closed in [*last, *buckets.advance_runs(post.created_at)]:
            changes += self._judge_closed(closed, scored)
        partial = buckets.add(post, verdict)
        if verdict.outage_report:
            self.evidence.add(service, post, verdict)
        detection = self._detector(service).score(partial)
        changes += self.manager.observe(detection, lambda: self.evidence.for_service(service, post.created_at),
                                        partial.complaint_share)
        return changes

    def _judge_closed(self, bucket: Bucket | EmptyRun, scored: list[Detection]) -> list[AlertChange]:
        if isinstance(bucket, EmptyRun):
            return self._judge_empty(bucket, scored)
        detection = self._detector(bucket.service).update(bucket)
        if bucket.mentions:
            scored.append(detection)
        return self.manager.observe(
            detection, lambda: self.evidence.for_service(bucket.service, bucket.end),
            bucket.complaint_share if bucket.mentions else None,
        )

    def _judge_empty(self, run: EmptyRun, scored: list[Detection]) -> list[AlertChange]:
        """Judge a run of empty closed buckets. While the service has no open incident the detections of
        quiet buckets change nothing, so the detector learns them in one step (``skip_empty``: a sparse
        stream's year is half a million empty minutes); the others go through ``update`` one by one."""
        detector, service, width = self._detector(run.service), run.service, run.width
        changes: list[AlertChange] = []
        start, left = run.start, run.count
        while left:
            if not any(alert.service == service for alert in self.manager.open_alerts()):
                learned = detector.skip_empty(start, width, left)
                start, left = start + learned * width, left - learned
                if not left:
                    break
            changes += self._judge_closed(Bucket(service, start, start + width), scored)
            start, left = start + width, left - 1
        return changes

    def _notifications(self, changes: list[AlertChange], fresh: dict[str, dict[str, Any]],
                       scored: list[Detection]) -> list:
        out = []
        for change in changes:
            channels = routes_for(change, self.channels) if change.notify else []
            if not channels:
                continue
            payload = build_payload(self.store, change, self.alert_settings, fresh, metric=self.detection.metric,
                                    claims=self.claims, newer=scored)
            out += [(change, channel, payload) for channel in channels]
        return out

    def _across_silence(
        self, service: str, buckets: ServiceBuckets, moment: datetime
    ) -> tuple[ServiceBuckets, list[Bucket]]:
        """The service's buckets, started afresh when ``moment`` lies more than LONGEST_WALK after them, and
        the bucket that was open before the silence (to be judged as closed).

        Empty buckets are judged one by one so the baseline learns a quiet night; but a file with a row
        from 1991 before rows from 2024 had the detector walk 17 million empty minutes. After a silence that
        long nothing learned before it describes the stream: the service's detector starts over (warm-up
        included) at ``moment``, in time proportional to the posts, not the minutes.
        """
        start = buckets.open_start
        if start is None or moment - start <= LONGEST_WALK:
            return buckets, []
        last = list(buckets.advance(start + self.width))
        log.warning("service %s: no posts from %s to %s; its detector starts over", service,
                    start.isoformat(), moment.isoformat())
        self.detectors[service] = build_detector(self.detection, service)
        fresh = self.buckets[service] = ServiceBuckets(service, self.width)
        return fresh, last

    def _detector(self, service: str) -> VolumeDetector:
        detector = self.detectors.get(service)
        if detector is None:
            detector = self.detectors[service] = build_detector(self.detection, service)
        return detector

    def _record(self, scored: list[Detection], conn: Transaction | None = None) -> None:
        self.store.record_detections(detection_rows(scored), conn)


@dataclass
class _Ahead:
    """A batch selected and handed to the classify thread, not stored yet."""

    batch: SourceBatch
    posts: list[Post]
    conflicts: list[Rejected]
    counted: RunReport  # what selecting it counted (read, duplicates...), added to the run's when it is stored
    classified: Future  # -> (posts with their languages, verdicts)


def save_grouping(observed: Observation, conn: Transaction) -> None:
    """Record what the grouper decided, in the batch's transaction (after the incidents themselves)."""
    if not (observed.cascades or observed.released):
        return
    now = datetime.now(timezone.utc)
    enqueue_released(conn, observed.released, now)
    save_cascade_changes(conn, observed.cascades, observed.cascade_notifications, now)


def detection_rows(scored: Iterable[Detection]) -> list[dict[str, Any]]:
    """The detector's expected value, band and score per scored bucket, as ``record_detections`` takes them."""
    return [
        {"b_service": d.service, "b_start": d.bucket_start, "expected": float(d.expected),
         "upper": float(d.upper), "score": float(d.score)}
        for d in scored
    ]


def as_rows(changes: Iterable[AlertChange]) -> list[dict[str, Any]]:
    return [{"kind": c.kind, "id": c.alert.id, "service": c.alert.service, "at": c.at.isoformat()} for c in changes]
