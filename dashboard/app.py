"""The dashboard's entry point: `streamlit run dashboard/app.py -- --db D [--config C]`.

It sets the page up, lets the access gate decide who is looking, and renders the chosen page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import access, alerts, data, explore, overview, service
from dashboard.nav import current_page

RENDER = {"overview": overview.render, "service": service.render, "alerts": alerts.render, "explore": explore.render}


def main() -> None:
    st.set_page_config(page_title="Outage detector", page_icon="📡", layout="wide")
    cfg = data.app_config()
    viewer = access.gate(st, data.secrets(cfg.secrets_file), data.login_throttle())
    if "://" not in cfg.db and not Path(cfg.db).exists():
        st.error(f"Database {cfg.db} does not exist. Create it with `detector replay` or `detector run`.")
        st.stop()
    page = current_page()
    st.sidebar.caption(f"Signed in as {data.markdown_text(viewer.name)} ({viewer.role})")
    if viewer.role == "oncall" and viewer.name == "local":
        st.sidebar.caption("No password configured: anyone who can reach this port can act.")
    st.sidebar.caption(f"Live: refreshes every {cfg.refresh_seconds:g} s")
    RENDER[page](cfg, viewer)


main()
