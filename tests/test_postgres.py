"""The store and the whole pipeline on the real PostgreSQL server: same code as SQLite, by URL.

Each test gets a fresh database (created on the server's ``test`` database, dropped afterwards), so runs
never see each other's rows.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import detector
from detector.cli.main import cli
from detector.records import Post, Verdict
from detector.store import schema
from detector.store.database import _VERSION_TABLES, StoreError, create_engine, current_version, migrate
from detector.store.store import Store
from detector.store.leases import Lease, load_checkpoint

try:
    from tests.conftest import require_service
    from tests.test_pipeline import write_posts
    from tests.test_store import a_version_3_database, schema_versions
except ImportError:  # tests/ run as a plain folder of modules
    from conftest import require_service
    from test_pipeline import write_posts
    from test_store import a_version_3_database, schema_versions

pytestmark = pytest.mark.postgres

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def fresh_database() -> tuple[str, callable]:
    """A new empty database on the server: its URL, and a function that drops it."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"detector_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{SERVER}/{name}", drop


@pytest.fixture
def pg_url():
    url, drop = fresh_database()
    yield url
    drop()


def _post(i: int, minute: int = 0, author: str | None = None) -> Post:
    return Post("test", str(i), T0 + timedelta(minutes=minute, seconds=i), f"post {i} is down", ("S",), author)


def _verdict(post: Post, complaint: bool = True) -> Verdict:
    return Verdict(post.source, post.source_id, complaint, 0.9 if complaint else 0.1)


def test_the_schema_is_created_by_url_and_a_plain_postgresql_url_works(pg_url):
    store = Store(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    assert store.engine.dialect.name == "postgresql" and store.engine.dialect.driver == "psycopg"
    assert store.version == schema.SCHEMA_VERSION
    store.close()
    again = Store(pg_url)  # opening again upgrades nothing and adds no version row
    with again.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.schema_info)).scalar() == schema.SCHEMA_VERSION
    again.close()


def test_an_old_postgresql_database_is_upgraded_in_place(pg_url):
    engine = create_engine(pg_url)
    migrate(engine, target=1)
    with engine.begin() as conn:
        conn.execute(schema.posts.insert().values(source="x", source_id="1", created_at=T0, text="kept",
                                                  person="p", ingested_at=T0))
    assert current_version(engine) == 1
    engine.dispose()
    store = Store(pg_url)
    inspector = sa.inspect(store.engine)
    assert all(inspector.has_table(t) for tables in _VERSION_TABLES.values() for t in tables)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(schema.posts.c.text)).scalar() == "kept"
    store.close()


def test_workers_starting_together_on_a_new_database_create_the_schema_once(pg_url):
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            start.wait()
            Store(pg_url).close()
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    engine = create_engine(pg_url)
    assert schema_versions(engine) == list(range(1, schema.SCHEMA_VERSION + 1))
    inspector = sa.inspect(engine)
    assert inspector.has_table("worker_leases") and inspector.has_table("worker_checkpoints")
    engine.dispose()


def test_a_version_3_postgresql_database_without_the_workers_tables_gains_them(pg_url):
    engine = create_engine(pg_url)
    migrate(engine, target=3)
    assert not sa.inspect(engine).has_table("worker_checkpoints")
    engine.dispose()
    store = Store(pg_url)
    inspector = sa.inspect(store.engine)
    assert inspector.has_table("worker_leases") and inspector.has_table("worker_checkpoints")
    assert schema_versions(store.engine) == list(range(1, schema.SCHEMA_VERSION + 1))
    store.close()


def test_postgresql_workers_tables_made_on_first_use_are_adopted_with_their_rows(pg_url):
    a_version_3_database(pg_url).dispose()
    store = Store(pg_url)
    assert schema_versions(store.engine) == list(range(1, schema.SCHEMA_VERSION + 1))
    assert load_checkpoint(store, "aggregate") == (42, b"\x00state")
    successor = Lease(store, "aggregate", "w2", 10, clock=lambda: T0 + timedelta(minutes=1))
    assert successor.try_acquire() and successor.token == 8
    store.close()


@pytest.mark.parametrize("leases, difference", [
    ({"token": sa.Column("token", sa.Integer, nullable=False)}, "token is INTEGER, expected BIGINT"),
    ({"expires_at": sa.Column("expires_at", sa.DateTime, nullable=False)},
     "expires_at is TIMESTAMP WITHOUT TIME ZONE, expected TIMESTAMP WITH TIME ZONE"),
], ids=["integer", "naive-time"])
def test_a_mismatched_postgresql_workers_table_stops_the_upgrade(pg_url, leases, difference):
    engine = a_version_3_database(pg_url, **leases)
    with pytest.raises(StoreError) as error:
        Store(pg_url)
    assert str(error.value) == ("cannot upgrade the database to schema version 4: table worker_leases already exists "
                                f"and differs from the schema ({difference}); it was left as it is")
    assert current_version(engine) == 3
    engine.dispose()


