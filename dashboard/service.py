"""Service page: per-minute complaints against the expected band, symptoms, rumours, posts, languages."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Callable

import pandas as pd
import streamlit as st

from dashboard import comms, data
from dashboard.charts import chart_caption, service_chart
from dashboard.posts import show_posts
from dashboard.queries import FACET_LIMIT, metric_column, per_minute

RANGE_CHOICES = ("1h", "24h", "7d", "custom", "incident")
INCIDENT_MARGIN = timedelta(hours=2)


def _choose_service(cfg: data.AppConfig) -> str | None:
    names = data.query(cfg.db, "services")
    incidents = data.query(cfg.db, "incidents", limit=50)
    if not incidents.empty:  # services with an open incident first
        down = set(incidents.loc[incidents["status"] != "resolved", "service"])
        names = sorted(names, key=lambda name: name not in down)
    if not names:
        st.info("No services with data yet.")
        return None
    if st.session_state.get("service") not in names:
        wanted = st.query_params.get("service")
        st.session_state["service"] = wanted if wanted in names else names[0]
    name = st.selectbox("Service", names, key="service")
    st.query_params["service"] = name
    return name


def _default_range(cfg: data.AppConfig, service: str, incidents) -> str:
    """24 h, unless the service's latest incident is older than that: then that incident (a replay)."""
    if incidents.empty:
        return "24h"
    latest = incidents.iloc[0]
    since, _ = data.window(cfg.db, service, "24h")
    recent = latest["status"] != "resolved" or (pd.notna(latest["resolved_at"]) and latest["resolved_at"] >= since)
    return "24h" if recent else "incident"


def _choose_window(cfg: data.AppConfig, service: str) -> Callable[[], tuple[datetime, datetime]]:
    """The range widgets; returns how to compute [since, until), which the live refresh re-evaluates so
    the 1 h / 24 h / 7 d windows follow new data."""
    incidents = data.query(cfg.db, "incidents", service)
    choices = RANGE_CHOICES if not incidents.empty else RANGE_CHOICES[:-1]
    if st.session_state.get("range") not in choices:
        wanted = st.query_params.get("range")
        st.session_state["range"] = wanted if wanted in choices else _default_range(cfg, service, incidents)
    choice = st.radio("Range", choices, horizontal=True, key="range")
    st.query_params["range"] = choice
    custom = None
    if choice == "incident":
        ids = incidents["id"].tolist()
        if st.session_state.get("incident_view") not in ids:
            wanted = st.query_params.get("incident")
            st.session_state["incident_view"] = wanted if wanted in ids else ids[0]
        chosen = st.selectbox("Incident", ids, key="incident_view", format_func=lambda i: _incident_label(incidents, i))
        st.query_params["incident"] = chosen
        row = incidents[incidents["id"] == chosen].iloc[0]
        _, newest = data.window(cfg.db, service, "24h")
        opened = pd.Timestamp(row["opened_at"]).to_pydatetime()
        end = pd.Timestamp(row["resolved_at"]).to_pydatetime() if pd.notna(row["resolved_at"]) else newest
        fixed = (opened - INCIDENT_MARGIN, min(end + INCIDENT_MARGIN, max(newest, opened)))
        return lambda: fixed
    st.query_params.pop("incident", None)
    if choice == "custom":
        _, default_until = data.window(cfg.db, service, "24h")
        day = default_until.date()
        picked = st.date_input("Days (UTC)", value=(day - timedelta(days=1), day), key="custom_days")
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            custom = (datetime.combine(picked[0], time(), timezone.utc),
                      datetime.combine(picked[1], time(), timezone.utc) + timedelta(days=1))
    return lambda: data.window(cfg.db, service, choice, custom)


def _incident_label(incidents, alert_id: str) -> str:
    row = incidents[incidents["id"] == alert_id].iloc[0]
    return f"{data.when(row['opened_at'])} · {row['severity']} · {row['status']}"


def render(cfg: data.AppConfig, viewer) -> None:
    st.header("Service")
    service = _choose_service(cfg)
    if service is None:
        return
    window = _choose_window(cfg, service)

    @st.fragment(run_every=cfg.refresh_seconds)
    def live() -> None:
        _panels(cfg, service, *window())

    live()


