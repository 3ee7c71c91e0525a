"""Which page is showing: a sidebar choice mirrored in the URL (?page=service&service=X) for deep links.

A notification links to ``/?incident=ID``: with no ``page`` given, that opens the Alerts page on that
incident (the page where on-call acts on it and comms reads it).
"""

from __future__ import annotations

import streamlit as st

PAGES = {"overview": "Overview", "service": "Service", "alerts": "Alerts", "explore": "Explore"}


def current_page() -> str:
    """The chosen page; the URL decides on first load, the sidebar afterwards."""
    if "nav" not in st.session_state:
        incident = st.query_params.get("incident")
        wanted = st.query_params.get("page") or ("alerts" if incident else "overview")
        st.session_state["nav"] = wanted if wanted in PAGES else "overview"
        if incident and st.session_state["nav"] == "alerts":
            st.session_state["incident"] = incident
    page = st.sidebar.radio("Page", list(PAGES), format_func=PAGES.get, key="nav")
    if st.query_params.get("page") != page:
        st.query_params["page"] = page
    return page


def show_incident(service: str, alert_id: str) -> None:
    """Button callback: the service page, ranged around one incident."""
    st.session_state.update(nav="service", service=service, range="incident", incident_view=alert_id)


def open_service(name: str) -> None:
    """Button callback: show the service page of ``name``."""
    st.session_state["nav"] = "service"
    st.session_state["service"] = name


def open_incident(alert_id: str) -> None:
    """Button callback: the Alerts page on one incident (what a notification's link opens)."""
    st.session_state["nav"] = "alerts"
    st.session_state["incident"] = alert_id
