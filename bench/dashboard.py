"""How fast each dashboard page is on a 1,000,000-post database: its queries, and its whole render.

    .venv/bin/python bench/dashboard.py [--posts 1000000] [--db bench-dashboard.db] [--keep]

Builds the database with bulk inserts (dashboard.sample: 4 services over 14 days, one open incident),
then for every page times (1) its queries, uncached, and (2) a full first render through
streamlit.testing's AppTest with empty caches, and a second render (warm caches, what the live refresh
costs). The target is every page ready in under 2 s. Prints a table and exits 1 if a page misses it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TARGET_S = 2.0


def page_queries(store, service: str, until, metric: str = "complaint_people", hours: int = 24
                 ) -> dict[str, callable]:
    """What each page asks the database, as the pages ask it (the service page over ``hours``)."""
    from dashboard import explore_queries as e, queries as q

    since = until - timedelta(hours=hours)
    week = e.PostFilter(since=until - timedelta(days=7), until=until)

    def service_page():
        raw = q.buckets(store, service, since, until)
        q.per_minute(raw, since, until, metric)
        q.incidents(store, service, since, until)
        q.official_incidents(store, service, since, until)
        q.facets(store, service, since, until)
        q.representative_posts(store, service, since, until, sample_limit=q.FACET_LIMIT)
        q.rumour_posts(store, service, since, until)

    def alerts_page():
        frame = q.incidents(store, limit=30)
        alert_id = frame["id"].iloc[0]
        q.incident_events(store, alert_id)
        q.deliveries(store, alert_id)
        q.evidence_posts(store, frame["evidence"].iloc[0])
        q.silences(store)

    def explore_page():
        q.services(store)
        e.sources(store)
        e.count_posts(store, week, cap=e.COUNT_CAP)
        e.posts_over_time(store, week)
        e.page_of_posts(store, week, 0, 100)
        e.labelling_queue(store, week, "complaint", 5)

    return {"overview": lambda: q.overview(store, metric), "service": service_page, "alerts": alerts_page,
            "explore": explore_page}


def render(db: Path, page: str, **params: str) -> tuple[float, float, list[str]]:
    """Seconds for a cold render and a warm one, and any exceptions the page raised."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["DETECTOR_DB"] = str(db)
    st.cache_data.clear()
    times = []
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=60)
    at.query_params["page"] = page
    for key, value in params.items():
        at.query_params[key] = value
    for _ in range(2):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    return times[0], times[1], [str(e.value)[:200] for e in at.exception]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=REPO / "bench-dashboard.db")
    parser.add_argument("--keep", action="store_true", help="Keep (and reuse) the database between runs.")
    args = parser.parse_args()
    os.environ.setdefault("DETECTOR_DASHBOARD_REFRESH", "3600")  # a bench run is not a live screen

    from dashboard import sample
    from dashboard import queries as q
    from detector.store.store import Store

    started = time.perf_counter()
    reuse = args.keep and args.db.exists()
    if not reuse:
        sample.build(args.db, posts=args.posts, services=4, days=14)
    built = time.perf_counter() - started
    with Store(args.db) as store:
        n_posts = store.count("posts")
        clock = q.data_clock(store)
        service = "Xfinity"
        timings = {}
        runs = page_queries(store, service, clock[service])
        runs["service 7d"] = page_queries(store, service, clock[service], hours=168)["service"]
        runs["service 24h"] = runs.pop("service")
        for page, run in runs.items():
            run()  # the OS page cache, as on a running server
            t = time.perf_counter()
            run()
            timings[page] = time.perf_counter() - t
    print(f"database: {n_posts:,} posts, {args.db.stat().st_size / 1e6:,.0f} MB "
          f"({'reused' if reuse else f'built in {built:.1f}s'})")
    # Import streamlit's, altair's and the pages' modules once, as a running server already has.
    warm_db = args.db.with_name("bench-dashboard-warmup.db")
    sample.build(warm_db, posts=500)
    for page in ("overview", "service", "alerts", "explore"):
        render(warm_db, page)
    for suffix in ("", "-wal", "-shm"):
        Path(str(warm_db) + suffix).unlink(missing_ok=True)
    print(f"{'page':<12} {'queries':>8} {'render cold':>12} {'render warm':>12}  result")
    failed = False
    for page, params in (("overview", {}), ("service", {"service": service, "range": "24h"}),
                         ("service", {"service": service, "range": "7d"}), ("alerts", {}), ("explore", {})):
        cold, warm, errors = render(args.db, page, **params)
        name = page + (f" {params['range']}" if "range" in params else "")
        ok = not errors and cold < TARGET_S
        failed |= not ok
        queries = timings.get(name, timings.get(page))
        print(f"{name:<12} {queries:>7.2f}s {cold:>11.2f}s {warm:>11.2f}s  {'ok' if ok else 'SLOW' if not errors else errors}")
    if not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
