"""Reading the counted minutes (``buckets``): the data's own clock, the services seen, and a service's
counts with the detector's recorded expected value, band and score.

The expected value and band are what the detector compared each minute with, written when it judged it
(``Store.record_detections``): a chart drawn from them shows what the detector saw, not a re-computation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from detector.store import schema
from detector.store.frames import read_frame
from detector.store.store import Store

_b, _a = schema.buckets, schema.alerts


def data_clock(store: Store) -> dict[str, datetime]:
    """Per service, the end of its newest bucket: the data's "now" (one index seek per service), so a
    replayed 2020 outage reads the same way a live one does."""
    query = sa.select(_b.c.service, sa.func.max(_b.c.start).label("start")).group_by(_b.c.service)
    with store.engine.connect() as conn:
        latest = {service: start for service, start in conn.execute(query)}
    out = {}
    for service, start in latest.items():
        if start is None:
            continue
        out[service] = schema.aggregate_time(start) + timedelta(minutes=1)
    return out


def services_seen(store: Store) -> list[str]:
    """Every service with counted posts or incidents, alphabetically."""
    with store.engine.connect() as conn:
        names = {r[0] for r in conn.execute(sa.select(_b.c.service).distinct())}
        names |= {r[0] for r in conn.execute(sa.select(_a.c.service).distinct())}
    return sorted(names)


def bucket_frame(store: Store, service: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Stored buckets of one service in [since, until), in time order: counts, the recorded expected value,
    upper band and score. ``outage_reports`` / ``outage_people`` are NULL in buckets counted before the
    outage head; the complaint counts stand in for them."""
    query = (
        sa.select(_b.c.start, _b.c.width_s, _b.c.mentions, _b.c.complaints, _b.c.misinformation, _b.c.people,
                  _b.c.complaint_people, _b.c.expected, _b.c.upper, _b.c.score,
                  schema.BUCKET_OUTAGE_REPORTS.label("outage_reports"),
                  schema.BUCKET_OUTAGE_PEOPLE.label("outage_people"))
        .where(_b.c.service == service, _b.c.start >= since, _b.c.start < until)
        .order_by(_b.c.start)
    )
    return read_frame(store, query)


def bucket_table(store: Store, service: str | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> pd.DataFrame:
    """Every stored bucket column, by service then time, optionally one service and [since, until)."""
    query = sa.select(_b).order_by(_b.c.service, _b.c.start)
    if service:
        query = query.where(_b.c.service == service)
    if since:
        query = query.where(_b.c.start >= since)
    if until:
        query = query.where(_b.c.start < until)
    return read_frame(store, query)