def _panels(cfg: data.AppConfig, service: str, since: datetime, until: datetime) -> None:
    db = cfg.db
    raw = data.query(db, "buckets", service, since, until)
    series = per_minute(raw, since, until, cfg.metric)
    incidents = data.query(db, "incidents", service, since, until)
    official = data.query(db, "official_incidents", service, since, until)
    st.caption(f"{data.when(since)} – {data.when(until)} (data up to {data.when(until)})")
    _headline(raw, incidents, cfg)
    st.altair_chart(service_chart(series, incidents, official, cfg.metric, since, until), width="stretch")
    st.caption(chart_caption(series, incidents, official, cfg.metric))
    found = data.query(db, "facets", service, since, until, metric=cfg.metric)
    if found.sampled < 1:
        st.caption(f"About {found.posts:,} posts in this range: the counts below are estimated from "
                   f"{found.sampled:.0%} of them (every few 10-minute slices, the newest always included).")
    st.subheader("Most reported problems")
    symptoms = found.symptoms
    if symptoms.empty:
        st.caption("No reports in this range.")
    else:
        st.bar_chart(symptoms.set_index("symptom")["posts"], horizontal=True, height=240)
    # full width: the rumours table has nine columns, which a half-width column cut off on the right
    st.subheader("Rumours being repeated")
    claims = found.claims
    if claims.empty:
        st.caption("No misinformation in this range.")
    else:
        worded = {r.claim or "(unmatched rumour)": r for r in data.rumours(db, service, since, until,
                                                                            cfg.claims_file)}

        def said(key: str, attribute: str):
            rumour = worded.get(key)
            return getattr(rumour, attribute) if rumour is not None else None

        table = claims.assign(
            claim=[said(c, "text") if said(c, "verdict") else
                   ("not in the claims file" if c == "(unmatched rumour)" else c) for c in claims["claim"]],
            verdict=[said(c, "verdict") or data.EMPTY for c in claims["claim"]],
            example=[said(c, "example") for c in claims["claim"]],
            first_seen=claims["first_seen"].map(data.when), last_seen=claims["last_seen"].map(data.when))
        answers = [said(c, "reference") if str(said(c, "reference") or "").startswith(("https://", "http://"))
                   else None for c in claims["claim"]]
        shown = data.for_display(table[["claim", "verdict", "posts", "example", "first_seen", "last_seen",
                                        "per_hour", "trend"]], {"per_hour": "{:.0f}", "trend": "{:+.0f}"})
        shown.insert(4, "answer", answers)
        st.dataframe(shown, hide_index=True, width="stretch",
                     column_config={"claim": st.column_config.TextColumn("claim", width="large"),
                                    "per_hour": "posts / h (last hour)", "trend": "vs hour before",
                                    "first_seen": "first seen", "last_seen": "last seen",
                                    "answer": st.column_config.LinkColumn("answer", display_text="open"),
                                    "example": st.column_config.TextColumn("example post", width="large")})
    _places(data.query(db, "places", service, since, until, metric=cfg.metric))
    st.subheader("What people say")
    show_posts(data.query(db, "representative_posts", service, since, until, sample_limit=FACET_LIMIT),
               "No complaints in this range.", key="representative")
    with st.expander("Rumour posts"):
        show_posts(data.query(db, "rumour_posts", service, since, until), "No rumour posts.", key="rumour")
    left, right = st.columns(2)
    left.subheader("Languages")
    left.dataframe(data.for_display(found.languages), hide_index=True, width="stretch")
    right.subheader("Sources")
    right.dataframe(data.for_display(found.sources), hide_index=True, width="stretch")


def _headline(raw, incidents, cfg: data.AppConfig) -> None:
    cols = st.columns([1, 2, 1, 1])
    open_ = incidents[incidents["status"] != "resolved"] if not incidents.empty else incidents
    if not open_.empty:
        first = open_.iloc[0]
        cols[0].metric("State", "outage")
        cols[1].metric("Since (UTC)", data.short_when(first["opened_at"]), help=data.when(first["opened_at"]))
        cols[2].metric("Severity", str(first["severity"]))
        ratio = comms.peak_ratio(cfg, str(first["id"]))
        cols[3].metric("Peak × expected", data.EMPTY if ratio is None else f"{ratio:.1f}",
                       help="The busiest minute against its own expected value (floored at 1 per minute).")
        return
    cols[0].metric("State", "normal")
    if not raw.empty:
        last = raw.iloc[-1]
        cols[1].metric("Last minute of the range", f"{float(metric_column(raw.tail(1), cfg.metric).iloc[0]):.0f}")
        expected = last["expected"]
        cols[2].metric("Expected", data.EMPTY if expected != expected or expected is None else f"{float(expected):.1f}")
    cols[3].metric("Incidents in range", len(incidents))


def _places(places: pd.DataFrame) -> None:
    """Where reports come from: a map of the towns and provinces named (no map tiles, so it draws offline)
    and the table, addresses included."""
    st.subheader("Where people report from")
    if places.empty:
        st.caption("No places named in the complaints of this range.")
        return
    located = places.dropna(subset=["lat", "lon"])
    left, right = st.columns([3, 2])
    with left:
        if located.empty:
            st.caption("No place with coordinates (only addresses).")
        else:
            import pydeck

            layer = pydeck.Layer("ScatterplotLayer", data=located[["place", "people", "lat", "lon"]],
                                 get_position="[lon, lat]", get_radius="3000 + 1500 * people",
                                 radius_min_pixels=4, radius_max_pixels=40, get_fill_color=[220, 60, 40, 160],
                                 pickable=True)
            view = pydeck.ViewState(latitude=float(located["lat"].mean()), longitude=float(located["lon"].mean()),
                                    zoom=4 if len(located) > 1 else 7)
            st.pydeck_chart(pydeck.Deck(layers=[layer], initial_view_state=view, map_style=None,
                                        tooltip={"text": "{place}: {people} people"}), height=300)
    with right:
        st.dataframe(places[["place", "people", "posts", "kind"]], hide_index=True, width="stretch", height=300)
