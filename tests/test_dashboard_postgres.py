"""The dashboard's queries and the incident report on the real PostgreSQL server give what SQLite gives."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import pytest
import sqlalchemy as sa


try:
    from tests.conftest import require_service
except ImportError:  # tests/ run as a plain folder of modules
    from conftest import require_service
from dashboard import sample
from dashboard.access import Viewer
from dashboard.actions import acknowledge, save_labels, silence
from dashboard import explore_queries as e, queries as q
from detector.report import build_report
from detector.store import schema
from detector.store.store import Store

pytestmark = pytest.mark.postgres
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same sample in SQLite and in a fresh PostgreSQL database (rows copied table by table)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    built = sample.build(tmp_path_factory.mktemp("pg") / "s.db", posts=1200)
    name = f"detector_dash_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    lite, pg = Store(built.path), Store(f"{SERVER}/{name}")
    try:
        with lite.engine.connect() as src, pg.engine.begin() as dst:
            for table in schema.metadata.sorted_tables:
                if table.name == "schema_info":
                    continue
                rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
                if rows:
                    dst.execute(table.insert(), rows)
                if rows and "id" in table.c and table.c.id.autoincrement is not False and table.name != "alerts":
                    dst.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                        f"(SELECT max(id) FROM {table.name}))"))
        yield built, lite, pg
    finally:
        lite.close()
        pg.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False,
                                  check_exact=False)


def test_service_queries_match(both):
    built, lite, pg = both
    assert q.data_clock(lite) == q.data_clock(pg)
    until = q.data_clock(lite)["Xfinity"]
    since = until - timedelta(hours=24)
    same(q.overview(lite).drop(columns="sparkline"), q.overview(pg).drop(columns="sparkline"))
    same(q.buckets(lite, "Xfinity", since, until), q.buckets(pg, "Xfinity", since, until))
    for limit in (None, 150):
        a, b = q.facets(lite, "Xfinity", since, until, limit=limit), q.facets(pg, "Xfinity", since, until, limit=limit)
        for part in ("symptoms", "claims", "languages", "sources"):
            same(getattr(a, part), getattr(b, part))
    same(q.representative_posts(lite, "Xfinity", since, until), q.representative_posts(pg, "Xfinity", since, until))
    same(q.incidents(lite), q.incidents(pg))
    same(q.deliveries(lite, built.open_incident), q.deliveries(pg, built.open_incident))
    keys = q.incident(lite, built.open_incident)["evidence"]
    same(q.evidence_posts(lite, keys), q.evidence_posts(pg, keys))


def test_explore_queries_match(both):
    _, lite, pg = both
    for flt in (e.PostFilter(), e.PostFilter(service="Xfinity", label="complaint", text="ALERT"),
                e.PostFilter(sources=("reddit",), label="symptom:login")):
        assert e.count_posts(lite, flt) == e.count_posts(pg, flt)
        same(e.page_of_posts(lite, flt, 0, 20), e.page_of_posts(pg, flt, 0, 20))
    assert e.sources(lite) == e.sources(pg)
    same(e.labelling_queue(lite, e.PostFilter()), e.labelling_queue(pg, e.PostFilter()))


def test_report_and_actions_on_postgresql(both):
    built, lite, pg = both
    assert build_report(lite, built.open_incident).markdown() == build_report(pg, built.open_incident).markdown()
    oncall = Viewer("sam", "oncall")
    assert acknowledge(pg, oncall, built.open_incident).status == "acknowledged"
    silence(pg, oncall, "Xfinity", timedelta(hours=1), "maintenance")
    save_labels(pg, oncall, 1, {"complaint": "1", "symptom": "login"})
    assert pg.count("silences") == 1 and pg.count("labels") == 2
