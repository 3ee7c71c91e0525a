"""The quarantine: input that could not become a post, kept with its reason and raw form.

Kept once: a row is known by its source and its raw form (or, without one, where it was and why), so
replaying the same file again, or polling the same malformed item again, adds nothing. Reading it is
here too, for `detector quarantine`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from detector.records import Rejected
from detector.store import schema

_CHUNK = 200  # raw forms compared per query (each may be a few kilobytes)


def _key(source: str, ref: str, reason: str, raw: str | None) -> tuple:
    return (source, raw) if raw is not None else (source, None, ref, reason)


def keep(conn: Connection, rejected: Iterable[Rejected]) -> int:
    """Store the rows of ``rejected`` not already in quarantine; return how many were given (all of them
    are in quarantine afterwards)."""
    given = list(rejected)
    fresh: dict[tuple, dict[str, Any]] = {}
    for r in given:
        fresh.setdefault(_key(r.source, r.ref, r.reason, r.raw),
                         {"source": r.source, "ref": r.ref, "reason": r.reason, "raw": r.raw,
                          "at": datetime.now(timezone.utc)})
    q = schema.quarantine
    for source in {key[0] for key in fresh}:
        raws = [key[1] for key in fresh if key[0] == source and key[1] is not None]
        for start in range(0, len(raws), _CHUNK):
            chunk = raws[start:start + _CHUNK]
            for (raw,) in conn.execute(sa.select(q.c.raw).where(q.c.source == source, q.c.raw.in_(chunk))):
                fresh.pop((source, raw), None)
        bare = [key for key in fresh if key[0] == source and key[1] is None]
        if bare:
            known = conn.execute(sa.select(q.c.ref, q.c.reason).where(q.c.source == source, q.c.raw.is_(None),
                                                                       q.c.ref.in_([k[2] for k in bare])))
            for ref, reason in known:
                fresh.pop((source, None, ref, reason), None)
    if fresh:
        conn.execute(q.insert(), list(fresh.values()))
    return len(given)


def list_quarantined(engine: Engine, *, source: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Quarantined rows, oldest first: id, when, source, where in the input, why, and the raw form."""
    q = schema.quarantine
    query = sa.select(q.c.id, q.c.at, q.c.source, q.c.ref, q.c.reason, q.c.raw).order_by(q.c.id)
    if source is not None:
        query = query.where(q.c.source == source)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def reason_counts(engine: Engine, *, source: str | None = None) -> list[tuple[str, int]]:
    """How many quarantined rows there are per reason, the commonest first."""
    q = schema.quarantine
    query = sa.select(q.c.reason, sa.func.count()).group_by(q.c.reason).order_by(sa.func.count().desc(), q.c.reason)
    if source is not None:
        query = query.where(q.c.source == source)
    with engine.connect() as conn:
        return [(reason, int(count)) for reason, count in conn.execute(query)]
