"""The dashboard's read-only queries on a real SQLite database: states, series, facets, exploring."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from dashboard import sample
from dashboard.access import Viewer
from dashboard.actions import save_labels
from dashboard.data import markdown_text
from dashboard import explore_queries as e, queries as q
from detector.store.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> sample.Sample:
    return sample.build(tmp_path_factory.mktemp("q") / "q.db", posts=3000)


@pytest.fixture
def store(built):
    with Store(built.path) as s:
        yield s


def test_data_clock_is_the_end_of_the_newest_bucket(store, built):
    clock = q.data_clock(store)
    assert set(clock) == {"Xfinity", "ChatGPT"}
    assert clock["Xfinity"] <= built.end and clock["Xfinity"] > built.end - timedelta(minutes=5)


def test_overview_states(store, built):
    frame = q.overview(store)
    first = frame.iloc[0]
    assert (first["service"], first["state"], first["incident"]) == ("Xfinity", "outage", built.open_incident)
    assert frame.iloc[1]["state"] in ("normal", "elevated")


def test_per_minute_averages_long_ranges_over_their_minutes():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    frame = pd.DataFrame({"start": pd.to_datetime([start, start + timedelta(minutes=1)], utc=True),
                          "mentions": [10, 20], "complaints": [5, 5], "complaint_people": [3, 3], "people": [1, 1],
                          "expected": [1.0, 3.0], "upper": [2.0, 4.0]})
    series = q.per_minute(frame, start, start + timedelta(days=2), "complaint_people")
    assert len(series) == 1  # one 30-minute step
    row = series.iloc[0]
    assert row["mentions"] == pytest.approx(1.0) and row["metric"] == pytest.approx(0.2)  # 30 / 30 min, 6 / 30 min
    assert row["expected"] == pytest.approx(2.0)
    fine = q.per_minute(frame, start, start + timedelta(hours=1), "complaints")
    assert fine["metric"].tolist()[:3] == [5.0, 5.0, 0.0] and len(fine) == 60


def test_facets_sampled_estimate_the_exact_counts(store, built):
    until = q.data_clock(store)["Xfinity"]
    since = until - timedelta(hours=48)
    exact = q.facets(store, "Xfinity", since, until, limit=None)
    estimate = q.facets(store, "Xfinity", since, until, limit=400)
    assert exact.sampled == 1.0 and estimate.sampled < 0.7
    assert exact.posts == pytest.approx(estimate.posts, rel=1e-9)  # scaled to the buckets' exact total
    assert exact.symptoms["posts"].sum() == pytest.approx(estimate.symptoms["posts"].sum(), rel=0.35)
    assert set(exact.claims["claim"]) >= set(estimate.claims["claim"])
    assert exact.languages["posts"].sum() == exact.posts


def test_claims_velocity_and_first_sighting(store):
    until = q.data_clock(store)["Xfinity"]
    claims = q.claims(store, "Xfinity", until - timedelta(hours=3), until)
    assert not claims.empty
    assert (claims["first_seen"] <= claims["last_seen"]).all()
    assert (claims["per_hour"] >= 0).all()


def test_representative_posts_are_distinct_and_linked(store):
    until = q.data_clock(store)["Xfinity"]
    posts = q.representative_posts(store, "Xfinity", until - timedelta(hours=24), until)
    assert posts["text"].iloc[0].startswith("<script>")
    assert posts["text"].map(lambda t: t.casefold()).is_unique and posts["author"].is_unique
    assert posts["link"].iloc[0].startswith("https://")


@pytest.mark.parametrize("url, expected", [
    ("javascript:alert(1)", None), ("https://example.com/p/1", "https://example.com/p/1"),
    ("data:text/html,x", None),
])
def test_links_are_http_only(url, expected):
    assert q.source_link("forum", "1", url) == expected


def test_text_search_treats_wildcards_literally(store):
    assert e.count_posts(store, e.PostFilter(text="%")) == 0
    assert e.count_posts(store, e.PostFilter(text="<script>")) == 1
    assert e.count_posts(store, e.PostFilter(text="ALERT(1)")) == 2  # case-insensitive
    with pytest.raises(ValueError):
        e.PostFilter(label="nonsense")


def test_filters_compose_and_counts_cap(store):
    everything = e.count_posts(store, e.PostFilter())
    assert everything == 3000
    assert e.count_posts(store, e.PostFilter(), cap=100) == 101
    xfinity = e.count_posts(store, e.PostFilter(service="Xfinity"))
    complaints = e.count_posts(store, e.PostFilter(service="Xfinity", label="complaint"))
    twitter = e.count_posts(store, e.PostFilter(service="Xfinity", sources=("twitter",)))
    assert 0 < complaints < xfinity < everything and 0 < twitter < xfinity
    page = e.page_of_posts(store, e.PostFilter(service="Xfinity"), page=1, size=50)
    assert len(page) == 50 and page["created_at"].is_monotonic_decreasing
    assert len(e.export_posts(store, e.PostFilter(service="Xfinity", label="complaint"))) == complaints


def test_labelling_queue_is_least_certain_first_and_skips_labelled(built, tmp_path):
    with Store(built.path) as store:
        queue = e.labelling_queue(store, e.PostFilter(service="ChatGPT"), size=3)
        distances = (queue["complaint_p"] - 0.5).abs().tolist()
        assert distances == sorted(distances)
        first = int(queue["post_id"].iloc[0])
        save_labels(store, Viewer("ana", "analyst"), first, {"complaint": "0"})
        again = e.labelling_queue(store, e.PostFilter(service="ChatGPT"), size=3)
        assert first not in again["post_id"].tolist()
        assert e.labels(store, [first])["label"].tolist() == ["0"]
        save_labels(store, Viewer("ana", "analyst"), first, {"complaint": "1"})  # replaces, not duplicates
        assert e.labels(store, [first])["label"].tolist() == ["1"]


def test_markdown_text_is_inert():
    out = markdown_text("<b>[x](javascript:1)</b> *bold*")
    assert "<" not in out and "\\[" in out and "\\*" in out


def test_per_minute_fills_empty_minutes_with_zero():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    frame = pd.DataFrame({"start": pd.to_datetime([start, start + timedelta(minutes=3)], utc=True),
                          "mentions": [2, 4], "complaints": [1, 1], "complaint_people": [1, 1], "people": [1, 1],
                          "expected": [0.5, 0.5], "upper": [2.0, 2.0]})
    series = q.per_minute(frame, start, start + timedelta(minutes=5), "mentions")
    assert series["metric"].tolist() == [2.0, 0.0, 0.0, 4.0, 0.0]
    assert series["start"].iloc[1] == pd.Timestamp(start + timedelta(minutes=1))


def _store_with_minutes(path: Path, counts: dict[datetime, tuple[int, float]]) -> Store:
    """A store whose only buckets are ``counts`` (one-minute buckets of one service: count and the
    expected value the detector recorded)."""
    from detector.store import schema

    store = Store(path)
    rows = [dict(service="isp", start=start, width_s=60, mentions=n, complaints=n, misinformation=0, people=n,
                 complaint_people=n, expected=expected, upper=expected * 3, score=0.5)
            for start, (n, expected) in counts.items()]
    with store.engine.begin() as conn:
        conn.execute(schema.buckets.insert(), rows)
    return store


def test_the_charts_usual_line_is_what_the_detector_recorded(tmp_path):
    """The chart's expected (usual) line is the value the detector stored for each minute it judged, not a
    mean of earlier days recomputed by the dashboard: a day whose same hours were busy the week before
    shows the detector's number, whatever those earlier days held."""
    day0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    counts = {day0 + timedelta(minutes=m): (1, 0.25) for m in range(0, 8 * 1440, 10)}
    busy = day0 + timedelta(days=5, hours=14)
    counts.update({busy + timedelta(minutes=m): (9, 0.25) for m in range(60)})  # an earlier day's burst
    day8 = day0 + timedelta(days=7)
    counts.update({day8 + timedelta(hours=15, minutes=m): (1, 0.5 + m / 100) for m in range(0, 60, 10)})
    with _store_with_minutes(tmp_path / "u.db", counts) as store:
        since, until = day8 + timedelta(hours=14), day8 + timedelta(hours=16)
        series = q.per_minute(q.buckets(store, "isp", since, until), since, until, "complaint_people")
        assert "usual" not in series  # one line, the detector's, not a second re-computed one
        judged = series.dropna(subset=["expected"]).set_index("start")
        stored = {pd.Timestamp(at): expected for at, (_, expected) in counts.items() if since <= at < until}
        assert {at: row.expected for at, row in judged.iterrows()} == pytest.approx(stored)
        assert judged["upper"].tolist() == pytest.approx([3 * e for e in stored.values()])
        day = q.per_minute(q.buckets(store, "isp", day8, day8 + timedelta(days=1)), day8, day8 + timedelta(days=1),
                           "complaint_people")  # 5-minute steps: the mean of the minutes it judged
        assert day["expected"].max() == pytest.approx(max(0.5 + m / 100 for m in range(0, 60, 10)))
        assert day["expected"].min() == pytest.approx(0.25)


