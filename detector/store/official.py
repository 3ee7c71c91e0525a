"""The providers' own incidents (``official_incidents``), as their status pages report them.

Upserted by (source, external_id), so a page polled every minute records each incident once, with its
latest status and resolution.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import sqlalchemy as sa

from detector.records import OfficialIncident
from detector.store import schema
from detector.store.database import upsert
from detector.store.store import Store

_UPDATED = ("service", "title", "status", "impact", "url", "started_at", "resolved_at", "updated_at")


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
