"""The quarantine: input that could not become a post, kept with its reason and raw form.

Kept once: a row is known by its source and a digest of its raw form (or, without one, of where it was
and why), kept in ``quarantine_keys``, so replaying the same file again, or polling the same malformed
item again, adds nothing. Reading it, and forgetting rows a user has replayed fixed, is here too, for
`detector quarantine`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from detector.records import Rejected
from detector.store import schema

_CHUNK = 500  # digests looked up per query


def digest(source: str, ref: str, reason: str, raw: str | None) -> str:
    """The key of a quarantined row: its raw form, or where it was and why when it has none."""
    text = raw if raw is not None else f"\x00{ref}\x00{reason}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def keep(conn: Connection, rejected: Iterable[Rejected]) -> int:
    """Store the rows of ``rejected`` not already in quarantine (by source and digest, in
    ``quarantine_keys``); return how many were given (all of them are in quarantine afterwards).
    Rows quarantined before schema version 8 have no key and may be stored once more."""
    given = list(rejected)
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for r in given:
        fresh.setdefault((r.source, digest(r.source, r.ref, r.reason, r.raw)),
                         {"source": r.source, "ref": r.ref, "reason": r.reason, "raw": r.raw,
                          "at": datetime.now(timezone.utc)})
    k = schema.quarantine_keys
    for source in {key[0] for key in fresh}:
        digests = [key[1] for key in fresh if key[0] == source]
        for start in range(0, len(digests), _CHUNK):
            chunk = digests[start:start + _CHUNK]
            for (known,) in conn.execute(sa.select(k.c.digest).where(k.c.source == source, k.c.digest.in_(chunk))):
                fresh.pop((source, known), None)
    if fresh:
        conn.execute(schema.quarantine.insert(), list(fresh.values()))
        conn.execute(k.insert(), [{"source": source, "digest": key} for source, key in fresh])
    return len(given)


def _selected(query: Any, *, source: str | None, file: str | None, ids: Iterable[int] | None) -> Any:
    """``query`` narrowed to one source, one replayed file (refs are ``NAME:LINE``) and/or some row ids."""
    q = schema.quarantine
    if source is not None:
        query = query.where(q.c.source == source)
    if file is not None:
        escaped = file.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(q.c.ref.like(f"{escaped}:%", escape="\\"))
    if ids is not None:
        query = query.where(q.c.id.in_(sorted(set(ids))))
    return query


def list_quarantined(engine: Engine, *, source: str | None = None, limit: int | None = None,
                     file: str | None = None, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Quarantined rows, oldest first: id, when, source, where in the input, why, and the raw form."""
    q = schema.quarantine
    query = sa.select(q.c.id, q.c.at, q.c.source, q.c.ref, q.c.reason, q.c.raw).order_by(q.c.id)
    query = _selected(query, source=source, file=file, ids=ids)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def forget(engine: Engine, *, source: str | None = None, file: str | None = None,
           ids: Iterable[int] | None = None) -> int:
    """Remove the selected rows from the quarantine list; return how many. Their keys stay in
    ``quarantine_keys``, so replaying the original file again does not bring them back."""
    if source is None and file is None and ids is None:
        raise ValueError("forget needs a selection (source, file or ids)")
    q = schema.quarantine
    query = _selected(sa.delete(q), source=source, file=file, ids=ids)
    with engine.begin() as conn:
        return int(conn.execute(query).rowcount or 0)


def reason_counts(engine: Engine, *, source: str | None = None, file: str | None = None,
                  ids: Iterable[int] | None = None) -> list[tuple[str, int]]:
    """How many quarantined rows there are per reason, the commonest first."""
    q = schema.quarantine
    query = sa.select(q.c.reason, sa.func.count()).group_by(q.c.reason).order_by(sa.func.count().desc(), q.c.reason)
    query = _selected(query, source=source, file=file, ids=ids)
    with engine.connect() as conn:
        return [(reason, int(count)) for reason, count in conn.execute(query)]
