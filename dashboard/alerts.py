"""Alerts (on-call): open and recent incidents, their evidence and timeline, delivery per channel, and
the acknowledge / resolve / silence actions (the same store calls as the CLI), plus the incident report."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import actions, comms, data
from dashboard.nav import show_incident
from dashboard.posts import show_posts
from dashboard.explore_queries import PostFilter, export_posts
from detector.report import build_report
from detector.store.backtests import last_backtest

RECENT = 30


def render(cfg: data.AppConfig, viewer) -> None:
    st.header("Alerts")
    if not viewer.can("ack"):
        st.info(f"You are signed in as {viewer.role}: you can read everything here but not change it.")

    @st.fragment(run_every=cfg.refresh_seconds)
    def live() -> None:
        frame = _with_linked(cfg, data.query(cfg.db, "incidents", limit=RECENT))
        if frame.empty:
            st.success("No incidents.")
            return
        _incident_table(cfg, frame)
        ids = frame["id"].tolist()
        chosen = st.selectbox("Incident", ids, key="incident",
                              format_func=lambda i: _label(frame[frame["id"] == i].iloc[0]))
        st.query_params["incident"] = chosen  # the address bar links to this incident
        _incident(cfg, viewer, frame[frame["id"] == chosen].iloc[0])

    live()
    st.divider()
    _silences(cfg, viewer)
    st.divider()
    _last_backtest(cfg)


def _with_linked(cfg: data.AppConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """The recent incidents, plus the one a link (``?incident=ID``) asked for when it is older; an unknown
    id is reported and forgotten, so the page falls back to the newest incident."""
    wanted = st.session_state.get("incident")
    if not wanted or (not frame.empty and wanted in set(frame["id"])):
        return frame
    row = data.query(cfg.db, "incident", str(wanted))
    if row is None:
        st.warning(f"No incident {data.markdown_text(wanted)}: showing the newest instead.")
        del st.session_state["incident"]
        return frame
    return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)


def _label(row: pd.Series) -> str:
    return f"{row['service']} · {row['status']} · {row['severity']} · opened {data.when(row['opened_at'])}"


def _incident_table(cfg: data.AppConfig, frame: pd.DataFrame) -> None:
    """The incidents, each with its peak as the comms view, the cards and the report state it (the stored
    record's severity ratio is not shown: it is what the severity was decided on, not a peak)."""
    table = frame[["service", "status", "severity", "opened_at", "resolved_at", "id"]].copy()
    for column in ("opened_at", "resolved_at"):
        table[column] = table[column].map(data.when)
    peaks = data.incident_peaks(cfg.db, frame, cfg.metric)
    table.insert(5, "peak_value", [None if p is None else p.value for p in peaks])
    table.insert(6, "peak_ratio", [None if p is None else p.ratio for p in peaks])
    st.dataframe(data.for_display(table, {"peak_value": "{:.0f}", "peak_ratio": "{:.1f}"}), hide_index=True,
                 width="stretch", column_config={
                     "opened_at": "opened", "resolved_at": "resolved",
                     "peak_value": st.column_config.TextColumn("peak per minute", help="The busiest stored minute."),
                     "peak_ratio": st.column_config.TextColumn(
                         "peak × expected",
                         help="The busiest minute against its own expected value (floored at 1 per minute).")})


def _incident(cfg: data.AppConfig, viewer, row: pd.Series) -> None:
    alert_id = str(row["id"])
    st.subheader(f"{data.markdown_text(row['service'])}: {row['status']}")
    st.caption(f"Incident {data.markdown_text(alert_id)}")
    cols = st.columns(3)
    cols[0].metric("Severity", str(row["severity"]))
    cols[1].metric("Opened (UTC)", data.short_when(row["opened_at"]), help=data.when(row["opened_at"]))
    cols[2].metric("Resolved (UTC)", data.short_when(row["resolved_at"]), help=data.when(row["resolved_at"]))
    st.text(str(row["reason"]))
    _cascade(cfg, alert_id)
    _buttons(cfg, viewer, row)
    st.button("Show on the service page", key=f"show-{alert_id}", on_click=show_incident,
              args=(str(row["service"]), alert_id))
    with st.expander("Comms view: who, since when, where, what, rumours, status page, drafted update",
                     expanded=True):
        comms.show(cfg, alert_id, key=f"comms-{alert_id}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Timeline**")
        events = data.query(cfg.db, "incident_events", alert_id)
        st.dataframe(data.for_display(events.assign(at=events["at"].map(data.when))), hide_index=True,
                     width="stretch")
    with right:
        st.markdown("**Notifications per channel**")
        sent = data.query(cfg.db, "deliveries", alert_id)
        if sent.empty:
            st.caption("No notifications were queued for this incident.")
        else:
            if int(sent["dead"].sum()):
                st.error(f"{int(sent['dead'].sum())} notification(s) are dead: they will not be retried.")
            st.dataframe(data.for_display(sent), hide_index=True, width="stretch")
    _downloads(cfg, row)
    st.markdown("**Evidence**")
    show_posts(data.query(cfg.db, "evidence_posts", tuple(row["evidence"] or ())), "No evidence posts stored.",
               key=f"evidence-{alert_id}")


def _cascade(cfg: data.AppConfig, alert_id: str) -> None:
    """The cascade this incident is part of, as one story: likely cause, confidence, the upstream's word, and
    a timeline per service (acknowledge / resolve below act on the whole group)."""
    cascade = data.query(cfg.db, "incident_cascade", alert_id)
    if cascade is None:
        return
    cause = data.markdown_text(cascade["likely_cause"])
    st.warning(f"Part of a cascade: {len(cascade['services'])} service(s), likely cause **{cause}** "
               f"(confidence {cascade['confidence']:.2f}), recognised {cascade['recognised_after_minutes']:g} min "
               f"after the first onset. Acknowledge and resolve act on the whole group.")
    timeline = pd.DataFrame([{
        "service": i["service"], "onset (UTC)": data.when(pd.Timestamp(i["onset"])), "severity": i["severity"],
        "status": i["status"], "declares dependency": i["declares_dependency"],
        "posts naming cause": f"{i['posts_naming_cause']:.0%}", "paged alone": i["paged_alone"],
    } for i in cascade["incidents"]])
    st.dataframe(timeline, hide_index=True, width="stretch")
    for official in cascade["evidence"].get("official") or []:
        st.caption(f"{data.markdown_text(official['upstream'])} said at {data.markdown_text(official['started_at'])}: "
                   f"{data.markdown_text(official['title'])} ({data.markdown_text(official.get('status') or '?')})")


def _buttons(cfg: data.AppConfig, viewer, row: pd.Series) -> None:
    alert_id, status = str(row["id"]), str(row["status"])
    cols = st.columns([1, 1, 4])
    acknowledged = status == "acknowledged" or pd.notna(row.get("acknowledged_at"))
    # the main (red) button is the one on-call should press: Acknowledge while the incident is open only
    ack = cols[0].button("Acknowledge", key=f"ack-{alert_id}", type="primary" if status == "open" else "secondary",
                         help="A resolved incident stays resolved; acknowledging it records who reviewed it.",
                         disabled=not viewer.can("ack") or acknowledged)
    res = cols[1].button("Resolve", key=f"resolve-{alert_id}", disabled=not viewer.can("resolve") or status == "resolved")
    try:
        if ack:
            done = actions.acknowledge(data.store(cfg.db), viewer, alert_id, cfg.metric)
        elif res:
            done = actions.resolve(data.store(cfg.db), viewer, alert_id, cfg.metric)
        else:
            return
    except actions.NotAllowed as error:
        st.error(data.markdown_text(error))
        return
    st.cache_data.clear()
    note = " (acknowledged)" if ack and done.status == "resolved" else ""
    st.toast(f"{data.markdown_text(done.id)} is now {done.status}{note}")
    st.rerun()


def _downloads(cfg: data.AppConfig, row: pd.Series) -> None:
    alert_id, service = str(row["id"]), str(row["service"])
    until = row["resolved_at"] if pd.notna(row["resolved_at"]) else data.query(cfg.db, "data_clock").get(service)
    flt = PostFilter(service=service, since=row["opened_at"] - timedelta(hours=1), until=until)
    store, safe = data.store(cfg.db), alert_id.replace(":", "-").replace("/", "-")
    cols = st.columns(3)
    cols[0].download_button("Report (HTML)", lambda: build_report(store, alert_id, metric=cfg.metric).html(), f"{safe}.html",
                            "text/html", key=f"report-html-{alert_id}", on_click="ignore")
    cols[1].download_button("Report (Markdown)", lambda: build_report(store, alert_id, metric=cfg.metric).markdown(), f"{safe}.md",
                            "text/markdown", key=f"report-md-{alert_id}", on_click="ignore")
    cols[2].download_button("Its posts (CSV)", lambda: export_posts(store, flt).to_csv(index=False), f"{safe}-posts.csv",
                            "text/csv", key=f"posts-csv-{alert_id}", on_click="ignore")


def _silences(cfg: data.AppConfig, viewer) -> None:
    st.subheader("Silences")
    active = data.query(cfg.db, "silences")
    if active.empty:
        st.caption("No silences.")
    else:
        st.dataframe(data.for_display(active.drop(columns=["id"])), hide_index=True, width="stretch")
    names = data.query(cfg.db, "services")
    with st.form("silence"):
        cols = st.columns([2, 1, 3])
        service = cols[0].selectbox("Service", names, key="silence_service")
        hours = cols[1].number_input("Hours", min_value=0.25, max_value=168.0, value=1.0, step=0.25, key="silence_hours")
        reason = cols[2].text_input("Reason", key="silence_reason", max_chars=500)
        submitted = st.form_submit_button("Silence notifications", disabled=not viewer.can("silence"))
    if submitted and service:
        try:
            actions.silence(data.store(cfg.db), viewer, service, timedelta(hours=float(hours)), reason)
        except actions.NotAllowed as error:
            st.error(data.markdown_text(error))
            return
        st.cache_data.clear()
        st.toast(f"{data.markdown_text(service)} silenced for {hours:g} h")
        st.rerun()


# The stored per-budget rows of `detector backtest` (computed there, once) and how each is shown here.
_BACKTEST_COLUMNS = {
    "budget": "budget (alerts/week)",
    "caught": "caught",
    "median_lead_ack_minutes": "median lead vs ack (min)",
    "worst_lead_ack_minutes": "worst lead vs ack (min)",
    "median_lead_first_report_minutes": "median lead vs 1st report (min)",
    "worst_lead_first_report_minutes": "worst lead vs 1st report (min)",
    "false_alerts_per_week": "false alerts/week",
    "false_alerts": "false alerts",
}


def _last_backtest(cfg: data.AppConfig) -> None:
    """The latest `detector backtest` summary: what each false-alert budget would have done on that history."""
    st.subheader("Last backtest")
    found = last_backtest(data.store(cfg.db))
    if found is None:
        st.caption("No backtest yet. Run `detector backtest POSTS_FILE --truth INCIDENTS.csv --db DB` "
                   "(see the README) to see what each false-alert budget would have done on your own history.")
        return
    settings = found["settings"] or {}
    st.markdown(
        f"{data.markdown_text(found['posts_file'])} against {data.markdown_text(found['truth_file'])} "
        f"({data.markdown_text(', '.join(found['services']))}), run {data.markdown_text(data.when(found['ran_at']))}. "
        f"An alert within {float(settings.get('margin_minutes', 0)):g} min before an incident's start, or before "
        "its end, catches it; lead is the reference time minus our alert (positive: we were first).")
    rows = pd.DataFrame(found["rows"])
    rows["caught"] = [f"{c} of {n}" for c, n in zip(rows["caught"], rows["incidents"])]
    table = rows[[c for c in _BACKTEST_COLUMNS if c in rows.columns]].rename(columns=_BACKTEST_COLUMNS)
    st.dataframe(data.for_display(table), hide_index=True, width="stretch")
    st.caption(f"Pick the budget whose misses and false alerts you can live with and set it as "
               f"[detection] {data.markdown_text(settings.get('budget_setting', 'false_alerts_per_week'))}.")
