"""The stored facts an incident's numbers are computed from: its minute buckets, who reported it and when,
its symptoms, its rumours, the places named and the provider's own incidents. Read-only;
``detector.comms.facts`` turns these rows into the numbers every card, report and page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from detector.places.summary import PlaceMention
from detector.records import DEFAULT_METRIC, report_field
from detector.store import schema
from detector.store.official import official_overlapping
from detector.store.store import Store

_p, _ps, _v, _b = schema.posts, schema.post_services, schema.verdicts, schema.buckets
RUMOUR_ROWS = 5000  # newest rumour posts read per incident: enough to name and count the clusters


@dataclass(frozen=True, slots=True)
class BucketRow:
    """One stored minute of a service: its counts and the detector's expected value and band."""

    start: datetime
    mentions: int
    complaints: int
    people: int
    complaint_people: int
    expected: float | None
    upper: float | None
    outage_reports: int = 0  # NULL in minutes counted before the outage head: the complaint counts stand in
    outage_people: int = 0


@dataclass(frozen=True, slots=True)
class RumourRow:
    """One stored post flagged as misinformation or matching a known claim."""

    key: str
    created_at: datetime
    claim: str | None
    text: str


def bucket_rows(store: Store, service: str, since: datetime, until: datetime | None) -> list[BucketRow]:
    """The service's stored minutes with start in [since, until) (until None: to the newest), in time order
    (empty minutes are absent)."""
    query = (sa.select(_b.c.start, _b.c.mentions, _b.c.complaints, _b.c.people, _b.c.complaint_people,
                       _b.c.expected, _b.c.upper,
                       schema.BUCKET_OUTAGE_REPORTS, schema.BUCKET_OUTAGE_PEOPLE)
             .where(_b.c.service == service, _b.c.start >= since).order_by(_b.c.start))
    if until is not None:
        query = query.where(_b.c.start < until)
    with store.engine.connect() as conn:
        return [BucketRow(*row) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class PostFact:
    """What an incident's numbers need of one stored post: who, when, its verdict; the text only when it is
    a rumour (the rest is never read, so a big incident costs one pass over narrow rows)."""

    key: str
    person: str
    created_at: datetime
    complaint: bool
    symptom: str | None
    rumour: bool
    claim: str | None
    text: str | None
    outage_report: bool = False  # NULL before the outage head: the complaint stands in (as in the buckets)

    def reports(self, metric: str) -> bool:
        """Whether the post is one of the reports ``metric`` counts (``detector.records.report_field``)."""
        return bool(getattr(self, report_field(metric)))


_OUTAGE = schema.OUTAGE_REPORT  # NULL before the outage head: the complaint


def _reported(metric: str) -> Any:
    """The verdict column that makes a post a report for ``metric`` (``detector.records.report_field``)."""
    return _OUTAGE if report_field(metric) == "outage_report" else _v.c.complaint


def post_facts(store: Store, service: str, since: datetime, until: datetime) -> list[PostFact]:
    """Every complaint, outage report or rumour about the service in [since, until), in one pass over the
    (service, created_at) index: person, time, complaint, symptom, rumour flag, claim, the text of rumours
    only, and outage report."""
    rumour = sa.or_(_v.c.misinformation.is_(True), _v.c.claim.is_not(None))
    query = (sa.select(_p.c.source, _p.c.source_id, _p.c.person, _ps.c.created_at, _v.c.complaint, _v.c.symptom,
                       _v.c.misinformation, _v.c.claim, sa.case((rumour, _p.c.text), else_=None), _OUTAGE)
             .select_from(_ps.join(_p, _p.c.id == _ps.c.post_id).join(_v, _v.c.post_id == _ps.c.post_id))
             .where(_ps.c.service == service, _ps.c.created_at >= since, _ps.c.created_at < until)
             .where(sa.or_(_v.c.complaint.is_(True), _OUTAGE.is_(True), rumour)))
    with store.engine.connect() as conn:
        return [PostFact(f"{source}:{source_id}", person, at, bool(complaint), symptom,
                         bool(misinformation) or claim is not None, claim, text, bool(outage))
                for source, source_id, person, at, complaint, symptom, misinformation, claim, text, outage
                in conn.execute(query)]


def rumour_rows(store: Store, service: str, since: datetime, until: datetime,
                limit: int = RUMOUR_ROWS) -> list[RumourRow]:
    """The newest posts about the service in [since, until) that repeat a known claim or are flagged as
    misinformation, with their text (untrusted: whoever shows it escapes it)."""
    query = (sa.select(_p.c.source, _p.c.source_id, _ps.c.created_at, _v.c.claim, _p.c.text)
             .select_from(_ps.join(_p, _p.c.id == _ps.c.post_id).join(_v, _v.c.post_id == _ps.c.post_id))
             .where(_ps.c.service == service, _ps.c.created_at >= since, _ps.c.created_at < until,
                    sa.or_(_v.c.misinformation.is_(True), _v.c.claim.is_not(None)))
             .order_by(_ps.c.created_at.desc()).limit(limit))
    with store.engine.connect() as conn:
        return [RumourRow(f"{s}:{i}", schema.aggregate_time(at), claim, text)
                for s, i, at, claim, text in conn.execute(query)]


def official_rows(store: Store, service: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The provider's status-page incidents for the service overlapping [since, until), oldest first (the one
    overlap rule, ``detector.store.official``): source, title, status, impact, url, started_at, resolved_at."""
    keep = ("source", "title", "status", "impact", "url", "started_at", "resolved_at")
    return [{k: row[k] for k in keep} for row in official_overlapping(store, service, since, until)]


def place_mentions(store: Store, service: str, since: datetime, until: datetime,
                   metric: str = DEFAULT_METRIC) -> list[PlaceMention]:
    """Each (place, person) pair of the reports about the service in [since, until) that name a place (the
    posts ``metric`` counts): the rows people-per-place counts are made of (``places.summary.count_places``)."""
    pl = schema.post_places
    query = (sa.select(pl.c.place, pl.c.name, pl.c.kind, pl.c.region, pl.c.country, pl.c.lat, pl.c.lon,
                       _p.c.person, sa.func.count())
             .select_from(_ps.join(_p, _p.c.id == _ps.c.post_id).join(_v, _v.c.post_id == _ps.c.post_id)
                          .join(pl, pl.c.post_id == _ps.c.post_id))
             .where(_ps.c.service == service, _ps.c.created_at >= since, _ps.c.created_at < until,
                    _reported(metric).is_(True))
             .group_by(pl.c.place, pl.c.name, pl.c.kind, pl.c.region, pl.c.country, pl.c.lat, pl.c.lon, _p.c.person))
    with store.engine.connect() as conn:
        return [PlaceMention(*row[:7], person=row[7], posts=int(row[8])) for row in conn.execute(query)]


def places_of_posts(store: Store, post_ids: list[int]) -> dict[int, list[str]]:
    """The places each post names, as labels ("Kamloops, BC"), by post id (posts naming none are absent)."""
    pl = schema.post_places
    out: dict[int, list[str]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start:start + 500]
            rows = conn.execute(sa.select(pl.c.post_id, pl.c.place).where(pl.c.post_id.in_(chunk))
                                .order_by(pl.c.post_id, pl.c.place))
            for post_id, place in rows:
                out.setdefault(post_id, []).append(place)
    return out