def test_the_labelling_queue_shows_a_copied_text_once(tmp_path):
    """Five people posting the same words (and one post about two services) ask for one label, not five."""
    from datetime import datetime, timedelta, timezone

    from detector.records import Post, Verdict

    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    posts = [Post("replay", f"c{i}", at + timedelta(seconds=i), "Lumen Bank is shutting down, that's why the app "
                  "is offline" + (" " if i % 2 else ""), ("Lumen", "Other"), author=f"a{i}") for i in range(5)]
    posts.append(Post("replay", "x", at, "lumen app crashed on login", ("Lumen",), author="b"))
    verdicts = [Verdict("replay", p.source_id, True, 0.5 + i / 100, False, 0.1) for i, p in enumerate(posts)]
    with Store(tmp_path / "dupes.db") as store:
        store.add_posts(posts, verdicts)
        for flt in (e.PostFilter(service="Lumen"), e.PostFilter()):
            queue = e.labelling_queue(store, flt, size=5)
            assert len(queue) == 2 and queue["post_id"].is_unique, queue[["post_id", "text"]]


def test_the_one_evidence_query_keeps_the_order_asked_each_key_once(store, built):
    """``detector.store.posts.evidence_posts`` (what notifications and the alerts page both read): the
    stored posts of the keys in the order given, a repeated key once, an unknown or malformed key left out;
    the page shows them oldest first."""
    from detector.store.posts import evidence_posts

    keys = list(q.incident(store, built.open_incident)["evidence"])
    asked = [keys[2], keys[0], "nowhere:1", keys[2], "no-colon", keys[1]]
    rows = evidence_posts(store, asked)
    assert [f"{r['source']}:{r['source_id']}" for r in rows] == [keys[2], keys[0], keys[1]]
    assert set(rows[0]) >= {"post_id", "created_at", "text", "author", "url", "complaint_p", "symptom", "claim"}
    page = q.evidence_posts(store, asked)
    assert page["created_at"].is_monotonic_increasing and len(page) == 3 and "link" in page


def test_bulk_load_takes_only_the_schemas_names(tmp_path):
    """The sample's bulk load builds its INSERT from table and column names: only the schema's are taken."""
    from detector.store.bulk import load_sqlite

    with pytest.raises(ValueError, match="no table"):
        load_sqlite(tmp_path / "a.db", [("posts; DROP TABLE posts", ("id",), [])])
    with pytest.raises(ValueError, match="no column"):
        load_sqlite(tmp_path / "b.db", [("posts", ("id", 'text") VALUES (1, 2); --'), [])])
    load_sqlite(tmp_path / "c.db", [("silences", ("service", "starts_at", "ends_at", "created_at"),
                                     [("Acme", "2026-01-01 00:00:00.000000", "2026-01-01 01:00:00.000000",
                                       "2026-01-01 00:00:00.000000")])])
    with Store(tmp_path / "c.db") as store:
        assert q.silences(store)["service"].tolist() == ["Acme"]
