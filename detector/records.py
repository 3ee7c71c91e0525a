"""The records that flow through the pipeline: posts in, verdicts, buckets, detections and alerts out.

They are plain frozen dataclasses so every stage can be tested with hand-made values and no stage can
mutate what an earlier one produced. Times are always timezone-aware UTC; constructors refuse naive ones
because a naive time silently shifts every bucket by the machine's offset.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Mapping

SEVERITIES = ("minor", "major", "critical")


def require_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` converted to UTC; raise if it carries no timezone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(timezone.utc)


def text_fingerprint(text: str) -> str:
    """A short hash of the whitespace- and case-folded text: equal for exact duplicates and cross-posts."""
    folded = " ".join(text.casefold().split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Post:
    """One public post about (possibly) a watched service, as a source delivered it."""

    source: str
    source_id: str
    created_at: datetime
    text: str
    services: tuple[str, ...] = ()
    author: str | None = None  # pseudonymised (keyed hash) before it reaches a Post
    url: str | None = None
    lang: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # A reply's parent text, where the source gives it: "no separate router" means nothing alone, and
    # the classifier reads a reply with what it answers rather than guessing from five words.
    context: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", require_utc(self.created_at, "Post.created_at"))
        if not isinstance(self.metadata, MappingProxyType):
            object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)

    @property
    def person(self) -> str:
        """Who counts as one reporter: the author when known, else the text (folds bots and cross-posts)."""
        return f"a:{self.author}" if self.author else f"t:{text_fingerprint(self.text)}"


@dataclass(frozen=True, slots=True)
class Place:
    """A place a post names: a town or city, a state or province (``region``), or a street address."""

    name: str
    kind: str  # city | region | address
    region: str | None = None  # state or province abbreviation ("BC", "TX"); None for an address
    country: str | None = None  # ISO 3166 code
    lat: float | None = None
    lon: float | None = None

    @property
    def label(self) -> str:
        """How people read it: "Kamloops, BC", "Alberta", "259 Portage Avenue"."""
        return f"{self.name}, {self.region}" if self.kind == "city" and self.region else self.name


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the classifier says about one post."""

    source: str
    source_id: str
    complaint: bool
    complaint_p: float
    misinformation: bool = False
    misinformation_p: float = 0.0
    symptom: str | None = None
    symptom_p: float | None = None
    claim: str | None = None  # id of the matched claim in the claims registry
    claim_similarity: float | None = None
    lang: str | None = None
    confidence: float = 1.0  # lower for languages or texts the model is not trained for
    model: str = "keywords"
    places: tuple[Place, ...] = ()  # the places the post names (see detector/places)
    # The author experiences (or asks about) a disruption of the service now: narrower than a complaint,
    # which also covers bills, hold times and slow support. The volume metric counts these people.
    outage_report: bool = False
    outage_report_p: float = 0.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)

    def reports(self, metric: str) -> bool:
        """Whether the post is one of the reports ``metric`` counts (``report_field``)."""
        return bool(getattr(self, report_field(metric)))


OUTAGE_METRICS = frozenset({"outage_people", "outage_reports"})
DEFAULT_METRIC = "outage_people"  # the volume detector's default (``VolumeSettings.metric``)


def report_field(metric: str) -> str:
    """The verdict field that makes a post a report for the volume metric ``metric``: ``outage_report`` for
    the outage metrics (the default), ``complaint`` for every other. Whatever speaks of the people who
    reported an incident (their count, symptoms and places, the posts cascade grouping reads) follows it,
    so it counts the posts the detector counted."""
    return "outage_report" if metric in OUTAGE_METRICS else "complaint"