def test_posts_are_unique_times_aware_and_buckets_recomputed(pg_url):
    store = Store(pg_url)
    posts = [_post(1, author="a"), _post(2, author="a"), _post(3, author="b"), _post(4, minute=1, author="c")]
    verdicts = [_verdict(posts[0]), _verdict(posts[1]), _verdict(posts[2], complaint=False), _verdict(posts[3])]
    assert len(store.add_posts(posts, verdicts).new_ids) == 4
    assert store.add_posts(posts, verdicts).duplicates == 4
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(schema.posts.c.created_at).order_by(schema.posts.c.id)).scalar()
    assert stored == posts[0].created_at and stored.tzinfo is not None
    touched = {"S": {T0, T0 + timedelta(minutes=1)}}
    first = store.recompute_buckets(touched, timedelta(minutes=1))
    assert first == store.recompute_buckets(touched, timedelta(minutes=1))
    assert (first[0].mentions, first[0].complaints, first[0].people, first[0].complaint_people) == (3, 2, 2, 1)
    store.close()


def test_pooled_connections_serve_concurrent_writers_without_double_counting(pg_url):
    store = Store(pg_url)
    posts = [_post(i) for i in range(400)]
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for i in range(offset, 400, 50):  # every thread writes overlapping chunks of the same posts
                chunk = posts[i : i + 100]
                store.add_posts(chunk, [_verdict(p) for p in chunk])
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(k * 10,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert store.count("posts") == 400 and store.count("verdicts") == 400 and store.count("post_services") == 400
    assert store.engine.pool.size() == 5
    store.close()


def _replay(path, db):
    result = CliRunner().invoke(cli, [
        "replay", str(path), "--service", "Xfinity", "--match", "xfinity", "--time-column", "ts",
        "--text-column", "text", "--id-column", "id", "--author-column", "user", "--db", str(db),
        "--classifier", "keywords", "-q",
    ])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_replay_into_postgresql_gives_what_sqlite_gives(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", "a-test-key-of-enough-length")
    path = tmp_path / "posts.csv"
    write_posts(path, burst=True)
    lite = tmp_path / "x.db"
    _replay(path, lite)
    output = _replay(path, pg_url)
    assert "stored" in output and "quarantined 0" in output
    again = _replay(path, pg_url)
    assert "stored 0" in again  # idempotent on PostgreSQL too

    ignore = ["post_id"]
    pd.testing.assert_frame_equal(detector.load_posts(pg_url).drop(columns=ignore),
                                  detector.load_posts(lite).drop(columns=ignore), check_dtype=False)
    pd.testing.assert_frame_equal(detector.load_buckets(pg_url), detector.load_buckets(lite), check_dtype=False)
    pg_alerts, lite_alerts = detector.load_alerts(pg_url), detector.load_alerts(lite)
    assert len(pg_alerts) == 1
    columns = ["id", "service", "opened_at", "resolved_at", "status", "severity", "peak_ratio", "evidence"]
    pd.testing.assert_frame_equal(pg_alerts[columns], lite_alerts[columns], check_dtype=False)
    result = CliRunner().invoke(cli, ["alerts", "--db", pg_url, "--format", "json"])
    assert result.exit_code == 0 and pg_alerts["id"][0] in result.output


def test_a_backtest_into_postgresql_scores_and_stores_what_sqlite_does(pg_url, tmp_path, monkeypatch):
    import json

    from detector.store.backtests import last_backtest
    try:
        from tests.test_backtest_cli import BIG, SMALL, iso, write_posts as write_stream, write_truth
    except ImportError:
        from test_backtest_cli import BIG, SMALL, iso, write_posts as write_stream, write_truth

    monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", "a-test-key-of-enough-length")
    write_stream(tmp_path / "posts.csv")
    truth = write_truth(tmp_path / "incidents.csv", [f"Acme,{iso(BIG)},,", f"Acme,{iso(SMALL)},,"])

    def backtest(db: str) -> dict:
        result = CliRunner().invoke(cli, [
            "backtest", str(tmp_path / "posts.csv"), "--truth", str(truth), "--service", "Acme", "--match",
            "acme cloud", "--id-column", "id", "--author-column", "author", "--classifier", "keywords", "-q",
            "--budgets", "0.5,2", "--format", "json", "--db", db])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    on_pg, on_lite = backtest(pg_url), backtest(str(tmp_path / "x.db"))
    assert on_pg["budgets"] == on_lite["budgets"] and on_pg["per_incident"] == on_lite["per_incident"]
    assert any(row["caught"] for row in on_pg["per_incident"])
    with Store(pg_url) as store:
        assert last_backtest(store)["rows"] == on_pg["budgets"]


def test_an_incidents_comms_facts_on_postgresql_are_sqlites(pg_url, tmp_path, monkeypatch):
    from detector.report import build_report
    from detector.store.store import Store

    monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", "a-test-key-of-enough-length")
    path = tmp_path / "posts.csv"
    write_posts(path, burst=True)
    lite = tmp_path / "x.db"
    _replay(path, lite)
    _replay(path, pg_url)
    incident = detector.load_alerts(lite)["id"][0]
    with Store(lite) as a, Store(pg_url) as b:
        fa, fb = build_report(a, incident).facts, build_report(b, incident).facts
    assert fa.people_total > 0 and fa.peak is not None
    for name in ("peak", "people_total", "people_now", "first_report", "last_report", "symptoms", "rumours", "trend"):
        assert getattr(fa, name) == getattr(fb, name), name
