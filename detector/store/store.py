"""Reading and writing posts, verdicts, buckets, quarantine, cursors and detector state.

Every write is idempotent: posts are unique on (source, source_id) and bucket counts are recomputed from
the stored posts, never incremented, so replaying a file twice or redelivering a batch changes nothing.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ContextManager, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from detector.records import Bucket, Post, Rejected, Verdict
from detector.store import schema
from detector.store.database import create_engine, insert, migrate, upsert
from detector.timefloor import floor_time


# An open write transaction: every write of one batch takes the same one, so the batch commits whole or not at all.
Transaction = Connection


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class StoredPosts:
    """Which posts of a batch were new, by key, and their database ids."""

    new_ids: dict[tuple[str, str], int]
    duplicates: int


class Store:
    """The project's database: SQLite by default, PostgreSQL by URL, same code."""

    def __init__(self, db: str | Path, *, upgrade: bool = True) -> None:
        self.engine: Engine = create_engine(db)
        self.version = migrate(self.engine) if upgrade else None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> ContextManager[Transaction]:
        """A write transaction (``with store.transaction() as tx:``): committed when the block ends, rolled
        back when it raises."""
        return self.engine.begin()

    # -- inserts -----------------------------------------------------------------------------------
    def _insert_ignoring(self, table: sa.Table, *conflict: str):
        return insert(self.engine.dialect.name, table).on_conflict_do_nothing(index_elements=list(conflict) or None)

    def _upsert(self, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> Any:
        return upsert(self.engine.dialect.name, table, keys, update)

    def stored_texts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The stored text of each of these (source, source_id) keys that is already stored."""
        found: dict[tuple[str, str], str] = {}
        p = schema.posts
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 400):
                chunk = list(keys[i : i + 400])
                rows = conn.execute(
                    sa.select(p.c.source, p.c.source_id, p.c.text)
                    .where(sa.tuple_(p.c.source, p.c.source_id).in_(chunk))
                )
                found.update(((r.source, r.source_id), r.text) for r in rows)
        return found

    def add_posts(
        self, posts: Sequence[Post], verdicts: Sequence[Verdict], conn: Connection | None = None
    ) -> StoredPosts:
        """Store new posts with their services and verdicts in one transaction; skip known ones."""
        if not posts:
            return StoredPosts({}, 0)
        if conn is None:
            with self.engine.begin() as own:
                return self.add_posts(posts, verdicts, own)
        now = _utcnow()
        by_key = {verdict.key: verdict for verdict in verdicts}
        rows = [
            {
                "source": p.source,
                "source_id": p.source_id,
                "created_at": p.created_at,
                "text": p.text,
                "author": p.author,
                "person": p.person,
                "url": p.url,
                "lang": p.lang or (by_key[p.key].lang if p.key in by_key else None),
                "metadata": dict(p.metadata) or None,
                "ingested_at": now,
            }
            for p in posts
        ]
        stmt = self._insert_ignoring(schema.posts, "source", "source_id").returning(
            schema.posts.c.id, schema.posts.c.source, schema.posts.c.source_id
        )
        result = conn.execute(stmt, rows)
        new_ids = {(row.source, row.source_id): row.id for row in result.all()}
        service_rows, verdict_rows, place_rows = [], [], []
        for post in posts:
            post_id = new_ids.get(post.key)
            if post_id is None:
                continue
            service_rows += [
                {"post_id": post_id, "service": s, "created_at": post.created_at} for s in post.services
            ]
            verdict = by_key.get(post.key)
            if verdict is not None:
                verdict_rows.append(_verdict_row(post_id, verdict))
                place_rows += _place_rows(post_id, verdict)
        if service_rows:
            conn.execute(self._insert_ignoring(schema.post_services), service_rows)
        if verdict_rows:
            conn.execute(self._insert_ignoring(schema.verdicts), verdict_rows)
        if place_rows:
            conn.execute(self._insert_ignoring(schema.post_places), place_rows)
        return StoredPosts(new_ids, len(posts) - len(new_ids))

    def quarantine(self, rejected: Iterable[Rejected], conn: Connection | None = None) -> int:
        """Keep ``rejected`` in quarantine, each row once (``store.quarantine`` says how); return how many."""
        from detector.store.quarantine import keep

        if conn is not None:
            return keep(conn, rejected)
        with self.engine.begin() as own:
            return keep(own, rejected)

    # -- buckets -----------------------------------------------------------------------------------
    def recompute_buckets(
        self, touched: dict[str, set[datetime]], width: timedelta, conn: Connection | None = None
    ) -> list[Bucket]:
        """Recount the given buckets from the stored posts and write them; return the new counts."""
        if conn is None:
            with self.engine.begin() as own:
                return self.recompute_buckets(touched, width, own)
        out: list[Bucket] = []
        p, ps, v = schema.posts, schema.post_services, schema.verdicts
        for service, starts in touched.items():
            if not starts:
                continue
            lo, hi = min(starts), max(starts) + width
            query = (
                sa.select(ps.c.created_at, p.c.person, v.c.complaint, v.c.misinformation,
                          schema.OUTAGE_REPORT.label("outage"))
                .select_from(ps.join(p, p.c.id == ps.c.post_id).outerjoin(v, v.c.post_id == ps.c.post_id))
                .where(ps.c.service == service, ps.c.created_at >= lo, ps.c.created_at < hi)
            )
            # A verdict stored before the outage head (NULL) counts its complaint as the outage report.
            counts: dict[datetime, list[Any]] = {start: [0, 0, 0, set(), set(), 0, set()] for start in starts}
            for created_at, person, complaint, misinfo, outage in conn.execute(query):
                start = floor_time(created_at, width)
                if start not in counts:
                    continue
                c = counts[start]
                c[0] += 1
                c[1] += bool(complaint)
                c[2] += bool(misinfo)
                c[3].add(person)
                if complaint:
                    c[4].add(person)
                if outage:
                    c[5] += 1
                    c[6].add(person)
            rows = []
            for start, (mentions, complaints, misinfo, people, complainers, outages, reporters) in sorted(
                counts.items()
            ):
                bucket = Bucket(service, start, start + width, mentions, complaints, misinfo,
                                len(people), len(complainers), outage_reports=outages,
                                outage_people=len(reporters))
                out.append(bucket)
                rows.append(
                    {
                        "service": service, "start": start, "width_s": int(width.total_seconds()),
                        "mentions": mentions, "complaints": complaints, "misinformation": misinfo,
                        "people": len(people), "complaint_people": len(complainers),
                        "outage_reports": outages, "outage_people": len(reporters),
                    }
                )
            stmt = self._upsert(
                schema.buckets, ("service", "start"),
                ("width_s", "mentions", "complaints", "misinformation", "people", "complaint_people",
                 "outage_reports", "outage_people"),
            )
            conn.execute(stmt, rows)
        return out

    def record_detections(self, rows: Sequence[dict[str, Any]], conn: Connection | None = None) -> None:
        """Write the detector's expected value, band and score onto stored (non-empty) buckets."""
        if not rows:
            return
        b = schema.buckets
        stmt = (
            sa.update(b)
            .where(b.c.service == sa.bindparam("b_service"), b.c.start == sa.bindparam("b_start"))
            .values(expected=sa.bindparam("expected"), upper=sa.bindparam("upper"), score=sa.bindparam("score"))
        )
        if conn is not None:
            conn.execute(stmt, list(rows))
            return
        with self.engine.begin() as own:
            own.execute(stmt, list(rows))

    # -- cursors and detector state ----------------------------------------------------------------
    def cursor(self, source: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(schema.source_cursors.c.cursor).where(schema.source_cursors.c.source == source)
            ).scalar()

    def save_cursor(self, source: str, cursor: str, conn: Connection | None = None) -> None:
        stmt = self._upsert(schema.source_cursors, ("source",), ("cursor", "updated_at"))
        rows = [{"source": source, "cursor": cursor, "updated_at": _utcnow()}]
        if conn is not None:
            conn.execute(stmt, rows)
            return
        with self.engine.begin() as own:
            own.execute(stmt, rows)

    def load_detector_states(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schema.detector_state.c.service, schema.detector_state.c.state))
            return {service: pickle.loads(blob) for service, blob in rows}

    def save_detector_states(self, states: dict[str, Any], as_of: datetime, conn: Connection | None = None) -> None:
        rows = [{"service": s, "state": pickle.dumps(obj), "as_of": as_of} for s, obj in states.items()]
        if not rows:
            return
        stmt = self._upsert(schema.detector_state, ("service",), ("state", "as_of"))
        if conn is not None:
            conn.execute(stmt, rows)
            return
        with self.engine.begin() as own:
            own.execute(stmt, rows)

    # -- simple reads ------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.metadata.tables[table])).scalar()

    def first_post_at(self) -> datetime | None:
        """When the oldest stored post was written (when watching began, as far as this database knows)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.min(schema.posts.c.created_at))).scalar()

    def quarantined(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(schema.quarantine))]


def _verdict_row(post_id: int, verdict: Verdict) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "model": verdict.model,
        "complaint": verdict.complaint,
        "complaint_p": float(verdict.complaint_p),
        "misinformation": verdict.misinformation,
        "misinformation_p": float(verdict.misinformation_p),
        "symptom": verdict.symptom,
        "symptom_p": None if verdict.symptom_p is None else float(verdict.symptom_p),
        "claim": verdict.claim,
        "claim_similarity": None if verdict.claim_similarity is None else float(verdict.claim_similarity),
        "confidence": float(verdict.confidence),
        "outage_report": verdict.outage_report,
        "outage_report_p": float(verdict.outage_report_p),
    }


def _place_rows(post_id: int, verdict: Verdict) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for place in verdict.places:
        rows.setdefault(place.label[:200], {
            "post_id": post_id, "place": place.label[:200], "name": place.name[:200], "kind": place.kind,
            "region": place.region, "country": place.country, "lat": place.lat, "lon": place.lon,
        })
    return list(rows.values())


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)
