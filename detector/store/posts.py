"""Reading posts with their verdicts: one service's posts of a range, the posts an incident cites, what the
posts of a range say (facet rows), the clearest complaints and the rumours, and the analysts' table.

Every range read walks the ``post_services (service, created_at)`` index for one service, so a page costs
the same on a million posts as on a thousand. Nothing here writes. Post text is untrusted: whoever shows it
escapes it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import sqlalchemy as sa

from detector.records import text_fingerprint
from detector.store import schema
from detector.store.frames import frame_of, read_frame
from detector.store.store import Store

if TYPE_CHECKING:  # imported where a frame is made: notifications read evidence here without pandas
    import pandas as pd

_p, _ps, _v, _b = schema.posts, schema.post_services, schema.verdicts, schema.buckets

POST_COLUMNS = ["post_id", "created_at", "source", "source_id", "text", "author", "url", "lang", "complaint",
                "complaint_p", "misinformation", "symptom", "claim"]
FACET_LIMIT = 10_000
SLICE = timedelta(minutes=10)
_KEY_CHUNK = 400  # (source, source_id) pairs per IN list: well inside every backend's parameter limit


def _posts_select() -> sa.Select:
    """A post with its verdict, as ``POST_COLUMNS`` (a post not yet classified has NULL verdict columns)."""
    return sa.select(
        _p.c.id.label("post_id"), _p.c.created_at, _p.c.source, _p.c.source_id, _p.c.text, _p.c.author, _p.c.url,
        _p.c.lang, _v.c.complaint, _v.c.complaint_p, _v.c.misinformation, _v.c.symptom, _v.c.claim,
    ).select_from(_p.outerjoin(_v, _v.c.post_id == _p.c.id))


def _in_range(query: sa.Select, service: str, since: datetime, until: datetime) -> sa.Select:
    return query.where(_ps.c.service == service, _ps.c.created_at >= since, _ps.c.created_at < until)


def source_link(source: str, source_id: str, url: str | None) -> str | None:
    """A safe (http/https only) link to the post: its stored URL, else a known source's permalink."""
    if url and re.match(r"^https?://", url, re.I):
        return url
    if re.match(r"^(twitter|x)\b", source or "", re.I) and str(source_id).isdigit():
        return f"https://x.com/i/web/status/{source_id}"
    return None


