"""The dashboard pages' tables and series, shaped with pandas from the store's reads.

The SQL lives in ``detector/store/`` (``buckets``, ``posts``, ``incidents``, ``official``, ``deliveries``);
this module only turns rows into what a page draws: the chart's per-minute series, the overview's states,
the incident tables. Nothing here writes. "Now" is the data's own clock (the end of the newest bucket), so
a replayed 2020 outage shows on the 1 h / 24 h / 7 d ranges the same way a live one does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

import pandas as pd

from detector.comms.breakdown import Facets, facets  # noqa: F401 (the service page's facets, as the report counts them)
from detector.records import DEFAULT_METRIC
from detector.store import buckets as stored_buckets, deliveries as stored_deliveries, incidents as stored_incidents
from detector.store import posts as stored_posts
from detector.store.official import OFFICIAL_COLUMNS, official_overlapping
from detector.store.silences import list_silences
from detector.store.posts import (  # noqa: F401 (the pages read posts through here)
    FACET_LIMIT, POST_COLUMNS, representative_posts, rumour_posts, source_link, with_links,
)
from detector.store.store import Store

RANGES: dict[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
METRICS = ("outage_people", "outage_reports", "complaint_people", "complaints", "people", "mentions",
           "complaint_share")
ELEVATED_LOOKBACK = timedelta(minutes=15)
SYMPTOMS = ("login", "payments", "data_loss", "slow", "api", "app", "errors", "web", "other")


# -- services and their state ------------------------------------------------------------------------
def data_clock(store: Store) -> dict[str, datetime]:
    """Per service, the end of its newest bucket: the data's "now"."""
    return stored_buckets.data_clock(store)


def services(store: Store) -> list[str]:
    """Every service with counted posts or incidents, alphabetically."""
    return stored_buckets.services_seen(store)


def metric_column(frame: pd.DataFrame, metric: str) -> pd.Series:
    """The detector's metric per bucket (the series the expected band is about)."""
    if metric == "complaint_share":
        return (frame["complaints"] / frame["mentions"].where(frame["mentions"] > 0)).fillna(0.0)
    return frame[metric].astype(float)


