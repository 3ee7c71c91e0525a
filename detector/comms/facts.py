"""The facts of an incident, computed one way from stored data, for every card, report and page.

Definitions, stated once (every number a user reads comes from here):

- **Peak**: the minute bucket with the highest value of the detector's metric in [opened, until) (the
  earliest on a tie), with that same bucket's expected value and ratio. The ratio divides by the expected
  value floored at 1 per minute (as the severity does): 9 where 0.002 was expected is 9×, not 4,500×, and
  the text says "where under 1 was expected" so the numbers read true. ``detector alerts``, the Alerts
  page, ``load_alerts``, the cards and the report all show this peak (``stored_peak`` for lists). The alert
  record's ``severity_ratio`` is another number on purpose: the ratio the severity was decided on (the
  detector's deciding window, read while a minute was still filling), never shown as the peak.
- **Now** (only while the incident is live): the newest complete minute bucket (a minute still filling
  reads low), its value and expected value.
- **Reports**: the posts the detector's metric counts (``detector.records.report_field``): outage reports
  for the outage metrics (the default), complaints for the others. Symptoms and places are counted over
  the reports too.
- **People**: distinct people (a pseudonymous author, else the post text) whose posts were reports,
  from the start of the rise (the run of minutes with reports leading into the alert, gaps of up to
  ``RISE_GAP``, at most ``RISE_LOOKBACK`` back) or ``LOOKBACK`` before the incident opened if that is
  earlier, until ``until``; "now" is those of the last ``NOW_WINDOW``. The first report is the first
  report of that span: the report's timeline, the cards and the draft's "since" all say it.
- **Reports stopped** (last report): the last report up to the end of the last minute that was above
  its band; **resolved** comes later, after the resolve wait, and the wait is shown as the difference.
- **Rumours**: posts that match a known claim (shown with the claim's text, verdict and reference from the
  claims file) or are flagged as misinformation without a match (one cluster, shown with its most
  repeated post text as the example).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from detector.classify.claims import Claim
from detector.places.summary import PlaceMention, count_places, where_line
from detector.records import DEFAULT_METRIC, report_field, text_fingerprint
from detector.store import facts as stored
from detector.store.store import Store

LOOKBACK = timedelta(minutes=15)
RISE_LOOKBACK = timedelta(hours=6)  # how far back the rise leading into an alert is looked for
RISE_GAP = timedelta(minutes=5)  # a quiet gap this long ends the rise
NOW_WINDOW = timedelta(minutes=15)
RATIO_FLOOR = 1.0
UNITS = {
    "outage_people": "people reporting an outage", "outage_reports": "outage reports",
    "complaint_people": "people reporting a problem", "people": "people posting", "complaints": "complaints",
    "mentions": "mentions", "complaint_share": "share of complaints",
}


@dataclass(frozen=True, slots=True)
class Minute:
    """One bucket of the detector's metric: when, how much, what was expected, the band's top."""

    start: datetime
    value: float
    expected: float | None = None
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class Peak:
    """The incident's highest minute, with its own expected value and ratio (see the module)."""

    at: datetime
    value: float
    expected: float | None
    ratio: float | None

    def describe(self, unit: str = "per minute") -> str:
        """'9 per minute at 14:38 UTC, where under 1 was expected (9.0×)'."""
        when = f"{self.value:.0f} {unit} at {self.at:%H:%M} UTC"
        if self.expected is None:
            return when + " (no expected value recorded)"
        if self.expected < RATIO_FLOOR:
            return f"{when}, where under {RATIO_FLOOR:g} was expected ({self.ratio:.1f}×)"
        return f"{when}, against {self.expected:.1f} expected ({self.ratio:.1f}×)"


