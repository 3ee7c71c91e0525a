"""Read-only queries behind the dashboard's pages and the incident report, as pandas DataFrames.

Every query reads pre-aggregated ``buckets`` or walks the ``post_services (service, created_at)`` index
for one service and one time range, so a page costs the same on a million posts as on a thousand. Nothing
here writes. "Now" is the data's own clock (the end of the newest bucket), so a replayed 2020 outage
shows on the 1 h / 24 h / 7 d ranges the same way a live one does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

import pandas as pd
import sqlalchemy as sa

from detector.records import text_fingerprint
from detector.store import schema
from detector.store.store import Store
from detector.volume.reference import MIN_DAYS

RANGES: dict[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
METRICS = ("outage_people", "outage_reports", "complaint_people", "complaints", "people", "mentions",
           "complaint_share")
ELEVATED_LOOKBACK = timedelta(minutes=15)
SYMPTOMS = ("login", "payments", "data_loss", "slow", "api", "app", "errors", "web", "other")

_p, _ps, _v, _b, _a = schema.posts, schema.post_services, schema.verdicts, schema.buckets, schema.alerts


def _frame(conn, query: sa.Select, columns: Iterable[str] | None = None) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(columns or result.keys()))


def read_frame(store: Store, query: sa.Select) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return _frame(conn, query)


# -- services and their state ------------------------------------------------------------------------
def data_clock(store: Store) -> dict[str, datetime]:
    """Per service, the end of its newest bucket: the data's "now" (one index seek per service)."""
    query = sa.select(_b.c.service, sa.func.max(_b.c.start).label("start")).group_by(_b.c.service)
    with store.engine.connect() as conn:
        latest = {service: start for service, start in conn.execute(query)}
        out = {}
        for service, start in latest.items():
            if start is None:
                continue
            if isinstance(start, str):  # an aggregate skips the column's type on SQLite
                start = datetime.fromisoformat(start)
            start = schema.UTCDateTime().process_result_value(start, store.engine.dialect)
            out[service] = start + timedelta(minutes=1)
    return out


def services(store: Store) -> list[str]:
    """Every service with counted posts or incidents, alphabetically."""
    with store.engine.connect() as conn:
        names = {r[0] for r in conn.execute(sa.select(_b.c.service).distinct())}
        names |= {r[0] for r in conn.execute(sa.select(_a.c.service).distinct())}
    return sorted(names)


def metric_column(frame: pd.DataFrame, metric: str) -> pd.Series:
    """The detector's metric per bucket (the series the expected band is about)."""
    if metric == "complaint_share":
        return (frame["complaints"] / frame["mentions"].where(frame["mentions"] > 0)).fillna(0.0)
    return frame[metric].astype(float)


