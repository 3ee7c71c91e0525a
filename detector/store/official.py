"""The providers' own incidents (``official_incidents``), as their status pages report them.

Upserted by (source, external_id), so a page polled every minute records each incident once, with its
latest status and resolution.

One overlap rule for every reader (the dashboard's chart, the report's timeline, the comms facts and the
notifications' "official status"): an official incident overlaps [since, until) when it started before
``until`` and was not resolved before ``since`` (still open counts as not resolved).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from detector.records import OfficialIncident
from detector.store import schema
from detector.store.database import upsert
from detector.store.store import Store

_UPDATED = ("service", "title", "status", "impact", "url", "started_at", "resolved_at", "updated_at")
OFFICIAL_COLUMNS = [column.name for column in schema.official_incidents.columns]


def save_official(store: Store, incidents: Iterable[OfficialIncident]) -> int:
    """Insert or refresh these incidents; return how many rows were written."""
    rows = [
        {"service": i.service, "source": i.source, "external_id": i.external_id, "title": i.title,
         "status": i.status, "impact": i.impact, "url": i.url, "started_at": i.started_at,
         "resolved_at": i.resolved_at, "updated_at": i.updated_at}
        for i in incidents
    ]
    if not rows:
        return 0
    stmt = upsert(store.engine.dialect.name, schema.official_incidents, ("source", "external_id"), _UPDATED)
    with store.engine.begin() as conn:
        conn.execute(stmt, rows)
    return len(rows)


def load_official(store: Store, service: str | None = None, since: datetime | None = None) -> list[OfficialIncident]:
    """The providers' incidents, oldest first."""
    t = schema.official_incidents
    query = sa.select(t).order_by(t.c.started_at)
    if service:
        query = query.where(t.c.service == service)
    if since:
        query = query.where(t.c.started_at >= since)
    with store.engine.connect() as conn:
        return [
            OfficialIncident(service=r.service, source=r.source, external_id=r.external_id, title=r.title,
                             started_at=r.started_at, updated_at=r.updated_at, status=r.status, impact=r.impact,
                             url=r.url, resolved_at=r.resolved_at)
            for r in conn.execute(query)
        ]


def official_overlapping(store: Store, service: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The service's official incidents overlapping [since, until) (see the module docstring), oldest
    first, every column."""
    o = schema.official_incidents
    query = (sa.select(o).where(o.c.service == service, o.c.started_at < until)
             .where(sa.or_(o.c.resolved_at.is_(None), o.c.resolved_at >= since))
             .order_by(o.c.started_at, o.c.id))
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]