def buckets(store: Store, service: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Minute buckets of one service in [since, until): counts, the detector's recorded expected value,
    upper band and score."""
    frame = stored_buckets.bucket_frame(store, service, since, until)
    if not frame.empty:
        frame["start"] = pd.to_datetime(frame["start"], utc=True)
    return frame


def per_minute(frame: pd.DataFrame, since: datetime, until: datetime, metric: str) -> pd.DataFrame:
    """Buckets as a chartable series: long ranges averaged into wider steps, in counts per minute.

    ``expected`` and ``upper`` are what the detector recorded for each minute it judged (the usual value
    it compared with, and its alert threshold), averaged over a step: the chart shows what the detector
    saw, not a re-computation. Empty minutes are not stored, so a step's average divides by the minutes it
    spans, not by the rows.
    """
    span = until - since
    step = timedelta(minutes=1) if span <= timedelta(hours=6) else (
        timedelta(minutes=5) if span <= timedelta(hours=36) else timedelta(minutes=30))
    columns = ["start", "mentions", "complaints", "metric", "expected", "upper"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    data = frame.assign(metric=metric_column(frame, metric)).set_index("start")
    minutes = step / timedelta(minutes=1)
    if minutes == 1:  # empty minutes are zero posts, not "unchanged": fill them in
        full = pd.date_range(pd.Timestamp(since).floor("min"), pd.Timestamp(until), freq="min", inclusive="left")
        out = data[["mentions", "complaints", "metric", "expected", "upper"]].astype(float).reindex(full)
        out[["mentions", "complaints", "metric"]] = out[["mentions", "complaints", "metric"]].fillna(0.0)
        out.index.name = "start"
    else:
        grouped = data.resample(step, origin="epoch")
        out = grouped[["mentions", "complaints", "metric"]].sum() / minutes
        out[["expected", "upper"]] = grouped[["expected", "upper"]].mean()
        out = out.dropna(how="all", subset=["mentions", "expected"])
    return out.reset_index()[columns]


def overview(store: Store, metric: str = "outage_people", spark_hours: int = 24) -> pd.DataFrame:
    """One row per service: state (outage / elevated / normal), since when, the open incident, a sparkline.

    ``severity_ratio`` is the open incident's stored record (what its severity was decided on), not its
    peak: the page shows the peak from ``detector.comms.facts``.

    Outage: an incident that is open or acknowledged. Elevated: no incident, but a bucket of the last
    15 minutes is above its upper band. Services in an outage come first, then elevated, then normal.
    """
    clock = data_clock(store)
    alerts = stored_incidents.incident_states(store)
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
                     "severity_ratio": ratio, "incident": incident, "data_until": now, "sparkline": spark})
    frame = pd.DataFrame(rows, columns=["service", "state", "since", "severity", "severity_ratio", "incident",
                                        "data_until", "sparkline"])
    order = {"outage": 0, "elevated": 1, "normal": 2}
    return frame.sort_values(["state", "service"], key=lambda c: c.map(order) if c.name == "state" else c,
                             kind="stable").reset_index(drop=True)


# -- incidents -------------------------------------------------------------------------------------------
def incidents(store: Store, service: str | None = None, since: datetime | None = None,
              until: datetime | None = None, limit: int | None = None) -> pd.DataFrame:
    """Incidents, open and acknowledged first, then newest; optionally those overlapping [since, until)."""
    frame = stored_incidents.incident_frame(store, service, since, until)
    if frame.empty:
        return frame
    frame["_open"] = frame["status"] != "resolved"
    frame = frame.sort_values(["_open", "opened_at"], ascending=[False, False], kind="stable").drop(columns="_open")
    return (frame.head(limit) if limit else frame).reset_index(drop=True)


def incident(store: Store, alert_id: str) -> dict[str, Any] | None:
    """Every column of one incident, or None."""
    return stored_incidents.incident_row(store, alert_id)


def official_incidents(store: Store, service: str, since: datetime, until: datetime) -> pd.DataFrame:
    """The provider's own status-page incidents for a service overlapping [since, until), oldest first
    (``detector.store.official.official_overlapping``: the one overlap rule)."""
    rows = official_overlapping(store, service, since, until)
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else OFFICIAL_COLUMNS)


def evidence_posts(store: Store, keys: Iterable[str]) -> pd.DataFrame:
    """The posts an incident cites ("source:source_id" keys), oldest first, with their links."""
    rows = stored_posts.evidence_posts(store, keys)
    frame = pd.DataFrame(rows, columns=POST_COLUMNS)
    return with_links(frame.sort_values("created_at", kind="stable").reset_index(drop=True))


def deliveries(store: Store, alert_id: str) -> pd.DataFrame:
    """Per channel: how many notifications were sent, are pending, are dead, and the last error."""
    frame = stored_deliveries.delivery_counts(store, alert_id)
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


SILENCE_COLUMNS = ["id", "service", "starts_at", "ends_at", "reason", "created_by", "created_at"]


def silences(store: Store, at: datetime | None = None) -> pd.DataFrame:
    """Silences still in force at ``at`` (all of them when ``at`` is None), newest first."""
    rows = list_silences(store, active_at=at)
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else SILENCE_COLUMNS)


# -- what the posts of a range say ---------------------------------------------------------------------
def symptoms(store: Store, service: str, since: datetime, until: datetime,
             metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Most reported symptoms among the reports ``metric`` counts, exactly: symptom, posts, share."""
    return facets(store, service, since, until, limit=None, metric=metric).symptoms


def claims(store: Store, service: str, since: datetime, until: datetime,
           velocity_window: timedelta = timedelta(hours=1)) -> pd.DataFrame:
    """Misinformation claims being repeated, exactly: claim, posts, first and last seen, posts per hour
    over the last ``velocity_window`` of the range and the change (``trend``) from the window before."""
    return facets(store, service, since, until, limit=None, velocity_window=velocity_window).claims


def breakdown(store: Store, service: str, since: datetime, until: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posts of the range by language and by source, exactly: (languages, sources), biggest first."""
    found = facets(store, service, since, until, limit=None)
    return found.languages, found.sources


def incident_events(store: Store, alert_id: str) -> pd.DataFrame:
    """The incident's timeline: when, what happened, and who or what did it."""
    frame = stored_incidents.event_frame(store, alert_id)
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


def places(store: Store, service: str, since: datetime, until: datetime, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Places named in the range's reports (those ``metric`` counts) with the distinct people naming each,
    most first (the same count as the alert's "Where" and the comms view: ``places.summary.count_places``)."""
    from detector.places.summary import count_places
    from detector.store.facts import place_mentions

    counts = count_places(place_mentions(store, service, since, until, metric))
    return pd.DataFrame([{"place": c.place, "kind": c.kind, "region": c.region, "country": c.country,
                          "people": c.people, "posts": c.posts, "lat": c.lat, "lon": c.lon} for c in counts],
                        columns=PLACE_COLUMNS)
