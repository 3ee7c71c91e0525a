"""Dashboard polish through AppTest on a real SQLite database: no raw None in any table, the metric in
words, one time format, the main button only where it is the thing to press, a chart caption that
describes what is drawn, a chart on Explore."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.test_dashboard import _clean, no_exceptions, open_page, own_db, shared_db  # noqa: F401 (fixtures)

from detector.store import schema  # noqa: E402
from detector.store.store import Store  # noqa: E402

PAGES = [("overview", {}), ("service", {"service": "Xfinity", "range": "24h"}),
         ("service", {"service": "Xfinity", "range": "incident"}), ("alerts", {}), ("explore", {})]
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")


def _blank(value) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return False


@pytest.mark.parametrize("page,params", PAGES)
def test_no_table_shows_a_raw_none_and_times_have_one_format(shared_db, monkeypatch, page, params):
    at = open_page(shared_db, monkeypatch, page, **params)
    no_exceptions(at)
    assert at.dataframe, "the page shows tables"
    for element in at.dataframe:
        frame: pd.DataFrame = element.value
        for column in frame.columns:
            if column in ("link", "answer", "sparkline"):  # link columns show nothing for no link
                continue
            cells = frame[column].tolist()
            assert not any(_blank(v) or str(v) in ("None", "nan", "NaT") for v in cells), (page, column, cells[:5])
            times = [v for v in cells if isinstance(v, str) and re.match(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d", v)]
            assert all(TIME.match(v) for v in times), (page, column, times[:3])


def test_metric_names_are_words(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "overview")
    no_exceptions(at)
    labels = at.dataframe[0].proto.columns
    assert "people reporting an outage (last 24 h)" in labels and "outage_people" not in labels


def test_acknowledge_is_the_main_button_only_on_an_open_incident(own_db, monkeypatch):
    with Store(own_db.path) as store, store.engine.begin() as conn:
        resolved = conn.execute(schema.alerts.select().where(schema.alerts.c.status == "resolved")).first()
    at = open_page(own_db, monkeypatch, "alerts", incident=own_db.open_incident)
    no_exceptions(at)
    assert at.button(key=f"ack-{own_db.open_incident}").proto.type == "primary"
    assert resolved is not None, "the sample database always has a resolved incident (dashboard/sample.py)"
    at = open_page(own_db, monkeypatch, "alerts", incident=resolved.id)
    no_exceptions(at)
    assert at.button(key=f"ack-{resolved.id}").proto.type == "secondary"


def test_the_chart_caption_describes_only_what_is_drawn(own_db, monkeypatch):
    def caption(at) -> str:
        return next(c.value for c in at.caption if "Grey band" in c.value or "No data" in c.value)

    at = open_page(own_db, monkeypatch, "service", service="Xfinity", range="incident")
    no_exceptions(at)
    with_everything = caption(at)
    assert "Red spans: our incidents." in with_everything
    with Store(own_db.path) as store, store.engine.begin() as conn:
        official = conn.execute(sa_count(schema.official_incidents)).scalar()
        conn.execute(schema.official_incidents.delete())
    assert ("Purple spans" in with_everything) == (official > 0)
    import streamlit as st

    st.cache_data.clear()
    at = open_page(own_db, monkeypatch, "service", service="Xfinity", range="incident")
    assert "Purple" not in caption(at) and "Green dots" not in caption(at)


def sa_count(table):
    import sqlalchemy as sa

    return sa.select(sa.func.count()).select_from(table)


def test_explore_has_a_chart_of_the_selection(shared_db, monkeypatch):
    at = open_page(shared_db, monkeypatch, "explore")
    no_exceptions(at)
    assert len(at.get("vega_lite_chart")) == 1
    assert any(c.value.startswith("Posts and complaints per hour (UTC)") for c in at.caption)


@pytest.mark.postgres
def test_explore_chart_counts_the_same_on_postgresql(tmp_path):
    from click.testing import CliRunner

    from dashboard.explore_queries import PostFilter, posts_over_time
    from detector.cli.main import cli
    from tests.test_postgres import fresh_database

    rows = ["created_at,text,author"] + [f"2026-03-05T{h:02d}:{m:02d}:00Z,acme is down,p{h}{m}"
                                         for h in (13, 14, 16) for m in range(0, 60, 20)]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    url, drop = fresh_database()
    try:
        counts = []
        for db in (url, str(tmp_path / "p.db")):
            result = CliRunner().invoke(cli, ["replay", str(tmp_path / "p.csv"), "--service", "Acme", "--match", "acme",
                                              "--db", db, "--classifier", "keywords", "-q"],
                                        env={"DETECTOR_PSEUDONYM_KEY": "k" * 32})
            assert result.exit_code == 0, result.output
            with Store(db) as store:
                counts.append(posts_over_time(store, PostFilter(service="Acme")))
        assert counts[0]["posts"].tolist() == counts[1]["posts"].tolist() == [3, 3, 0, 3]
        pd.testing.assert_frame_equal(counts[0], counts[1], check_dtype=False)
    finally:
        drop()
