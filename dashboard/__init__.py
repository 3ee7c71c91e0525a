"""The Streamlit dashboard: comms sees it, on-call acts on it, analysts dig into it.

`detector dashboard --db D` runs ``app.py``; one module per page, reads through ``data`` (cached
``dashboard.queries`` and ``explore_queries``, which shape the rows ``detector/store/`` reads: no SQL here),
writes only through ``actions`` (which checks the viewer's role and calls the store).
"""