def buckets(store: Store, service: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Minute buckets of one service in [since, until): counts, expected value, upper band, score."""
    query = (
        sa.select(_b.c.start, _b.c.width_s, _b.c.mentions, _b.c.complaints, _b.c.misinformation, _b.c.people,
                  _b.c.complaint_people, _b.c.expected, _b.c.upper, _b.c.score,
                  # NULL in buckets counted before the outage head: the complaint counts stand in
                  sa.func.coalesce(_b.c.outage_reports, _b.c.complaints).label("outage_reports"),
                  sa.func.coalesce(_b.c.outage_people, _b.c.complaint_people).label("outage_people"))
        .where(_b.c.service == service, _b.c.start >= since, _b.c.start < until)
        .order_by(_b.c.start)
    )
    frame = read_frame(store, query)
    if not frame.empty:
        frame["start"] = pd.to_datetime(frame["start"], utc=True)
    return frame


def usual(store: Store, service: str, since: datetime, until: datetime, metric: str,
          window_minutes: float, days: int) -> pd.Series:
    """Per minute in [since, until): the usual volume for this time of day, as a rate per minute.

    What the detector's second test compares with (``detector.volume.reference``): the metric summed over
    the ``window_minutes`` ending at that minute, on each of the last ``days`` days, averaged (NaN with
    fewer earlier days than the detector needs), divided by the window's minutes so it sits on the chart's per-minute scale. Without it an
    alert the reference test raised can fire while the line sits inside the adaptive band, and a reader
    cannot see why. Empty for the complaint share (a ratio has no sum to compare).
    """
    index = pd.date_range(pd.Timestamp(since).floor("min"), pd.Timestamp(until), freq="min", inclusive="left")
    if metric == "complaint_share" or window_minutes <= 0 or index.empty:
        return pd.Series(float("nan"), index=index, name="usual")
    window = int(round(window_minutes))
    start = index[0] - pd.Timedelta(days=days) - pd.Timedelta(minutes=window)
    raw = buckets(store, service, start.to_pydatetime(), until)
    history = pd.date_range(start, pd.Timestamp(until), freq="min", inclusive="left")
    values = pd.Series(float("nan"), index=history)
    if not raw.empty:
        stored = metric_column(raw, metric).set_axis(raw["start"]).groupby(level=0).sum()
        values.loc[values.index >= stored.index.min()] = 0.0  # before a service's first post: no history
        values.loc[stored.index] = stored.to_numpy()
    sums = values.rolling(window, min_periods=window).sum()
    shifted = pd.concat([sums.shift(day * 1440) for day in range(1, days + 1)], axis=1).reindex(index)
    enough = shifted.notna().sum(axis=1) >= MIN_DAYS
    return (shifted.mean(axis=1) / window).where(enough).rename("usual")


def per_minute(frame: pd.DataFrame, since: datetime, until: datetime, metric: str,
               usual_rate: pd.Series | None = None) -> pd.DataFrame:
    """Buckets as a chartable series: long ranges averaged into wider steps, in counts per minute.

    Empty minutes are not stored, so a step's average divides by the minutes it spans, not by the rows.
    ``usual_rate`` (see ``usual``) becomes a ``usual`` column, averaged over each step like the band.
    """
    span = until - since
    step = timedelta(minutes=1) if span <= timedelta(hours=6) else (
        timedelta(minutes=5) if span <= timedelta(hours=36) else timedelta(minutes=30))
    columns = ["start", "mentions", "complaints", "metric", "expected", "upper", "usual"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    data = frame.assign(metric=metric_column(frame, metric)).set_index("start")
    minutes = step / timedelta(minutes=1)
    if minutes == 1:  # empty minutes are zero posts, not "unchanged": fill them in
        full = pd.date_range(pd.Timestamp(since).floor("min"), pd.Timestamp(until), freq="min", inclusive="left")
        out = data[["mentions", "complaints", "metric", "expected", "upper"]].astype(float).reindex(full)
        out[["mentions", "complaints", "metric"]] = out[["mentions", "complaints", "metric"]].fillna(0.0)
        out["usual"] = usual_rate.reindex(full) if usual_rate is not None else float("nan")
        out.index.name = "start"
    else:
        grouped = data.resample(step, origin="epoch")
        out = grouped[["mentions", "complaints", "metric"]].sum() / minutes
        out[["expected", "upper"]] = grouped[["expected", "upper"]].mean()
        out["usual"] = (usual_rate.resample(step, origin="epoch").mean().reindex(out.index)
                        if usual_rate is not None else float("nan"))
        out = out.dropna(how="all", subset=["mentions", "expected"])
    return out.reset_index()[columns]


def overview(store: Store, metric: str = "outage_people", spark_hours: int = 24) -> pd.DataFrame:
    """One row per service: state (outage / elevated / normal), since when, the open incident, a sparkline.

    Outage: an incident that is open or acknowledged. Elevated: no incident, but a bucket of the last
    15 minutes is above its upper band. Services in an outage come first, then elevated, then normal.
    """
    clock = data_clock(store)
    alerts = read_frame(store, sa.select(_a.c.id, _a.c.service, _a.c.status, _a.c.severity, _a.c.opened_at,
                                    _a.c.resolved_at, _a.c.peak_ratio).order_by(_a.c.opened_at))
    rows = []
    for service in services(store):
        now = clock.get(service)
        mine = alerts[alerts["service"] == service] if not alerts.empty else alerts
        open_ = mine[mine["status"] != "resolved"] if not mine.empty else mine
        recent = buckets(store, service, now - timedelta(hours=spark_hours), now) if now else pd.DataFrame()
        spark: list[float] = []
        state, since, incident, severity, ratio = "normal", None, None, None, None
        if not recent.empty:
            values = metric_column(recent, metric).to_numpy()
            series = pd.Series(values, index=recent["start"]).resample("30min", origin="epoch").sum()
            spark = [float(x) for x in series.tolist()]
        if not open_.empty:
            last = open_.iloc[-1]
            state, since, incident = "outage", last["opened_at"], last["id"]
            severity, ratio = last["severity"], float(last["peak_ratio"])
        elif not recent.empty:
            tail = recent[recent["start"] >= pd.Timestamp(now - ELEVATED_LOOKBACK)]
            above = (tail["upper"].notna()) & (metric_column(tail, metric) > tail["upper"])
            if above.any():
                state, since = "elevated", tail.loc[above[above].index[0], "start"].to_pydatetime()
        if state == "normal":
            resolved = mine["resolved_at"].dropna() if not mine.empty else pd.Series(dtype=object)
            since = resolved.iloc[-1] if len(resolved) else (recent["start"].iloc[0].to_pydatetime()
                                                              if not recent.empty else None)
        rows.append({"service": service, "state": state, "since": since, "severity": severity,
                     "peak_ratio": ratio, "incident": incident, "data_until": now, "sparkline": spark})
    frame = pd.DataFrame(rows, columns=["service", "state", "since", "severity", "peak_ratio", "incident",
                                        "data_until", "sparkline"])
    order = {"outage": 0, "elevated": 1, "normal": 2}
    return frame.sort_values(["state", "service"], key=lambda c: c.map(order) if c.name == "state" else c,
                             kind="stable").reset_index(drop=True)


# -- incidents -------------------------------------------------------------------------------------------
def incidents(store: Store, service: str | None = None, since: datetime | None = None,
              until: datetime | None = None, limit: int | None = None) -> pd.DataFrame:
    """Incidents, open and acknowledged first, then newest; optionally those overlapping [since, until)."""
    query = sa.select(_a).order_by(_a.c.opened_at.desc())
    if service:
        query = query.where(_a.c.service == service)
    if until is not None:
        query = query.where(_a.c.opened_at < until)
    if since is not None:
        query = query.where(sa.or_(_a.c.resolved_at.is_(None), _a.c.resolved_at >= since))
    frame = read_frame(store, query)
    if frame.empty:
        return frame
    frame["_open"] = frame["status"] != "resolved"
    frame = frame.sort_values(["_open", "opened_at"], ascending=[False, False], kind="stable").drop(columns="_open")
    return (frame.head(limit) if limit else frame).reset_index(drop=True)


def incident(store: Store, alert_id: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(_a).where(_a.c.id == alert_id)).first()
    return dict(row._mapping) if row else None


def official_incidents(store: Store, service: str, since: datetime | None = None,
                       until: datetime | None = None) -> pd.DataFrame:
    """The provider's own status-page incidents for a service overlapping [since, until)."""
    o = schema.official_incidents
    query = sa.select(o).where(o.c.service == service).order_by(o.c.started_at)
    if until is not None:
        query = query.where(o.c.started_at < until)
    if since is not None:
        query = query.where(sa.or_(o.c.resolved_at.is_(None), o.c.resolved_at >= since))
    return read_frame(store, query)


def evidence_posts(store: Store, keys: Iterable[str]) -> pd.DataFrame:
    """The posts an incident cites ("source:source_id" keys), through the unique (source, source_id) index."""
    pairs = [tuple(k.split(":", 1)) for k in keys if ":" in k]
    if not pairs:
        return pd.DataFrame(columns=_POST_COLUMNS)
    match = sa.or_(*(sa.and_(_p.c.source == source, _p.c.source_id == source_id) for source, source_id in pairs))
    query = _posts_select().where(match).order_by(_p.c.created_at)
    return with_links(read_frame(store, query))


def deliveries(store: Store, alert_id: str) -> pd.DataFrame:
    """Per channel: how many notifications were sent, are pending, are dead, and the last error."""
    o = schema.outbox
    query = (
        sa.select(o.c.channel, o.c.status, sa.func.count().label("n"), sa.func.max(o.c.attempts).label("attempts"),
                  sa.func.max(o.c.last_error).label("last_error"))
        .where(o.c.alert_id == alert_id).group_by(o.c.channel, o.c.status)
    )
    frame = read_frame(store, query)
    columns = ["channel", "sent", "pending", "dead", "attempts", "last_error"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    wide = frame.pivot_table(index="channel", columns="status", values="n", aggfunc="sum", fill_value=0)
    out = pd.DataFrame(index=wide.index)
    for status in ("sent", "pending", "dead"):
        out[status] = wide[status] if status in wide.columns else 0
    out["attempts"] = frame.groupby("channel")["attempts"].max()
    out["last_error"] = frame[frame["status"] != "sent"].groupby("channel")["last_error"].max()
    return out.reset_index()[columns]


def silences(store: Store, at: datetime | None = None) -> pd.DataFrame:
    """Silences still in force at ``at`` (all of them when ``at`` is None), newest first."""
    s = schema.silences
    query = sa.select(s).order_by(s.c.created_at.desc())
    if at is not None:
        query = query.where(s.c.ends_at > at)
    return read_frame(store, query)


# -- posts of one service and range --------------------------------------------------------------------
_POST_COLUMNS = ["post_id", "created_at", "source", "source_id", "text", "author", "url", "lang", "complaint",
                 "complaint_p", "misinformation", "symptom", "claim"]


def _posts_select() -> sa.Select:
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
    if frame.empty:
        return frame.assign(link=pd.Series(dtype=object))
    frame["link"] = [source_link(s, i, u) for s, i, u in zip(frame["source"], frame["source_id"], frame["url"])]
    return frame


FACET_LIMIT = 10_000
SLICE = timedelta(minutes=10)


@dataclass(frozen=True)
class Facets:
    """What the posts of a range say: symptoms, claims, languages and sources, with their counts.

    Over ``limit`` posts (known from the buckets, for free) the counts are estimated from every k-th
    10-minute slice of the range, scaled up; ``sampled`` is the share of posts actually read (1.0: all).
    """

    symptoms: pd.DataFrame
    claims: pd.DataFrame
    languages: pd.DataFrame
    sources: pd.DataFrame
    posts: int
    sampled: float


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


def facets(store: Store, service: str, since: datetime, until: datetime, limit: int | None = FACET_LIMIT,
           velocity_window: timedelta = timedelta(hours=1)) -> Facets:
    """Symptoms, misinformation claims (counts, first sighting, posts per hour lately), languages and
    sources of one service's posts in [since, until), in one pass over the posts (see ``Facets``)."""
    parts, total = slices(store, service, since, until, limit)
    recent_from, before_from = until - velocity_window, until - 2 * velocity_window
    created = _ps.c.created_at
    claim = sa.case((sa.or_(_v.c.misinformation.is_(True), _v.c.claim.is_not(None)),
                     sa.func.coalesce(_v.c.claim, "(unmatched rumour)")), else_=None)
    keys = [_v.c.symptom, sa.cast(_v.c.complaint, sa.Integer).label("complaint"), claim.label("claim"),
            _p.c.lang, _p.c.source]
    query = (
        sa.select(*keys, sa.func.count().label("posts"), sa.func.min(created).label("first_seen"),
                  sa.func.max(created).label("last_seen"),
                  sa.func.sum(sa.case((created >= recent_from, 1), else_=0)).label("recent"),
                  sa.func.sum(sa.case((sa.and_(created >= before_from, created < recent_from), 1), else_=0))
                  .label("before"))
        .select_from(_ps.join(_p, _p.c.id == _ps.c.post_id).outerjoin(_v, _v.c.post_id == _ps.c.post_id))
        .group_by(*keys)
    )
    with store.engine.connect() as conn:
        frames = [_frame(conn, _in_range(query, service, lo, hi)) for lo, hi in parts]
    rows = pd.concat(frames, ignore_index=True)
    read = float(rows["posts"].sum())
    scale = total / read if total and read and len(parts) > 1 else 1.0
    for column in ("posts", "recent", "before"):
        rows[column] = rows[column].astype(float) * scale
    for column in ("first_seen", "last_seen"):
        rows[column] = pd.to_datetime(rows[column], utc=True)
    rows["lang"] = rows["lang"].fillna("unknown")

    def counts(frame: pd.DataFrame, key: str) -> pd.DataFrame:
        out = frame.groupby(key, as_index=False)["posts"].sum().sort_values(["posts", key], ascending=[False, True])
        out["posts"] = out["posts"].round().astype(int)
        return out.reset_index(drop=True)

    complaints = rows[rows["complaint"] == 1].assign(symptom=lambda f: f["symptom"].fillna("unspecified"))
    symptoms = counts(complaints, "symptom")
    symptoms["share"] = symptoms["posts"] / symptoms["posts"].sum() if len(symptoms) else []
    rumours = rows[rows["claim"].notna()]
    claims = rumours.groupby("claim", as_index=False).agg(
        posts=("posts", "sum"), first_seen=("first_seen", "min"), last_seen=("last_seen", "max"),
        recent=("recent", "sum"), before=("before", "sum"))
    hours = velocity_window / timedelta(hours=1)
    claims["per_hour"] = claims["recent"] / hours
    claims["trend"] = (claims["recent"] - claims["before"]).round().astype(int)
    claims["posts"] = claims["posts"].round().astype(int)
    claims = claims.sort_values(["posts", "claim"], ascending=[False, True]).drop(columns=["recent", "before"])
    return Facets(symptoms=symptoms, claims=claims.reset_index(drop=True), languages=counts(rows, "lang"),
                  sources=counts(rows, "source"), posts=int(round(rows["posts"].sum())),
                  sampled=1.0 / scale)


def symptoms(store: Store, service: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Most reported symptoms among complaints, exactly: symptom, posts, share."""
    return facets(store, service, since, until, limit=None).symptoms


def claims(store: Store, service: str, since: datetime, until: datetime,
           velocity_window: timedelta = timedelta(hours=1)) -> pd.DataFrame:
    """Misinformation claims being repeated, exactly: claim, posts, first and last seen, posts per hour
    over the last ``velocity_window`` of the range and the change (``trend``) from the window before."""
    return facets(store, service, since, until, limit=None, velocity_window=velocity_window).claims


def breakdown(store: Store, service: str, since: datetime, until: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posts of the range by language and by source, exactly: (languages, sources), biggest first."""
    found = facets(store, service, since, until, limit=None)
    return found.languages, found.sources


def rumour_posts(store: Store, service: str, since: datetime, until: datetime, limit: int = 10) -> pd.DataFrame:
    """The newest posts the classifier calls misinformation."""
    query = _in_range(
        _posts_select().join(_ps, _ps.c.post_id == _p.c.id).where(_v.c.misinformation.is_(True)),
        service, since, until,
    ).order_by(_ps.c.created_at.desc()).limit(limit)
    return with_links(read_frame(store, query))


def representative_posts(store: Store, service: str, since: datetime, until: datetime,
                         limit: int = 8, sample_limit: int | None = None) -> pd.DataFrame:
    """The clearest complaints of the range, one per distinct text and author (retweets and bots fold
    together); over ``sample_limit`` posts, chosen from the same slices as ``facets``."""
    parts, _ = slices(store, service, since, until, sample_limit)
    best = (sa.select(_ps.c.post_id, _v.c.complaint_p).select_from(_ps.join(_v, _v.c.post_id == _ps.c.post_id))
            .where(_v.c.complaint.is_(True)).order_by(_v.c.complaint_p.desc(), _ps.c.created_at).limit(limit * 6))
    with store.engine.connect() as conn:
        found = [row for lo, hi in parts for row in conn.execute(_in_range(best, service, lo, hi))]
    ids = [post_id for post_id, _ in sorted(found, key=lambda r: -r[1])[: limit * 6]]
    if not ids:
        return with_links(pd.DataFrame(columns=_POST_COLUMNS))
    frame = read_frame(store, _posts_select().where(_p.c.id.in_(ids)))
    frame = frame.sort_values(["complaint_p", "created_at"], ascending=[False, True])
    frame = frame.assign(_fp=frame["text"].map(text_fingerprint)).drop_duplicates("_fp").drop(columns="_fp")
    frame = frame.drop_duplicates("author", keep="first") if frame["author"].notna().all() else frame
    return with_links(frame.head(limit).reset_index(drop=True))


def first_complaint(store: Store, service: str, since: datetime, until: datetime) -> datetime | None:
    """The first complaint of the range (the index walks in time order and stops at the first hit)."""
    query = _in_range(
        sa.select(_ps.c.created_at).select_from(_ps.join(_v, _v.c.post_id == _ps.c.post_id))
        .where(_v.c.complaint.is_(True)), service, since, until,
    ).order_by(_ps.c.created_at).limit(1)
    with store.engine.connect() as conn:
        return conn.execute(query).scalar()


def incident_events(store: Store, alert_id: str) -> pd.DataFrame:
    """The incident's timeline: when, what happened, and who or what did it."""
    e = schema.alert_events
    frame = read_frame(store, sa.select(e.c.at, e.c.kind, e.c.detail).where(e.c.alert_id == alert_id).order_by(e.c.id))
    frame["detail"] = [_detail_text(d) for d in frame["detail"]] if not frame.empty else []
    return frame


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, dict):
        return ""
    if detail.get("by"):
        return f"by {detail['by']}"
    parts = [f"{k} {detail[k]:.2f}" for k in ("value", "expected", "upper") if isinstance(detail.get(k), (int, float))]
    return ", ".join(parts)


def incident_cascade(store: Store, alert_id: str) -> dict[str, Any] | None:
    """The cascade an incident belongs to, as `detector alerts --groups --format json` gives it, or None."""
    from detector.alerting.cascade_payload import cascade_record
    from detector.store.cascades import cascade_of, load_cascades

    owner = cascade_of(store, alert_id)
    if owner is None:
        return None
    return next((cascade_record(c) for c in load_cascades(store) if c.id == owner), None)


PLACE_COLUMNS = ["place", "kind", "region", "country", "people", "posts", "lat", "lon"]


def places(store: Store, service: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Places named in the range's complaints with the distinct people naming each, most first (the same
    count as the alert's "Where" and the comms view: ``detector.places.summary.count_places``)."""
    from detector.places.summary import count_places
    from detector.store.facts import place_mentions

    counts = count_places(place_mentions(store, service, since, until))
    return pd.DataFrame([{"place": c.place, "kind": c.kind, "region": c.region, "country": c.country,
                          "people": c.people, "posts": c.posts, "lat": c.lat, "lon": c.lon} for c in counts],
                        columns=PLACE_COLUMNS)
