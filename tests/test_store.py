import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from detector.cli.main import cli
from detector.records import Post, Verdict
from detector.store import schema
from detector.store.database import _VERSION_TABLES, StoreError, current_version, create_engine, migrate
from detector.store.store import Store
from detector.store.leases import Lease, load_checkpoint

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def _post(i: int, service: str = "S", minute: int = 0, author: str | None = None) -> Post:
    return Post("test", str(i), T0 + timedelta(minutes=minute, seconds=i), f"post {i} is down", (service,), author)


def _verdict(post: Post, complaint: bool = True) -> Verdict:
    return Verdict(post.source, post.source_id, complaint, 0.9 if complaint else 0.1)


def test_posts_are_unique_on_source_and_id(tmp_path):
    store = Store(tmp_path / "s.db")
    posts = [_post(i) for i in range(5)]
    first = store.add_posts(posts, [_verdict(p) for p in posts])
    again = store.add_posts(posts, [_verdict(p) for p in posts])
    assert len(first.new_ids) == 5 and first.duplicates == 0
    assert again.new_ids == {} and again.duplicates == 5
    assert store.count("posts") == 5 and store.count("verdicts") == 5 and store.count("post_services") == 5


def test_times_come_back_aware_utc(tmp_path):
    store = Store(tmp_path / "s.db")
    post = _post(1)
    store.add_posts([post], [_verdict(post)])
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(schema.posts.c.created_at)).scalar()
    assert stored == post.created_at and stored.tzinfo is not None


def test_bucket_counts_are_recomputed_not_incremented(tmp_path):
    store = Store(tmp_path / "s.db")
    posts = [_post(1, author="a"), _post(2, author="a"), _post(3, author="b"), _post(4, minute=1, author="c")]
    verdicts = [_verdict(posts[0]), _verdict(posts[1]), _verdict(posts[2], complaint=False), _verdict(posts[3])]
    store.add_posts(posts, verdicts)
    touched = {"S": {T0, T0 + timedelta(minutes=1)}}
    first = store.recompute_buckets(touched, timedelta(minutes=1))
    second = store.recompute_buckets(touched, timedelta(minutes=1))
    assert first == second
    minute0 = first[0]
    assert (minute0.mentions, minute0.complaints, minute0.people, minute0.complaint_people) == (3, 2, 2, 1)
    assert store.count("buckets") == 2


def test_an_old_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(path)
    migrate(engine, target=1)
    with engine.begin() as conn:
        conn.execute(schema.posts.insert().values(
            source="x", source_id="1", created_at=T0, text="kept", person="p", ingested_at=T0))
    assert current_version(engine) == 1
    assert not sa.inspect(engine).has_table("labels")
    engine.dispose()

    store = Store(path)
    assert store.version == schema.SCHEMA_VERSION
    inspector = sa.inspect(store.engine)
    for tables in _VERSION_TABLES.values():
        for table in tables:
            assert inspector.has_table(table), table
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(schema.posts.c.text)).scalar() == "kept"


def worker_tables_made_on_first_use(metadata: sa.MetaData, **leases: sa.Column | None) -> sa.MetaData:
    """worker_leases and worker_checkpoints as releases before schema version 4 declared them (in
    detector/workers/coordination.py) and created on a worker's first start. ``leases`` replaces columns of
    worker_leases, adds them, or (None) drops them, to make a table the upgrade must refuse."""
    lease_columns = {
        "role": sa.Column("role", sa.String(64), primary_key=True),
        "holder": sa.Column("holder", sa.String(200), nullable=False),
        "token": sa.Column("token", sa.BigInteger, nullable=False),
        "expires_at": sa.Column("expires_at", schema.UTCDateTime, nullable=False),
        "acquired_at": sa.Column("acquired_at", schema.UTCDateTime, nullable=False),
    }
    for name, column in leases.items():  # copied: a Column belongs to one table, and a parameter can run again
        lease_columns[name] = None if column is None else sa.Column(
            column.name, column.type, nullable=column.nullable, primary_key=column.primary_key)
    sa.Table("worker_leases", metadata, *(c for c in lease_columns.values() if c is not None))
    sa.Table(
        "worker_checkpoints",
        metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("updated_at", schema.UTCDateTime, nullable=False),
    )
    return metadata


