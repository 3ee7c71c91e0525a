"""Overview (comms): every watched service, its state and since when, a sparkline, outages first."""

from __future__ import annotations

import streamlit as st

from dashboard import comms, data
from dashboard.charts import metric_name
from dashboard.nav import open_incident, open_service

BADGES = {"outage": "OUTAGE", "elevated": "elevated", "normal": "normal"}


def render(cfg: data.AppConfig, viewer) -> None:
    st.header("Overview")

    @st.fragment(run_every=cfg.refresh_seconds)
    def live() -> None:
        frame = data.query(cfg.db, "overview", cfg.metric)
        if frame.empty:
            st.info("No posts counted yet. Replay a file (`detector replay`) or start `detector run`.")
            return
        down = frame[frame["state"] == "outage"]
        cols = st.columns(3)
        cols[0].metric("Services with an open incident", len(down))
        cols[1].metric("Elevated", int((frame["state"] == "elevated").sum()))
        cols[2].metric("Watched services", len(frame))
        table = frame.assign(
            peak_ratio=[comms.peak_ratio(cfg, str(i)) if state == "outage" else None
                        for i, state in zip(frame["incident"], frame["state"])],
            state=frame["state"].map(BADGES),
            since=frame["since"].map(data.when),
            data_until=frame["data_until"].map(data.when),
        )[["service", "state", "since", "severity", "peak_ratio", "sparkline", "data_until"]]
        st.dataframe(
            data.for_display(table, {"peak_ratio": "{:.1f}"}), hide_index=True, width="stretch",
            column_config={
                "service": "Service", "state": "State", "since": "Since", "severity": "Severity",
                "peak_ratio": "Peak × expected",
                "sparkline": st.column_config.LineChartColumn(f"{metric_name(cfg.metric)} (last 24 h)"),
                "data_until": "Data up to",
            },
        )
        for row in frame[frame["state"] == "outage"].itertuples():  # during an outage: the comms view first
            with st.container(border=True):
                st.markdown(f"**{data.markdown_text(row.service)}: outage since {data.when(row.since)}**")
                comms.headline(cfg, str(row.incident))
                comms.summary(cfg, str(row.incident))
                st.button("Open the incident", key=f"incident-{row.incident}", on_click=open_incident,
                          args=(str(row.incident),))
        st.caption("Open a service:")
        buttons = st.columns(min(len(frame), 6))
        for i, name in enumerate(frame["service"]):
            buttons[i % len(buttons)].button(data.markdown_text(name), key=f"open-{name}", on_click=open_service, args=(name,))

    live()
