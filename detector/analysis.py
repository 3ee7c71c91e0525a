"""The analysts' interface: posts, buckets and incidents as pandas DataFrames.

These read the same database the pipeline writes (SQLite path or URL); times come back as UTC-aware
pandas timestamps. Opening a database here never changes it, beyond bringing an old schema up to date.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from detector.store import schema
from detector.store.store import Store

_TIME_COLUMNS = ("created_at", "start", "opened_at", "updated_at", "resolved_at", "acknowledged_at", "at")


def _frame(store: Store, query: sa.Select) -> pd.DataFrame:
    with store.engine.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column in _TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _store(db: str | Path | Store) -> tuple[Store, bool]:
    return (db, False) if isinstance(db, Store) else (Store(db), True)


def posts_query(service: str | None = None, since: datetime | None = None, until: datetime | None = None) -> sa.Select:
    p, ps, v = schema.posts, schema.post_services, schema.verdicts
    services = (
        sa.select(ps.c.post_id, sa.func.min(ps.c.service).label("service"), sa.func.count().label("n_services"))
        .group_by(ps.c.post_id)
        .subquery()
    )
    query = (
        sa.select(
            p.c.id.label("post_id"), p.c.source, p.c.source_id, p.c.created_at, services.c.service,
            p.c.text, p.c.author, p.c.url, p.c.lang,
            sa.cast(v.c.complaint, sa.Integer).label("complaint"), v.c.complaint_p,
            sa.cast(v.c.misinformation, sa.Integer).label("misinformation"), v.c.misinformation_p,
            v.c.symptom, v.c.claim, v.c.claim_similarity, v.c.confidence, v.c.model,
        )
        .select_from(p.join(services, services.c.post_id == p.c.id).outerjoin(v, v.c.post_id == p.c.id))
        .order_by(p.c.created_at, p.c.id)
    )
    if service:
        query = query.where(p.c.id.in_(sa.select(ps.c.post_id).where(ps.c.service == service)))
    if since:
        query = query.where(p.c.created_at >= since)
    if until:
        query = query.where(p.c.created_at < until)
    return query


def load_posts(db: str | Path | Store, service: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> pd.DataFrame:
    """Posts with their verdicts: one row per post, ``service`` the first (alphabetically) it matched."""
    store, own = _store(db)
    try:
        frame = _frame(store, posts_query(service, since, until))
        if service and not frame.empty:
            frame["service"] = service
        return frame
    finally:
        if own:
            store.close()


def load_buckets(db: str | Path | Store, service: str | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> pd.DataFrame:
    """Per-service bucket counts (non-empty buckets) with the detector's expected value, band and score."""
    store, own = _store(db)
    b = schema.buckets
    query = sa.select(b).order_by(b.c.service, b.c.start)
    if service:
        query = query.where(b.c.service == service)
    if since:
        query = query.where(b.c.start >= since)
    if until:
        query = query.where(b.c.start < until)
    try:
        return _frame(store, query)
    finally:
        if own:
            store.close()


def load_alerts(db: str | Path | Store, service: str | None = None, since: datetime | None = None) -> pd.DataFrame:
    """Incidents: when each opened (as it would have fired live), resolved, how bad, and the evidence."""
    store, own = _store(db)
    a = schema.alerts
    query = sa.select(a).order_by(a.c.opened_at)
    if service:
        query = query.where(a.c.service == service)
    if since:
        query = query.where(a.c.opened_at >= since)
    try:
        return _frame(store, query)
    finally:
        if own:
            store.close()
