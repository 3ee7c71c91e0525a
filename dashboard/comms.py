"""The comms view of an incident, on one screen: who is reporting it (now and in all) and since when, where
and what, the trend, the rumours with their claim text, verdict and answer, what the provider's status page
says, and the drafted public update to copy or download. Every number is ``detector.comms.facts``'s.

Post text and service names are untrusted: they go through ``st.text``, dataframes (shown as text) or
``markdown_text``; links are shown only for http(s) addresses.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard import data

_HTTP = re.compile(r"^https?://", re.I)


def _safe_link(url: object) -> str | None:
    return url if isinstance(url, str) and _HTTP.match(url) else None


def _found(cfg: data.AppConfig, alert_id: str):
    return data.incident_comms(cfg.db, alert_id, cfg.metric, cfg.claims_file, cfg.templates)


def peak_ratio(cfg: data.AppConfig, alert_id: str) -> float | None:
    """The incident's peak ratio as the cards and the report state it."""
    found = _found(cfg, alert_id)
    return found[0].peak.ratio if found and found[0].peak else None


def headline(cfg: data.AppConfig, alert_id: str) -> None:
    """People now and in all, since when, the trend or when reports stopped: four tiles."""
    found = _found(cfg, alert_id)
    if found is None:
        return
    facts, _ = found
    cols = st.columns(4)
    cols[0].metric("People reporting now", "-" if facts.people_now is None else facts.people_now,
                   help="Distinct people whose posts were complaints in the last 15 minutes of data.")
    cols[1].metric("People in all", facts.people_total,
                   help="Distinct people who complained, from the start of the rise that led to the alert.")
    cols[2].metric("First report (UTC)", data.short_when(facts.first_report or facts.opened_at),
                   help="The first report of the rise that led to the alert.")
    if facts.live:
        cols[3].metric("Trend", facts.trend or "-", help="Last 15 minutes against the 15 before (±20%).")
    else:
        cols[3].metric("Reports stopped (UTC)", data.short_when(facts.last_report),
                       help="The last report; the incident resolved later, after the resolve wait.")


def summary(cfg: data.AppConfig, alert_id: str) -> None:
    """One line each: what (symptoms), where (places), the top rumours with their verdict, the status page."""
    found = _found(cfg, alert_id)
    if found is None:
        return
    facts, _ = found
    symptoms = ", ".join(f"{name} ({n})" for name, n in list(facts.symptoms.items())[:3]) or "none named yet"
    places = facts.where or ", ".join(f"{name} ({n})" for name, n in list((facts.places or {}).items())[:3]) \
        or "no places named"
    rumours = "; ".join(f"{r.text if r.claim else 'not in the claims file: ' + r.example[:80]} "
                        f"({r.verdict or 'no verdict in the claims file'}, {r.posts} posts)"
                        for r in facts.rumours[:2]) or "none"
    official = facts.official[-1] if facts.official else None
    status = f"{official.get('status') or 'posted'}: {official.get('title')}" if official else "nothing recorded"
    st.text(f"What: {symptoms}\nWhere: {places}\nRumours: {rumours}\nStatus page: {status}")


def show(cfg: data.AppConfig, alert_id: str, key: str = "comms") -> None:
    """The whole comms view of one incident."""
    found = _found(cfg, alert_id)
    if found is None:
        st.caption("No such incident.")
        return
    facts, drafted = found
    headline(cfg, alert_id)
    if facts.minutes:
        series = pd.Series([m.value for m in facts.minutes], index=pd.DatetimeIndex([m.start for m in facts.minutes]))
        series = series.resample("1min").sum()  # empty minutes are zero reports, not gaps
        st.line_chart(series.rename(facts.unit), height=160)
    st.text("Peak: " + (facts.peak.describe(facts.unit) if facts.peak else "no counted minutes yet"))
    left, right = st.columns(2)
    with left:
        st.markdown("**Where**")
        if facts.places:
            if facts.where:
                st.text(facts.where)
            st.dataframe(pd.DataFrame(list(facts.places.items()), columns=["place", "people"]),
                         hide_index=True, width="stretch")
        else:
            st.caption("No places named in the reports.")
        st.markdown("**What (symptoms)**")
        if facts.symptoms:
            st.dataframe(pd.DataFrame(list(facts.symptoms.items()), columns=["symptom", "complaints"]),
                         hide_index=True, width="stretch")
        else:
            st.caption("No symptoms named yet.")
    with right:
        st.markdown("**What the provider's status page says**")
        if facts.official:
            for row in facts.official:
                st.text(f"{row.get('status') or 'posted'}: {row.get('title')} (since {data.when(row.get('started_at'))})")
                link = _safe_link(row.get("url"))
                if link:
                    st.link_button("Open the status page", link, key=f"{key}-official-{row.get('started_at')}")
        else:
            st.caption("Nothing recorded from the provider's status page for this incident.")
    st.markdown("**Rumours to answer**")
    if facts.rumours:
        table = pd.DataFrame([{
            "claim": r.text if r.claim else "(not in the claims file)", "verdict": r.verdict or "-",
            "posts": r.posts, "answer": _safe_link(r.reference), "example post": r.example,
            "first seen": data.when(r.first_seen),
        } for r in facts.rumours])
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={"answer": st.column_config.LinkColumn("answer (reference)"),
                                    "example post": st.column_config.TextColumn(width="large")})
    else:
        st.caption("No rumours about this incident.")
    st.markdown("**Drafted public update**")
    st.caption("Filled from the facts above, from the [comms] templates; a sentence without its fact is left "
               "out. The copy button is at the top right of each box.")
    st.markdown("Holding statement")
    st.code(drafted.holding, language=None, wrap_lines=True)
    st.markdown(f"Follow-up ({drafted.follow_up_kind})")
    st.code(drafted.follow_up, language=None, wrap_lines=True)
    safe = alert_id.replace(":", "-").replace("/", "-")
    st.download_button("Download the drafted update (text)", drafted.text(), f"{safe}-update.txt", "text/plain",
                       key=f"{key}-draft-{alert_id}", on_click="ignore")
