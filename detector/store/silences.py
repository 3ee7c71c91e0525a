"""On-call's silences: a service's (or every service's, ``*``) notifications held back over a time range.

A silence keeps the record and drops the page: ``detector.alerting.routing`` asks ``active_silence`` before it
routes an opening or an escalation.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.store import schema
from detector.store.store import Store


# -- silences ------------------------------------------------------------------------------------
def add_silence(
    store: Store, service: str, starts_at: datetime, ends_at: datetime, reason: str | None = None,
    created_by: str | None = None, now: datetime | None = None,
) -> int:
    """Silence ``service``'s notifications over [starts_at, ends_at); return the silence id."""
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    with store.engine.begin() as conn:
        return conn.execute(schema.silences.insert().values(
            service=service, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=created_by,
            created_at=now or datetime.now(timezone.utc),
        )).inserted_primary_key[0]


def active_silence(conn: Connection, service: str, at: datetime) -> str | None:
    """The reason of a silence covering ``service`` at ``at`` ('*' silences every service), else None."""
    s = schema.silences
    row = conn.execute(
        sa.select(s.c.id, s.c.reason)
        .where(s.c.service.in_([service, "*"]), s.c.starts_at <= at, s.c.ends_at > at)
        .order_by(s.c.id).limit(1)
    ).first()
    if row is None:
        return None
    return f"silence {row.id}" + (f": {row.reason}" if row.reason else "")


def list_silences(store: Store, *, active_at: datetime | None = None) -> list[dict[str, Any]]:
    """Silences, newest first; with ``active_at``, only those not yet over then."""
    s = schema.silences
    query = sa.select(s).order_by(s.c.id.desc())
    if active_at is not None:
        query = query.where(s.c.ends_at > active_at)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def end_silence(store: Store, silence_id: int, at: datetime) -> bool:
    """End a silence now; False when there is no such silence or it is already over."""
    s = schema.silences
    with store.engine.begin() as conn:
        return conn.execute(
            sa.update(s).where(s.c.id == silence_id, s.c.ends_at > at).values(ends_at=at)
        ).rowcount > 0
