"""Posts narrowed by service, source, label, time and text (the analysts' Explore page): how many, a page,
all of them for download, per hour, and the labelling queue (least certain first). Read-only.

The filter is a plain record (``PostFilter``); only this module turns it into SQL, with the text search
escaped as a literal (post text and search words are untrusted: never part of the statement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from detector.store import schema
from detector.store.frames import read_frame
from detector.store.store import Store

_p, _ps, _v = schema.posts, schema.post_services, schema.verdicts

LABEL_FILTERS = ("any", "complaint", "misinformation", "other", "unclassified", "labelled", "unlabelled")


@dataclass(frozen=True)
class PostFilter:
    """What an analyst narrowed the posts to: service, sources, label, time range and text."""

    service: str | None = None
    sources: tuple[str, ...] = ()
    label: str = "any"
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""

    def __post_init__(self) -> None:
        if self.label not in LABEL_FILTERS and not self.label.startswith("symptom:"):
            raise ValueError(f"unknown label filter {self.label!r}; use one of {', '.join(LABEL_FILTERS)} "
                             "or symptom:NAME")
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "text", (self.text or "").strip())
        object.__setattr__(self, "service", self.service or None)


def _created(flt: PostFilter) -> sa.ColumnElement:
    """The time column the filter's range and order use: the (service, created_at) index for one service."""
    return _ps.c.created_at if flt.service else _p.c.created_at


def _narrowed(flt: PostFilter, query: sa.Select) -> sa.Select:
    """``query`` (over posts left-joined to verdicts) narrowed by every filter that is set."""
    if flt.service:
        query = query.join(_ps, _ps.c.post_id == _p.c.id).where(_ps.c.service == flt.service)
    created = _created(flt)
    if flt.since is not None:
        query = query.where(created >= flt.since)
    if flt.until is not None:
        query = query.where(created < flt.until)
    if flt.sources:
        query = query.where(_p.c.source.in_(flt.sources))
    if flt.text:
        escaped = flt.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(_p.c.text.ilike(f"%{escaped}%", escape="\\"))
    label = flt.label
    if label == "complaint":
        query = query.where(_v.c.complaint.is_(True))
    elif label == "misinformation":
        query = query.where(_v.c.misinformation.is_(True))
    elif label == "other":
        query = query.where(_v.c.complaint.is_(False), _v.c.misinformation.is_(False))
    elif label == "unclassified":
        query = query.where(_v.c.post_id.is_(None))
    elif label in ("labelled", "unlabelled"):
        labelled = sa.exists().where(schema.labels.c.post_id == _p.c.id)
        query = query.where(labelled if label == "labelled" else ~labelled)
    elif label.startswith("symptom:"):
        query = query.where(_v.c.symptom == label.split(":", 1)[1])
    return query


def _posts_and_verdicts() -> sa.Select:
    return sa.select(_p.c.id).select_from(_p.outerjoin(_v, _v.c.post_id == _p.c.id))


def _explore_select(flt: PostFilter) -> sa.Select:
    service = (sa.literal(flt.service) if flt.service else
               sa.select(sa.func.min(_ps.c.service)).where(_ps.c.post_id == _p.c.id).scalar_subquery())
    query = sa.select(
        _p.c.id.label("post_id"), _p.c.created_at, service.label("service"), _p.c.source, _p.c.source_id,
        _p.c.text, _p.c.author, _p.c.url, _p.c.lang,
        sa.cast(_v.c.complaint, sa.Integer).label("complaint"), _v.c.complaint_p,
        sa.cast(_v.c.misinformation, sa.Integer).label("misinformation"), _v.c.misinformation_p,
        _v.c.symptom, _v.c.claim, _v.c.confidence, _v.c.model,
    ).select_from(_p.outerjoin(_v, _v.c.post_id == _p.c.id))
    return _narrowed(flt, query)


def count_posts(store: Store, flt: PostFilter, cap: int | None = None) -> int:
    """How many posts match; with ``cap``, counting stops at cap + 1 (the page shows "cap+")."""
    inner = _narrowed(flt, _posts_and_verdicts())
    if cap is not None:
        inner = inner.limit(cap + 1)
    query = sa.select(sa.func.count()).select_from(inner.subquery())
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def hourly_counts(store: Store, flt: PostFilter, cap: int) -> pd.DataFrame:
    """Of the newest ``cap`` matching posts, per hour: ``hour`` ("YYYY-MM-DD HH", UTC), ``posts`` and
    ``complaints``, grouped in the database (each backend names the hour its own way), hours with none
    absent."""
    created = _created(flt)
    newest = _narrowed(flt, sa.select(created.label("created_at"),
                                      sa.cast(_v.c.complaint, sa.Integer).label("complaint"))
                       .select_from(_p.outerjoin(_v, _v.c.post_id == _p.c.id))).order_by(created.desc()).limit(cap)
    rows = newest.subquery()
    if store.engine.dialect.name == "postgresql":
        hour = sa.func.to_char(sa.func.timezone("UTC", rows.c.created_at), "YYYY-MM-DD HH24")
    else:  # SQLite keeps UTC times as 'YYYY-MM-DD HH:MM:SS...' text
        hour = sa.func.substr(rows.c.created_at, 1, 13)
    query = sa.select(hour.label("hour"), sa.func.count().label("posts"),
                      sa.func.coalesce(sa.func.sum(rows.c.complaint), 0).label("complaints")).group_by(hour)
    return read_frame(store, query)


def page_of_posts(store: Store, flt: PostFilter, page: int = 0, size: int = 100) -> pd.DataFrame:
    """One page of the filtered posts, newest first (post_id, created_at, service, source, source_id, text,
    author, url, lang, complaint, complaint_p, misinformation, misinformation_p, symptom, claim, confidence,
    model)."""
    query = (_explore_select(flt).order_by(_created(flt).desc(), _p.c.id.desc()).limit(size)
             .offset(max(page, 0) * size))
    return read_frame(store, query)


def matching_posts(store: Store, flt: PostFilter, limit: int | None = None) -> pd.DataFrame:
    """All the filtered posts in time order (the columns of ``page_of_posts``), at most ``limit``."""
    query = _explore_select(flt).order_by(_created(flt), _p.c.id)
    if limit:
        query = query.limit(limit)
    return read_frame(store, query)


def source_names(store: Store) -> list[str]:
    """Source names (a walk of the unique (source, source_id) index)."""
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(sa.select(_p.c.source).distinct()))


def least_certain(store: Store, flt: PostFilter, task: str, rows: int, candidates: int) -> pd.DataFrame:
    """Up to ``rows`` classified posts not yet labelled for ``task``, complaint probability nearest 0.5
    first, among the newest ``candidates`` matching posts (so the queue costs the same at any size)."""
    labelled = sa.exists().where(schema.labels.c.post_id == _p.c.id, schema.labels.c.task == task)
    newest = (_explore_select(flt).where(_v.c.post_id.is_not(None), ~labelled)
              .order_by(_created(flt).desc()).limit(candidates).subquery())
    query = sa.select(newest).order_by(sa.func.abs(newest.c.complaint_p - 0.5), newest.c.post_id).limit(rows)
    return read_frame(store, query)
