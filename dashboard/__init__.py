"""The Streamlit dashboard: comms sees it, on-call acts on it, analysts dig into it.

`detector dashboard --db D` runs ``app.py``; one module per page, reads through ``data`` (cached
``dashboard.queries``), writes only through ``actions`` (which checks the viewer's role).
"""