def with_links(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows with source, source_id, url) with a ``link`` column (see ``source_link``)."""
    import pandas as pd

    if frame.empty:
        return frame.assign(link=pd.Series(dtype=object))
    frame["link"] = [source_link(s, i, u) for s, i, u in zip(frame["source"], frame["source_id"], frame["url"])]
    return frame


def evidence_posts(store: Store, keys: Iterable[str]) -> list[dict[str, Any]]:
    """The stored posts behind evidence keys ("source:source_id"), in the order of ``keys``, each key once;
    keys of posts not stored are left out. The one evidence query: notifications and the dashboard both
    read an incident's evidence here (each decides how to show it). Uses the unique (source, source_id)
    index."""
    wanted = list(dict.fromkeys(k for k in keys if ":" in k))
    pairs = [tuple(k.split(":", 1)) for k in wanted]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(pairs), _KEY_CHUNK):
            chunk = pairs[start:start + _KEY_CHUNK]
            query = _posts_select().where(sa.tuple_(_p.c.source, _p.c.source_id).in_(chunk))
            found.update(((r["source"], r["source_id"]), dict(r)) for r in conn.execute(query).mappings())
    return [found[pair] for pair in pairs if pair in found]


def slices(store: Store, service: str, since: datetime, until: datetime,
           limit: int | None = FACET_LIMIT) -> tuple[list[tuple[datetime, datetime]], int | None]:
    """Time slices to read so that about ``limit`` posts are read, and the range's post count (from the
    buckets: one aggregate over their primary key; None when every post is read anyway).

    Every k-th 10-minute slice, counted back from the newest so the latest minutes are always read; each
    slice is one range scan of the (service, created_at) index.
    """
    if limit is None:
        return [(since, until)], None
    query = sa.select(sa.func.sum(_b.c.mentions)).where(_b.c.service == service, _b.c.start >= since,
                                                        _b.c.start < until)
    with store.engine.connect() as conn:
        total = int(conn.execute(query).scalar() or 0)
    if total <= limit:
        return [(since, until)], total
    k = -(-total // limit)
    n = -(-(until - since) // SLICE)
    return sorted((max(until - (i + 1) * SLICE, since), until - i * SLICE) for i in range(0, n, k)), total


def facet_rows(store: Store, service: str, parts: Sequence[tuple[datetime, datetime]], recent_from: datetime,
               before_from: datetime) -> pd.DataFrame:
    """The posts of the ``parts`` (time slices) grouped by symptom, complaint (0/1), outage report (0/1; the
    complaint for verdicts from before the outage head), claim (the claim, or "(unmatched rumour)" for
    misinformation without one), language and source: ``posts``, ``first_seen``,
    ``last_seen``, and how many fell in [recent_from, ...) (``recent``) and [before_from, recent_from)
    (``before``). One grouped query per slice; ``detector.comms.breakdown`` turns them into counts."""
    created = _ps.c.created_at
    claim = sa.case((sa.or_(_v.c.misinformation.is_(True), _v.c.claim.is_not(None)),
                     sa.func.coalesce(_v.c.claim, "(unmatched rumour)")), else_=None)
    keys = [_v.c.symptom, sa.cast(_v.c.complaint, sa.Integer).label("complaint"),
            sa.cast(schema.OUTAGE_REPORT, sa.Integer).label("outage_report"),
            claim.label("claim"), _p.c.lang, _p.c.source]
    query = (
        sa.select(*keys, sa.func.count().label("posts"), sa.func.min(created).label("first_seen"),
                  sa.func.max(created).label("last_seen"),
                  sa.func.sum(sa.case((created >= recent_from, 1), else_=0)).label("recent"),
                  sa.func.sum(sa.case((sa.and_(created >= before_from, created < recent_from), 1), else_=0))
                  .label("before"))
        .select_from(_ps.join(_p, _p.c.id == _ps.c.post_id).outerjoin(_v, _v.c.post_id == _ps.c.post_id))
        .group_by(*keys)
    )
    import pandas as pd

    with store.engine.connect() as conn:
        frames = [frame_of(conn, _in_range(query, service, lo, hi)) for lo, hi in parts]
    return pd.concat(frames, ignore_index=True)


def rumour_posts(store: Store, service: str, since: datetime, until: datetime, limit: int = 10) -> pd.DataFrame:
    """The newest posts of the range the classifier calls misinformation (``POST_COLUMNS`` and ``link``)."""
    query = _in_range(
        _posts_select().join(_ps, _ps.c.post_id == _p.c.id).where(_v.c.misinformation.is_(True)),
        service, since, until,
    ).order_by(_ps.c.created_at.desc()).limit(limit)
    return with_links(read_frame(store, query))


def representative_posts(store: Store, service: str, since: datetime, until: datetime,
                         limit: int = 8, sample_limit: int | None = None) -> pd.DataFrame:
    """The clearest complaints of the range, one per distinct text and author (retweets and bots fold
    together); over ``sample_limit`` posts, chosen from the same slices as the facets."""
    parts, _ = slices(store, service, since, until, sample_limit)
    best = (sa.select(_ps.c.post_id, _v.c.complaint_p).select_from(_ps.join(_v, _v.c.post_id == _ps.c.post_id))
            .where(_v.c.complaint.is_(True)).order_by(_v.c.complaint_p.desc(), _ps.c.created_at).limit(limit * 6))
    with store.engine.connect() as conn:
        found = [row for lo, hi in parts for row in conn.execute(_in_range(best, service, lo, hi))]
    ids = [post_id for post_id, _ in sorted(found, key=lambda r: -r[1])[: limit * 6]]
    if not ids:
        import pandas as pd

        return with_links(pd.DataFrame(columns=POST_COLUMNS))
    frame = read_frame(store, _posts_select().where(_p.c.id.in_(ids)))
    frame = frame.sort_values(["complaint_p", "created_at"], ascending=[False, True])
    frame = frame.assign(_fp=frame["text"].map(text_fingerprint)).drop_duplicates("_fp").drop(columns="_fp")
    frame = frame.drop_duplicates("author", keep="first") if frame["author"].notna().all() else frame
    return with_links(frame.head(limit).reset_index(drop=True))


def post_table(store: Store, service: str | None = None, since: datetime | None = None,
               until: datetime | None = None) -> pd.DataFrame:
    """Posts with their verdicts for analysts, in time order: one row per post, ``service`` the first
    (alphabetically) it matched, ``n_services`` how many; ``since`` inclusive, ``until`` exclusive."""
    services = (
        sa.select(_ps.c.post_id, sa.func.min(_ps.c.service).label("service"), sa.func.count().label("n_services"))
        .group_by(_ps.c.post_id)
        .subquery()
    )
    query = (
        sa.select(
            _p.c.id.label("post_id"), _p.c.source, _p.c.source_id, _p.c.created_at, services.c.service,
            _p.c.text, _p.c.author, _p.c.url, _p.c.lang,
            sa.cast(_v.c.complaint, sa.Integer).label("complaint"), _v.c.complaint_p,
            # verdicts stored before the outage head: their complaint stands for the report (as in the buckets)
            sa.cast(schema.OUTAGE_REPORT, sa.Integer).label("outage_report"),
            sa.func.coalesce(_v.c.outage_report_p, _v.c.complaint_p).label("outage_report_p"),
            sa.cast(_v.c.misinformation, sa.Integer).label("misinformation"), _v.c.misinformation_p,
            _v.c.symptom, _v.c.claim, _v.c.claim_similarity, _v.c.confidence, _v.c.model,
        )
        .select_from(_p.join(services, services.c.post_id == _p.c.id).outerjoin(_v, _v.c.post_id == _p.c.id))
        .order_by(_p.c.created_at, _p.c.id)
    )
    if service:
        query = query.where(_p.c.id.in_(sa.select(_ps.c.post_id).where(_ps.c.service == service)))
    if since:
        query = query.where(_p.c.created_at >= since)
    if until:
        query = query.where(_p.c.created_at < until)
    return read_frame(store, query)
