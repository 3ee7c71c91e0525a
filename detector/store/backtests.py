"""What `detector backtest` reads and writes: the stored classified posts of a service, in time order, and
each backtest's summary (per budget), whose latest the dashboard's alerts page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

import sqlalchemy as sa

from detector.store import schema
from detector.store.store import Store


@dataclass(frozen=True, slots=True)
class ClassifiedPost:
    """A stored post of one service with what the classifier said, as the detect stage needs it."""

    source: str
    source_id: str
    created_at: datetime
    person: str
    complaint: bool
    complaint_p: float
    misinformation: bool
    outage_report: bool = False
    outage_report_p: float = 0.0


def classified_posts(store: Store, service: str) -> Iterator[ClassifiedPost]:
    """Every stored post of ``service`` that has a verdict, oldest first (ties in the order they were stored)."""
    p, ps, v = schema.posts, schema.post_services, schema.verdicts
    query = (
        sa.select(p.c.source, p.c.source_id, ps.c.created_at, p.c.person, v.c.complaint, v.c.complaint_p,
                  v.c.misinformation, v.c.outage_report, v.c.outage_report_p)
        .select_from(ps.join(p, p.c.id == ps.c.post_id).join(v, v.c.post_id == ps.c.post_id))
        .where(ps.c.service == service)
        .order_by(ps.c.created_at, p.c.id)
    )
    with store.engine.connect() as conn:
        for row in conn.execute(query.execution_options(yield_per=5000)):
            yield ClassifiedPost(row.source, row.source_id, row.created_at, row.person, bool(row.complaint),
                                 float(row.complaint_p), bool(row.misinformation),
                                 # stored before the outage head: the complaint stands for the report
                                 bool(row.complaint if row.outage_report is None else row.outage_report),
                                 float(row.complaint_p if row.outage_report_p is None else row.outage_report_p))


def save_backtest(store: Store, *, posts_file: str, truth_file: str, services: list[str],
                  rows: list[dict[str, Any]], settings: dict[str, Any], ran_at: datetime | None = None) -> int:
    """Record one backtest's per-budget summary rows; return its id."""
    with store.engine.begin() as conn:
        result = conn.execute(schema.backtests.insert().values(
            ran_at=ran_at or datetime.now(timezone.utc), posts_file=posts_file, truth_file=truth_file,
            services=list(services), rows=list(rows), settings=dict(settings),
        ))
        return int(result.inserted_primary_key[0])


def last_backtest(store: Store) -> dict[str, Any] | None:
    """The most recent backtest (ran_at, posts_file, truth_file, services, rows, settings), or None (also for
    a database older than the backtests table, which a read-only viewer does not upgrade)."""
    b = schema.backtests
    with store.engine.connect() as conn:
        if not sa.inspect(conn).has_table(b.name):
            return None
        row = conn.execute(sa.select(b).order_by(b.c.ran_at.desc(), b.c.id.desc()).limit(1)).first()
    return None if row is None else dict(row._mapping)