def a_version_3_database(db: str | Path, **leases: sa.Column | None) -> sa.Engine:
    """A database at schema version 3 whose workers already made their tables the old way, on first use,
    and wrote a lease and a checkpoint."""
    engine = create_engine(db)
    migrate(engine, target=3)
    old = worker_tables_made_on_first_use(sa.MetaData(), **leases)
    with engine.begin() as conn:
        old.create_all(conn)
        if not leases:
            conn.execute(old.tables["worker_leases"].insert().values(
                role="aggregate", holder="w1", token=7, expires_at=T0, acquired_at=T0))
            conn.execute(old.tables["worker_checkpoints"].insert().values(
                name="aggregate", position=42, state=b"\x00state", token=7, updated_at=T0))
    assert current_version(engine) == 3
    return engine


def schema_versions(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(schema.schema_info.c.version).order_by(schema.schema_info.c.version))
                    .scalars())


def test_a_new_database_has_the_workers_tables_at_version_4(tmp_path):
    store = Store(tmp_path / "new.db")
    assert store.version == schema.SCHEMA_VERSION >= 4
    inspector = sa.inspect(store.engine)
    assert inspector.has_table("worker_leases") and inspector.has_table("worker_checkpoints")
    assert Lease(store, "alert", "w1", 10).try_acquire()  # no worker set-up step needed
    assert load_checkpoint(store, "aggregate") == (0, None)


def test_a_version_3_database_without_the_workers_tables_gains_them(tmp_path):
    engine = create_engine(tmp_path / "v3.db")
    migrate(engine, target=3)
    assert not sa.inspect(engine).has_table("worker_leases")
    engine.dispose()
    store = Store(tmp_path / "v3.db")
    inspector = sa.inspect(store.engine)
    assert inspector.has_table("worker_leases") and inspector.has_table("worker_checkpoints")
    assert schema_versions(store.engine) == list(range(1, schema.SCHEMA_VERSION + 1))


def test_workers_tables_made_on_first_use_are_adopted_with_their_rows(tmp_path):
    a_version_3_database(tmp_path / "v3.db").dispose()
    store = Store(tmp_path / "v3.db")
    assert schema_versions(store.engine) == list(range(1, schema.SCHEMA_VERSION + 1))
    assert load_checkpoint(store, "aggregate") == (42, b"\x00state")
    successor = Lease(store, "aggregate", "w2", 10, clock=lambda: T0 + timedelta(minutes=1))
    assert successor.try_acquire() and successor.token == 8  # the old lease expired: its token is fenced off


def test_a_version_4_database_gains_the_backtests_table_and_keeps_its_rows(tmp_path):
    engine = create_engine(tmp_path / "v4.db")
    migrate(engine, target=4)
    with engine.begin() as conn:
        conn.execute(schema.source_cursors.insert().values(source="replay", cursor="7", updated_at=T0))
    assert not sa.inspect(engine).has_table("backtests")
    engine.dispose()
    store = Store(tmp_path / "v4.db")
    assert sa.inspect(store.engine).has_table("backtests")
    assert schema_versions(store.engine)[:5] == [1, 2, 3, 4, 5]
    assert store.cursor("replay") == "7"


