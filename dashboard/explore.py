"""Explore (analysts): filter posts, page through them, download CSV or Parquet, and label the posts
the classifier is least sure about (labels go to the ``labels`` table that `detector train` reads)."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta, timezone

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import actions, data
from dashboard.posts import pseudonym
from dashboard.explore_queries import CHART_CAP, COUNT_CAP, LABEL_FILTERS, PostFilter, export_posts
from dashboard.queries import SYMPTOMS

PAGE_SIZE = 100
SHOWN = ["created_at", "service", "source", "lang", "text", "author", "complaint", "complaint_p", "misinformation",
         "symptom", "claim", "link"]


def render(cfg: data.AppConfig, viewer) -> None:
    st.header("Explore")
    flt = _filters(cfg)
    total = data.query(cfg.db, "count_posts", flt, cap=COUNT_CAP)
    pages = max((min(total, COUNT_CAP) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    cols = st.columns([2, 1, 1, 1])
    cols[0].markdown(f"**{min(total, COUNT_CAP):,}{'+' if total > COUNT_CAP else ''} posts**")
    page = cols[1].number_input("Page", min_value=1, max_value=pages, value=1, step=1, key="explore_page") - 1
    store = data.store(cfg.db)
    cols[2].download_button("CSV", lambda: export_posts(store, flt).to_csv(index=False), "posts.csv", "text/csv",
                            key="download_csv", on_click="ignore", disabled=total == 0)
    cols[3].download_button("Parquet", lambda: _parquet(store, flt), "posts.parquet",
                            "application/vnd.apache.parquet", key="download_parquet", on_click="ignore",
                            disabled=total == 0)
    _chart(cfg, flt, total)
    frame = data.query(cfg.db, "page_of_posts", flt, int(page), PAGE_SIZE)
    if not frame.empty:
        frame = frame.assign(author=frame["author"].map(pseudonym))
        shown = data.for_display(frame[SHOWN].drop(columns="link"),
                                 {"complaint_p": "{:.2f}", "complaint": "{:.0f}", "misinformation": "{:.0f}"})
        shown["link"] = frame["link"].tolist()
        st.dataframe(shown, hide_index=True, width="stretch", height=420,
                     column_config={"link": st.column_config.LinkColumn("link", display_text="open"),
                                    "created_at": "time (UTC)", "complaint_p": "complaint p"})
    st.divider()
    _queue(cfg, viewer, flt)


def _chart(cfg: data.AppConfig, flt: PostFilter, total: int) -> None:
    """The selection over time: posts and complaints per hour (per day beyond a week)."""
    if total == 0:
        return
    series = data.query(cfg.db, "posts_over_time", flt)
    if series.empty:
        return
    long = series.melt(id_vars="start", value_vars=["posts", "complaints"], var_name="what", value_name="count")
    chart = alt.Chart(long).mark_line(interpolate="step-after").encode(
        x=alt.X("start:T", title=None), y=alt.Y("count:Q", title="posts in the selection"),
        color=alt.Color("what:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["posts", "complaints"], range=["#4c78a8", "#d62728"])),
        tooltip=["what:N", alt.Tooltip("start:T", format="%Y-%m-%d %H:%M"), "count:Q"])
    st.altair_chart(chart.properties(height=180), width="stretch")
    step = "hour" if len(series) < 2 or series["start"].diff().dropna().iloc[0] <= pd.Timedelta(hours=1) else "day"
    st.caption(f"Posts and complaints per {step} (UTC) in this selection"
               + (f", its newest {CHART_CAP:,} posts" if total > CHART_CAP else "") + ".")


def _parquet(store, flt: PostFilter) -> bytes:
    buffer = io.BytesIO()
    export_posts(store, flt).to_parquet(buffer, index=False)
    return buffer.getvalue()


def _filters(cfg: data.AppConfig) -> PostFilter:
    services = data.query(cfg.db, "services")
    sources = data.query(cfg.db, "sources")
    cols = st.columns([2, 2, 2, 3])
    service = cols[0].selectbox("Service", ["(all)"] + services, key="explore_service")
    chosen_sources = cols[1].multiselect("Source", sources, key="explore_sources")
    labels = list(LABEL_FILTERS) + [f"symptom:{s}" for s in SYMPTOMS]
    label = cols[2].selectbox("Label", labels, key="explore_label")
    text = cols[3].text_input("Text contains", key="explore_text", max_chars=200)
    clock = data.query(cfg.db, "data_clock")
    newest = max(clock.values()) if clock else datetime.now(timezone.utc)
    days = st.date_input("Days (UTC)", value=((newest - timedelta(days=6)).date(), newest.date()), key="explore_days")
    since = until = None
    if isinstance(days, (tuple, list)) and len(days) == 2:
        since = datetime.combine(days[0], time(), timezone.utc)
        until = datetime.combine(days[1], time(), timezone.utc) + timedelta(days=1)
    return PostFilter(service=None if service == "(all)" else service, sources=tuple(chosen_sources), label=label,
                      since=since, until=until, text=text)


def _queue(cfg: data.AppConfig, viewer, flt: PostFilter) -> None:
    st.subheader("Labelling queue: least certain first")
    if not viewer.can("label"):
        st.caption("Labelling needs the analyst or on-call role.")
    queue = data.query(cfg.db, "labelling_queue", flt, "complaint", 5)
    if queue.empty:
        st.caption("Nothing left to label in this selection.")
        return
    for row in queue.itertuples(index=False):
        post_id = int(row.post_id)
        with st.form(f"label-{post_id}", border=True):
            st.caption(f"{data.when(row.created_at)} · {data.markdown_text(pseudonym(row.author))} · "
                       f"model: complaint p={float(row.complaint_p):.2f}, "
                       f"symptom {data.markdown_text(data.EMPTY if data.missing(row.symptom) else row.symptom)}")
            st.text(str(row.text))
            cols = st.columns(3)
            complaint = cols[0].radio("Complaint?", ["1", "0"], format_func={"1": "yes", "0": "no"}.get,
                                      horizontal=True, key=f"lc-{post_id}", index=None)
            misinfo = cols[1].radio("Misinformation?", ["1", "0"], format_func={"1": "yes", "0": "no"}.get,
                                    horizontal=True, key=f"lm-{post_id}", index=None)
            symptom = cols[2].selectbox("Symptom", ["", "none", *SYMPTOMS], key=f"ls-{post_id}")
            saved = st.form_submit_button("Save labels", disabled=not viewer.can("label"))
        if saved:
            try:
                n = actions.save_labels(data.store(cfg.db), viewer, post_id,
                                        {"complaint": complaint, "misinformation": misinfo, "symptom": symptom})
            except actions.NotAllowed as error:
                st.error(data.markdown_text(error))
                return
            st.cache_data.clear()
            st.toast(f"saved {n} label(s) for post {post_id}")
            st.rerun()