@dataclass(frozen=True, slots=True)
class Rumour:
    """A claim being repeated: the known claim's text, verdict and reference, or (claim None) the
    unmatched misinformation posts with their most repeated text as the example."""

    claim: str | None
    text: str
    verdict: str | None
    reference: str | None
    posts: int
    example: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class IncidentFacts:
    """Everything comms and on-call read about one incident up to ``until``."""

    service: str
    incident_id: str
    status: str
    severity: str
    opened_at: datetime
    resolved_at: datetime | None
    until: datetime
    metric: str
    counted_from: datetime  # the start of the rise, or LOOKBACK before opening if that is earlier
    peak: Peak | None
    now: Minute | None
    people_total: int
    people_now: int | None
    people_joined: tuple[datetime, ...]  # each person's first report, in order: people_at(t) counts them
    first_report: datetime | None
    last_report: datetime | None
    trend: str | None
    symptoms: dict[str, int] = field(default_factory=dict)
    rumours: list[Rumour] = field(default_factory=list)
    official: list[dict[str, Any]] = field(default_factory=list)
    places: dict[str, int] | None = None  # distinct people per place named ("Kamloops, BC": 4), most first
    where: str | None = None  # "reports from 7 areas in 3 provinces: Kamloops (4), ..." (None: no place named)
    minutes: tuple[Minute, ...] = ()  # the incident's stored minutes (empty ones absent): its trend, drawn

    def people_at(self, moment: datetime) -> int:
        """How many distinct people had reported it by ``moment`` (for "what changed since the last one")."""
        import bisect

        return bisect.bisect_right(self.people_joined, moment)

    @property
    def live(self) -> bool:
        return self.resolved_at is None

    @property
    def unit(self) -> str:
        return UNITS.get(self.metric, self.metric) + " per minute"

    @property
    def resolve_wait(self) -> timedelta | None:
        """How long after the last report the incident was resolved (the resolve wait, not the outage)."""
        if self.resolved_at is None or self.last_report is None:
            return None
        return self.resolved_at - self.last_report

    def to_json(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {
            "metric": self.metric, "unit": self.unit, "counted_from": iso(self.counted_from),
            "peak": None if self.peak is None else {
                "at": iso(self.peak.at), "value": self.peak.value, "expected": _round(self.peak.expected),
                "ratio": _round(self.peak.ratio, 2)},
            "now": None if self.now is None else {
                "at": iso(self.now.start), "value": self.now.value, "expected": _round(self.now.expected)},
            "people": {"total": self.people_total, "now": self.people_now,
                       "now_minutes": int(NOW_WINDOW / timedelta(minutes=1))},
            "first_report": iso(self.first_report), "last_report": iso(self.last_report),
            "resolve_wait_minutes": None if self.resolve_wait is None else self.resolve_wait // timedelta(minutes=1),
            "trend": self.trend,
            "places": self.places,
            "where": self.where,
            "rumours": [{**asdict(r), "first_seen": iso(r.first_seen), "last_seen": iso(r.last_seen)}
                        for r in self.rumours],
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def metric_value(row: stored.BucketRow, metric: str) -> float:
    """The detector's metric of one stored bucket (the series its expected value is about)."""
    if metric == "complaint_share":
        return row.complaints / row.mentions if row.mentions else 0.0
    return float(getattr(row, metric))


def ratio(value: float, expected: float | None) -> float | None:
    """Observed over expected, expected floored at ``RATIO_FLOOR`` (see the module)."""
    return None if expected is None else value / max(float(expected), RATIO_FLOOR)


def peak_of(minutes: Iterable[Minute]) -> Peak | None:
    """The highest minute (the earliest of equals) with its own expected value and ratio."""
    best: Minute | None = None
    for minute in sorted(minutes, key=lambda m: m.start):
        if best is None or minute.value > best.value:
            best = minute
    if best is None:
        return None
    return Peak(best.start, best.value, best.expected, ratio(best.value, best.expected))


def incident_minutes(store: Store, service: str, opened_at: datetime, end: datetime | None,
                     metric: str = DEFAULT_METRIC) -> list[Minute]:
    """The incident's stored minutes of ``metric``: from its opening minute to ``end`` inclusive (None: to
    the newest stored minute), empty minutes absent. The peak every surface shows is taken over these."""
    first_minute = opened_at.replace(second=0, microsecond=0)
    until = None if end is None else end + timedelta(microseconds=1)
    return [Minute(r.start, metric_value(r, metric), r.expected, r.upper)
            for r in stored.bucket_rows(store, service, first_minute, until)]


def stored_peak(store: Store, *, service: str, opened_at: datetime, resolved_at: datetime | None,
                metric: str = DEFAULT_METRIC) -> Peak | None:
    """The incident's peak from the stored minutes alone (to its resolution, or to the newest stored minute
    while it is live): what ``gather`` finds, without the posts, for lists of incidents (``detector alerts``,
    the Alerts page, ``load_alerts``). Not the alert record's ``severity_ratio``, which is the detector's own
    deciding window at decision time."""
    return peak_of(incident_minutes(store, service, opened_at, resolved_at, metric))


def rise_start(rows: Iterable[stored.BucketRow], metric: str = DEFAULT_METRIC) -> datetime | None:
    """The start of the run of minutes with reports that leads into the newest of ``rows`` (gaps of up to
    ``RISE_GAP``); None when none of them has a report."""
    outage = report_field(metric) == "outage_report"
    starts = sorted((r.start for r in rows if (r.outage_reports if outage else r.complaints) > 0), reverse=True)
    if not starts:
        return None
    start = starts[0]
    for earlier in starts[1:]:
        if start - earlier > RISE_GAP:
            break
        start = earlier
    return start


def merged(rows: Iterable[Minute], newer: Iterable[Minute]) -> list[Minute]:
    """Stored minutes with the ones judged since (not stored yet) in their place, in time order."""
    by_start = {m.start: m for m in rows}
    by_start.update({m.start: m for m in newer})
    return [by_start[start] for start in sorted(by_start)]


def rumours_of(rows: Iterable[stored.RumourRow], claims: Mapping[str, Claim]) -> list[Rumour]:
    """Rumour posts grouped by claim (unmatched ones together), the most repeated first."""
    groups: dict[str | None, list[stored.RumourRow]] = {}
    for row in rows:
        groups.setdefault(row.claim, []).append(row)
    out = []
    for claim_id, posts in groups.items():
        texts = Counter(text_fingerprint(p.text) for p in posts)
        top = texts.most_common(1)[0][0]
        example = next(p.text for p in sorted(posts, key=lambda p: p.created_at) if text_fingerprint(p.text) == top)
        known = claims.get(claim_id) if claim_id else None
        text = known.text if known else (claim_id or example)
        out.append(Rumour(claim_id, text, known.verdict if known else None, known.reference if known else None,
                          len(posts), example, min(p.created_at for p in posts), max(p.created_at for p in posts)))
    return sorted(out, key=lambda r: (-r.posts, r.claim or "~"))


def gather(
    store: Store, *, service: str, incident_id: str, status: str, severity: str, opened_at: datetime,
    resolved_at: datetime | None, until: datetime, metric: str = DEFAULT_METRIC,
    claims: Mapping[str, Claim] | None = None, newer: Iterable[Minute] = (),
    fresh: Mapping[str, Mapping[str, Any]] | None = None,
) -> IncidentFacts:
    """The incident's facts up to ``until`` from the store, plus ``newer`` minutes and ``fresh`` posts that
    a running pipeline has judged but not committed yet (so a notification counts what it reacts to).

    One pass over the incident's posts (``store.facts.post_facts``) gives people, first and last report,
    symptoms and rumours; the buckets give the peak, now and the trend."""
    claims = claims or {}
    end = resolved_at or until
    past_end = end + timedelta(microseconds=1)
    first_minute = opened_at.replace(second=0, microsecond=0)
    rise = rise_start(stored.bucket_rows(store, service, opened_at - RISE_LOOKBACK, first_minute + timedelta(minutes=1)),
                      metric)
    since = min(rise, opened_at - LOOKBACK) if rise else opened_at - LOOKBACK
    minutes = merged(incident_minutes(store, service, opened_at, end, metric),
                     [m for m in newer if first_minute <= m.start <= end])
    posts = stored.post_facts(store, service, since, past_end)
    known = {p.key for p in posts}
    posts += [_fact(key, post) for key, post in _fresh_posts(fresh, service, since, end).items() if key not in known]
    live = resolved_at is None
    people: dict[str, tuple[datetime, datetime]] = {}
    symptoms: Counter[str] = Counter()
    reports: list[datetime] = []
    rumour_rows: list[stored.RumourRow] = []
    for post in posts:
        if post.rumour:
            rumour_rows.append(stored.RumourRow(post.key, post.created_at, post.claim, post.text or ""))
        if not post.reports(metric):
            continue
        reports.append(post.created_at)
        if post.symptom:
            symptoms[post.symptom] += 1
        first_at, last_at = people.get(post.person, (post.created_at, post.created_at))
        people[post.person] = (min(first_at, post.created_at), max(last_at, post.created_at))
    complete = [m for m in minutes if m.start + timedelta(minutes=1) <= end]  # a minute still filling reads low
    now = (complete or minutes)[-1] if live and minutes else None
    above = [m for m in minutes if m.upper is not None and m.value > m.upper]
    bound = above[-1].start + timedelta(minutes=1) if above else past_end
    mentions = stored.place_mentions(store, service, since, past_end, metric)
    for key, post in _fresh_posts(fresh, service, since, end).items():
        if post.get(report_field(metric)) and key not in known:
            person = post.get("person") or post.get("author") or post.get("text")
            mentions += [PlaceMention(**place, person=person) for place in post.get("places") or ()]
    places = count_places(mentions)
    return IncidentFacts(
        service=service, incident_id=incident_id, status=status, severity=severity, opened_at=opened_at,
        resolved_at=resolved_at, until=end, metric=metric, counted_from=since, peak=peak_of(minutes), now=now,
        people_total=len(people),
        people_now=sum(1 for _, at in people.values() if at >= end - NOW_WINDOW) if live else None,
        people_joined=tuple(sorted(first_at for first_at, _ in people.values())),
        first_report=min(reports, default=None),
        last_report=max((at for at in reports if at < bound), default=None),
        trend=_trend(minutes, end) if live else None,
        symptoms=dict(symptoms.most_common()),
        rumours=rumours_of(sorted(rumour_rows, key=lambda r: r.created_at)[-stored.RUMOUR_ROWS:], claims),
        official=stored.official_rows(store, service, since, end + timedelta(hours=1)),
        places={c.place: c.people for c in places}, where=where_line(places), minutes=tuple(minutes),
    )


def _fact(key: str, post: Mapping[str, Any]) -> stored.PostFact:
    """A post read in this batch (``notification.post_view``) as the store would return it."""
    rumour = bool(post.get("misinformation")) or post.get("claim") is not None
    return stored.PostFact(key, str(post.get("person") or post.get("author") or post.get("text")),
                           datetime.fromisoformat(post["created_at"]), bool(post.get("complaint")),
                           post.get("symptom"), rumour, post.get("claim"), str(post.get("text") or "") if rumour else None,
                           bool(post.get("outage_report")))


def _fresh_posts(fresh: Mapping[str, Mapping[str, Any]] | None, service: str, since: datetime,
                 until: datetime) -> dict[str, Mapping[str, Any]]:
    """The uncommitted posts about ``service`` in [since, until] (ISO UTC strings compare in time order)."""
    if not fresh:
        return {}
    lo, hi = since.isoformat(), until.isoformat()
    return {k: p for k, p in fresh.items() if service in p.get("services", ()) and lo <= p["created_at"] <= hi}


def _trend(minutes: list[Minute], end: datetime) -> str | None:
    """'rising', 'falling' or 'steady': the last ``NOW_WINDOW`` against the one before (±20%)."""
    recent = sum(m.value for m in minutes if m.start >= end - NOW_WINDOW)
    before = sum(m.value for m in minutes if end - 2 * NOW_WINDOW <= m.start < end - NOW_WINDOW)
    if recent == before == 0:
        return None
    if recent > before * 1.2:
        return "rising"
    if recent < before * 0.8:
        return "falling"
    return "steady"