@pytest.mark.parametrize("leases, difference", [
    ({"token": sa.Column("token", sa.Integer, nullable=False)}, "token is INTEGER, expected BIGINT"),
    ({"holder": sa.Column("holder", sa.String(100), nullable=False)}, "holder is VARCHAR(100), expected VARCHAR(200)"),
    ({"holder": sa.Column("holder", sa.String(200))}, "holder is nullable, expected NOT NULL"),
    ({"acquired_at": None}, "no column acquired_at"),
    ({"note": sa.Column("note", sa.Text)}, "extra column note"),
    ({"role": sa.Column("role", sa.String(64), nullable=False)}, "primary key is (), expected (role)"),
], ids=["type", "length", "nullable", "missing", "extra", "primary-key"])
def test_a_mismatched_workers_table_stops_the_upgrade_with_a_one_line_error(tmp_path, leases, difference):
    engine = a_version_3_database(tmp_path / "v3.db", **leases)
    columns = sa.inspect(engine).get_columns("worker_leases")
    with pytest.raises(StoreError) as error:
        Store(tmp_path / "v3.db")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("cannot upgrade the database to schema version 4: table worker_leases already exists")
    assert difference in message
    assert current_version(engine) == 3  # left as it was, for a person to decide
    assert repr(sa.inspect(engine).get_columns("worker_leases")) == repr(columns)
    engine.dispose()


def test_the_cli_names_the_mismatched_table_in_one_line(tmp_path):
    a_version_3_database(tmp_path / "v3.db", token=sa.Column("token", sa.Integer, nullable=False)).dispose()
    result = CliRunner().invoke(cli, ["alerts", "--db", str(tmp_path / "v3.db")])
    assert result.exit_code == 1
    assert result.stderr == ("error: cannot upgrade the database to schema version 4: table worker_leases already "
                             "exists and differs from the schema (token is INTEGER, expected BIGINT); it was left "
                             "as it is\n")


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = Store(tmp_path / "s.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_a_reader_process_can_query_while_a_writer_writes(tmp_path):
    path = tmp_path / "busy.db"
    Store(path).close()
    writer = textwrap.dedent(f"""
        import sys
        from datetime import datetime, timedelta, timezone
        from detector.records import Post, Verdict
        from detector.store.store import Store
        store = Store({str(path)!r})
        t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
        print("ready", flush=True)
        for batch in range(60):
            posts = [Post("w", f"{{batch}}-{{i}}", t0 + timedelta(seconds=batch * 100 + i), "x down", ("S",))
                     for i in range(100)]
            store.add_posts(posts, [Verdict(p.source, p.source_id, True, 0.9) for p in posts])
        print("done", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    reader = Store(path)
    counts = []
    while process.poll() is None:
        counts.append(reader.count("posts"))  # raises "database is locked" if readers block on the writer
    assert process.wait(timeout=60) == 0
    counts.append(reader.count("posts"))
    assert counts[-1] == 6000
    assert counts == sorted(counts)


def test_an_incident_row_is_written_whole_and_rewritten_keeping_an_acknowledgement(tmp_path):
    """The incident upsert is built once with its values bound at execution (issue 17): it must still
    write every column of the row, overwrite them on the next change, and keep on-call's acknowledgement
    when the detector writes the incident as open again."""
    from dataclasses import replace

    from detector.records import Alert
    from detector.store.alerts import load_alerts, record_change, set_status

    store = Store(tmp_path / "db.sqlite")
    at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    alert = Alert(id="X-1", service="X", opened_at=at, status="open", severity="minor", peak_ratio=2.5,
                  peak_value=7.0, expected=2.0, reason="volume", evidence=("a:1", "b:2"), updated_at=at)
    with store.transaction() as conn:
        record_change(conn, alert, "opened", at)
    assert load_alerts(store) == [alert]
    grown = replace(alert, severity="major", peak_ratio=6.0, peak_value=15.0, evidence=("c:3",),
                    updated_at=at + timedelta(minutes=3))
    with store.transaction() as conn:
        record_change(conn, grown, "updated", grown.updated_at)
    assert load_alerts(store) == [grown]
    set_status(store, "X-1", "acknowledged", at + timedelta(minutes=4))
    with store.transaction() as conn:
        record_change(conn, replace(grown, peak_ratio=8.0), "updated", at + timedelta(minutes=5))
    [stored] = load_alerts(store)
    assert (stored.status, stored.peak_ratio) == ("acknowledged", 8.0)
    with store.engine.connect() as conn:
        events = [r.kind for r in conn.execute(sa.select(schema.alert_events.c.kind).order_by(schema.alert_events.c.id))]
    assert events == ["opened", "acknowledged"]  # an update writes the row, not an event
