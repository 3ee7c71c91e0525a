"""The analysts' queries: posts narrowed by service, source, label, time and text, a page at a time,
in full for download, and the labelling queue (least certain first). Read-only, like the dashboard's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import pandas as pd
import sqlalchemy as sa

from dashboard.queries import read_frame, with_links
from detector.records import text_fingerprint
from detector.store import schema
from detector.store.store import Store

_p, _ps, _v = schema.posts, schema.post_services, schema.verdicts
QUEUE_CANDIDATES = 5000
COUNT_CAP = 100_000
CHART_CAP = 20_000  # Explore's chart counts the newest this many (0.15 s on 1M posts; 100,000 took 0.7 s)


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

    def apply(self, query: sa.Select) -> sa.Select:
        """``query`` (over posts left-joined to verdicts) narrowed by every filter that is set."""
        if self.service:
            query = query.join(_ps, _ps.c.post_id == _p.c.id).where(_ps.c.service == self.service)
            created = _ps.c.created_at
        else:
            created = _p.c.created_at
        if self.since is not None:
            query = query.where(created >= self.since)
        if self.until is not None:
            query = query.where(created < self.until)
        if self.sources:
            query = query.where(_p.c.source.in_(self.sources))
        if self.text:
            escaped = self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(_p.c.text.ilike(f"%{escaped}%", escape="\\"))
        label = self.label
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
    return flt.apply(query)


def count_posts(store: Store, flt: PostFilter, cap: int | None = None) -> int:
    """How many posts match; with ``cap``, counting stops at cap + 1 (the page shows "cap+")."""
    inner = flt.apply(sa.select(_p.c.id).select_from(_p.outerjoin(_v, _v.c.post_id == _p.c.id)))
    if cap is not None:
        inner = inner.limit(cap + 1)
    query = sa.select(sa.func.count()).select_from(inner.subquery())
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def posts_over_time(store: Store, flt: PostFilter, cap: int = CHART_CAP) -> pd.DataFrame:
    """The filtered posts per hour (per day when they span more than a week): ``start``, ``posts`` and
    ``complaints``, for Explore's chart. Counts the newest ``cap`` posts at most, grouped by hour in the
    database (each backend names the hour its own way), so a page costs one grouped query."""
    created = _ps.c.created_at if flt.service else _p.c.created_at
    newest = flt.apply(sa.select(created.label("created_at"), sa.cast(_v.c.complaint, sa.Integer).label("complaint"))
                       .select_from(_p.outerjoin(_v, _v.c.post_id == _p.c.id))).order_by(created.desc()).limit(cap)
    rows = newest.subquery()
    if store.engine.dialect.name == "postgresql":
        hour = sa.func.to_char(sa.func.timezone("UTC", rows.c.created_at), "YYYY-MM-DD HH24")
    else:  # SQLite keeps UTC times as 'YYYY-MM-DD HH:MM:SS...' text
        hour = sa.func.substr(rows.c.created_at, 1, 13)
    query = sa.select(hour.label("hour"), sa.func.count().label("posts"),
                      sa.func.coalesce(sa.func.sum(rows.c.complaint), 0).label("complaints")).group_by(hour)
    frame = read_frame(store, query)
    if frame.empty:
        return pd.DataFrame(columns=["start", "posts", "complaints"])
    frame["start"] = pd.to_datetime(frame["hour"].str.replace("T", " ") + ":00", utc=True)
    frame = frame.groupby("start")[["posts", "complaints"]].sum().astype(int)
    step = "1h" if frame.index.max() - frame.index.min() <= pd.Timedelta(days=7) else "1D"
    frame = frame.resample(step).sum()  # also fills the empty hours (or days) with zeros
    return frame.rename_axis("start").reset_index()


def page_of_posts(store: Store, flt: PostFilter, page: int = 0, size: int = 100) -> pd.DataFrame:
    """One page of the filtered posts, newest first."""
    order = (_ps.c.created_at if flt.service else _p.c.created_at).desc()
    query = _explore_select(flt).order_by(order, _p.c.id.desc()).limit(size).offset(max(page, 0) * size)
    frame = with_links(read_frame(store, query))
    if not frame.empty:
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def export_posts(store: Store, flt: PostFilter, limit: int | None = None) -> pd.DataFrame:
    """All the filtered posts in time order (the columns of `detector export`), for CSV and Parquet."""
    order = _ps.c.created_at if flt.service else _p.c.created_at
    query = _explore_select(flt).order_by(order, _p.c.id)
    if limit:
        query = query.limit(limit)
    frame = read_frame(store, query)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def sources(store: Store) -> list[str]:
    """Source names (a walk of the unique (source, source_id) index)."""
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(sa.select(_p.c.source).distinct()))


def labelling_queue(store: Store, flt: PostFilter, task: str = "complaint", size: int = 5,
                    candidates: int = QUEUE_CANDIDATES) -> pd.DataFrame:
    """Posts not yet labelled for ``task`` that the classifier is least sure about (complaint probability
    nearest 0.5), among the newest ``candidates`` matching posts (so the queue costs the same at any size).

    A text appears once: copies of one post (reposts, copy-paste campaigns) would ask for the same label
    several times, so only the first of each text (case and spacing folded) is queued."""
    labelled = sa.exists().where(schema.labels.c.post_id == _p.c.id, schema.labels.c.task == task)
    order = _ps.c.created_at if flt.service else _p.c.created_at
    newest = (_explore_select(flt).where(_v.c.post_id.is_not(None), ~labelled)
              .order_by(order.desc()).limit(candidates).subquery())
    query = sa.select(newest).order_by(sa.func.abs(newest.c.complaint_p - 0.5), newest.c.post_id).limit(size * 10)
    frame = read_frame(store, query)
    if not frame.empty:
        frame = frame.assign(_fp=frame["text"].map(text_fingerprint)).drop_duplicates("post_id")
        frame = frame.drop_duplicates("_fp").drop(columns="_fp").head(size).reset_index(drop=True)
    return with_links(frame)


def labels(store: Store, post_ids: Iterable[int]) -> pd.DataFrame:
    lab = schema.labels
    ids = list(post_ids)
    if not ids:
        return pd.DataFrame(columns=["post_id", "task", "label", "labeller", "at"])
    return read_frame(store, sa.select(lab.c.post_id, lab.c.task, lab.c.label, lab.c.labeller, lab.c.at)
                 .where(lab.c.post_id.in_(ids)))
