import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from detector.records import Post, Verdict
from detector.store import schema
from detector.store.database import _VERSION_TABLES, current_version, create_engine, migrate
from detector.store.store import Store

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