@dataclass(frozen=True, slots=True)
class Bucket:
    """Counts for one service over [start, end), known up to ``as_of``.

    A bucket is *closed* when ``as_of == end``; an open (partial) bucket lets a detector decide before the
    minute is over. ``people`` counts distinct reporters (authors, or distinct texts when the author is
    unknown) so one angry user or one bot cannot look like a crowd.
    """

    service: str
    start: datetime
    end: datetime
    mentions: int = 0
    complaints: int = 0
    misinformation: int = 0
    people: int = 0
    complaint_people: int = 0
    as_of: datetime | None = None
    outage_reports: int | None = None  # None: counted without the outage head; taken as the complaints
    outage_people: int | None = None  # distinct people reporting an outage; None: the complaining people

    def __post_init__(self) -> None:
        # Counts made without an outage head (a counts file, a bench series, a store from before the
        # head) count their complainers as reporters, so every bucket carries the default metric.
        if self.outage_reports is None:
            object.__setattr__(self, "outage_reports", self.complaints)
        if self.outage_people is None:
            object.__setattr__(self, "outage_people", self.complaint_people)
        object.__setattr__(self, "start", require_utc(self.start, "Bucket.start"))
        object.__setattr__(self, "end", require_utc(self.end, "Bucket.end"))
        as_of = self.end if self.as_of is None else require_utc(self.as_of, "Bucket.as_of")
        object.__setattr__(self, "as_of", as_of)

    @property
    def closed(self) -> bool:
        return self.as_of >= self.end

    @property
    def width(self) -> timedelta:
        return self.end - self.start

    @property
    def complaint_share(self) -> float:
        return self.complaints / self.mentions if self.mentions else 0.0


@dataclass(frozen=True, slots=True)
class Detection:
    """A detector's answer for one bucket: what was expected, how unusual it is, and whether to alert."""

    service: str
    bucket_start: datetime
    at: datetime  # the moment this answer was known live: the bucket's as_of
    value: float
    expected: float
    upper: float
    score: float  # in [0, 1], high means anomalous
    alert: bool
    reason: str = ""
    suppressed: bool = False  # inside a maintenance window: recorded, not notified
    # The evidence behind the decision when it spans several buckets (a sliding window): its sum and the
    # sum expected over it. A per-minute value can be 0 while the last hour is clearly anomalous.
    window_value: float | None = None
    window_expected: float | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.expected if self.expected > 0 else float(self.value > 0) * self.value


@dataclass(frozen=True, slots=True)
class Alert:
    """One incident for one service: opened when the detector fired live, resolved when volume is normal."""

    id: str
    service: str
    opened_at: datetime
    status: str  # open | acknowledged | resolved
    severity: str
    peak_ratio: float
    peak_value: float
    expected: float
    reason: str
    evidence: tuple[str, ...] = ()  # post keys "source:source_id"
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that could not become a Post, kept in quarantine with the reason so nothing is silently lost."""

    source: str
    ref: str  # where in the input: "file.csv:17", a URL, a message id
    reason: str
    raw: str | None = None


@dataclass(frozen=True, slots=True)
class OfficialIncident:
    """One incident as the provider posted it; ``started_at`` is when the provider first said so."""

    service: str
    source: str
    external_id: str
    title: str
    started_at: datetime
    updated_at: datetime
    status: str | None = None
    impact: str | None = None
    url: str | None = None
    resolved_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("started_at", "updated_at", "resolved_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_utc(value, f"OfficialIncident.{name}"))


@dataclass(frozen=True, slots=True)
class Member:
    """One service incident in a cascade."""

    alert_id: str
    service: str
    onset: datetime
    severity: str
    status: str
    declares: bool  # the service declares the cascade's cause as a dependency
    naming_share: float  # share of its recent complaints naming the cause
    paged: bool  # it was paged on its own before it joined (or despite inhibition)


@dataclass(frozen=True, slots=True)
class Cascade:
    """Incidents of several services (or one and an upstream) that are one story, with a likely cause."""

    id: str
    likely_cause: str
    confidence: float
    opened_at: datetime  # the first member's onset
    recognised_at: datetime  # when the group was formed
    updated_at: datetime
    status: str  # open acknowledged resolved
    members: tuple[Member, ...]
    evidence: Mapping[str, object]
    resolved_at: datetime | None = None

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(m.service for m in self.members)

    @property
    def severity(self) -> str:
        return max((m.severity for m in self.members), key=SEVERITIES.index, default="minor")
