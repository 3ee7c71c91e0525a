"""The bus and the coordination pieces on the real Redis and PostgreSQL: publishing once in a dense order,
claiming a dead consumer's messages, bounded streams, backpressure, visible lag, and leases with fencing
(one active alert worker, so each notification is sent once).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis
import sqlalchemy as sa

from detector.alerting.manager import AlertChange
from detector.bus.codec import post_from_json, post_to_json, verdict_from_json, verdict_to_json
from detector.bus.settings import BusSettings
from detector.bus.streams import POSTS, RedisBus
from click.testing import CliRunner

from detector.cli.main import cli
from detector.config import ConfigError, Settings, parse_settings
from detector.records import Alert, Post, Verdict
from detector.store import schema
from detector.alerting.routing import save_changes
from detector.store.store import Store
from detector.workers.alert import AlertWorker
from detector.workers.base import connect
from detector.store.leases import Lease, LeaseLost

try:
    from tests.conftest import require_service
    from tests.test_postgres import fresh_database
except ImportError:  # tests/ run as a plain folder of modules
    from conftest import require_service
    from test_postgres import fresh_database

redis_only = pytest.mark.redis

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=timezone.utc)


def _post(i: int, text: str = "xfinity is down") -> Post:
    return Post("src", str(i), T0 + timedelta(seconds=i), text, ("Xfinity",), author=f"a{i}",
                metadata={"lang_hint": "en"})


@pytest.fixture
def bus_settings():
    require_service("Redis", "127.0.0.1", 6379)
    settings = BusSettings(url="redis://127.0.0.1:6379/0", namespace=f"test-{uuid.uuid4().hex[:10]}",
                           max_in_flight=50, stream_maxlen=200)
    yield settings
    client = redis.Redis(host="127.0.0.1", port=6379)
    for key in client.scan_iter(f"{settings.namespace}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def bus(bus_settings):
    bus = RedisBus(bus_settings)
    bus.ensure_groups()
    yield bus
    bus.redis.close()


@pytest.fixture
def pg_url():
    url, drop = fresh_database()
    yield url
    drop()


def test_records_cross_the_bus_unchanged():
    post = _post(1)
    assert post_from_json(post_to_json(post)) == post
    verdict = Verdict("src", "1", True, 0.93, symptom="outage", symptom_p=0.8, lang="en", confidence=0.7, model="m")
    assert verdict_from_json(verdict_to_json(verdict)) == verdict


@redis_only
def test_each_post_is_published_once_with_a_dense_sequence_in_the_given_order(bus):
    posts = [_post(i) for i in range(10)]
    assert bus.publish_posts(posts[:6]) == 6
    assert bus.publish_posts(posts) == 4  # a re-read batch: only the four new ones go out
    bus.publish_flush(T0 + timedelta(minutes=1), "src")
    messages = bus.read(POSTS, "c1", count=100, block_ms=None)
    assert [m.seq for m in messages] == list(range(1, 12))
    assert [post_from_json(m.fields["body"]).source_id for m in messages[:-1]] == [str(i) for i in range(10)]
    assert messages[-1].kind == "flush" and bus.published() == 11


@redis_only
def test_a_dead_consumers_messages_are_claimed_after_the_idle_timeout(bus):
    bus.publish_posts([_post(i) for i in range(5)])
    held = bus.read(POSTS, "dead", count=3, block_ms=None)  # read and never acknowledged
    assert len(held) == 3
    _, too_soon, _ = bus.claim(POSTS, "alive", min_idle_ms=60_000, count=10)
    assert too_soon == []
    _, claimed, lost = bus.claim(POSTS, "alive", min_idle_ms=0, count=10)
    assert [m.seq for m in claimed] == [1, 2, 3] and lost == []
    consumers = {c["name"]: c["pending"] for c in bus.status()["posts"]["consumers"]}
    assert consumers == {"dead": 0, "alive": 3}
    bus.forward([{"seq": m.seq, "kind": "post", "body": m.fields["body"], "verdict": "{}"} for m in claimed],
                [m.id for m in claimed])
    status = bus.status()
    assert status["posts"]["pending"] == 0 and status["verdicts"]["length"] == 3
    assert status["posts"]["lag"] == 2  # two published posts nobody has read yet: the visible lag


@redis_only
def test_streams_stay_bounded(bus):
    for start in range(0, 1000, 100):
        bus.publish_posts([_post(i) for i in range(start, start + 100)])
        bus.advance_aggregated(bus.published())  # pretend the aggregate keeps up
    length = bus.redis.xlen(bus.key(POSTS))
    assert 200 <= length < 400, length  # MAXLEN ~ trims whole nodes: near the bound, never unbounded


@redis_only
def test_ingest_waits_while_too_many_posts_are_in_flight(bus):
    bus.publish_posts([_post(i) for i in range(40)])
    waits: list[int] = []

    def sleep(_seconds: float) -> None:  # the aggregate catches up while ingest waits
        bus.advance_aggregated(bus.aggregated() + 10)

    bus.wait_for_room(20, sleep=sleep, on_wait=waits.append)
    assert waits == [40]  # 40 in flight + 20 > 50: one wait, after which 30 + 20 fit
    assert bus.in_flight() == 30
    bus.advance_aggregated(5)  # the position never moves back
    assert bus.aggregated() == 10


@pytest.mark.postgres
def test_a_lease_has_one_holder_and_fences_a_replaced_one(pg_url):
    store = Store(pg_url)
    now = [T0]
    clock = lambda: now[0]  # noqa: E731
    first = Lease(store, "alert", "first", 10, clock=clock)
    second = Lease(store, "alert", "second", 10, clock=clock)
    assert first.try_acquire() and not second.try_acquire()
    assert first.renew()
    now[0] += timedelta(seconds=11)  # first stalls past its term
    assert second.try_acquire() and second.token == first.token + 1
    with pytest.raises(LeaseLost):
        with store.engine.begin() as conn:
            first.fence(conn)
    assert not first.held and second.held
    second.release()
    assert first.try_acquire()  # a released lease is free at once
    store.close()


def _pending_notifications(store: Store, numbers: range) -> None:
    changes = []
    for i in numbers:
        alert = Alert(id=f"xfinity-{i}", service="Xfinity", opened_at=T0 + timedelta(hours=i), status="open",
                      severity="major", peak_ratio=9.0, peak_value=9.0, expected=1.0, reason="burst")
        changes.append(AlertChange("opened", alert, alert.opened_at))
    notifications = [(c, "jsonl", {"incident": {"id": c.alert.id}, "kind": c.kind}) for c in changes]
    save_changes(store, changes, notifications)


@pytest.mark.redis
@pytest.mark.postgres
def test_two_alert_workers_send_each_notification_once(pg_url, bus_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", "a-test-key-of-enough-length")
    out = tmp_path / "alerts.jsonl"
    settings = Settings(db=pg_url, alerts={"jsonl": out}, bus=bus_settings)
    now = [datetime.now(timezone.utc)]
    workers = []
    for name in ("alert-a", "alert-b"):
        worker = AlertWorker(connect(settings, bus_settings), name=name, sleep=lambda _s: None)
        worker.lease.clock = lambda: now[0]
        workers.append(worker)
    a, b = workers
    _pending_notifications(a.store, range(3))
    for _ in range(3):
        for worker in workers:
            worker.step()
    assert (a.sent, b.sent) == (3, 0)
    _pending_notifications(a.store, range(3, 5))  # two more incidents
    now[0] += timedelta(seconds=bus_settings.lease_seconds + 1)  # a stalls; b takes over
    b.step()
    a.step()  # a wakes up: its lease is gone, it sends nothing
    assert b.sent == 2 and a.sent == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["incident"]["id"] for line in lines) == [f"xfinity-{i}" for i in range(5)]
    with a.store.engine.connect() as conn:
        assert set(conn.execute(sa.select(schema.outbox.c.status)).scalars()) == {"sent"}
    for worker in workers:
        worker.close()
        worker.conn.close()


def test_the_deployment_page_documents_every_bus_setting(repo):
    page = (repo / "docs" / "deployment.md").read_text()
    missing = [name for name in BusSettings.model_fields if f"`{name}`" not in page]
    assert not missing, f"docs/deployment.md does not mention {missing}"


def test_a_bus_table_is_checked_with_the_rest_of_the_config(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('db = "postgresql+psycopg://d@h/d"\n[bus]\nurl = "redis://h:6379/0"\n')
    assert parse_settings(good.read_text()).bus.url == "redis://h:6379/0"
    with pytest.raises(ConfigError) as error:
        parse_settings('[bus]\nurl = "redis://h/0"\nmax_in_flight = 1000\nstream_maxlen = 1500\n')
    (problem,) = error.value.problems
    assert problem.place == "bus" and "stream_maxlen (1500) must be at least twice" in problem.message


@redis_only
def test_worker_status_shows_lag_and_holdings(bus, tmp_path):
    bus.publish_posts([_post(i) for i in range(3)])
    bus.read(POSTS, "box-a-1", count=2, block_ms=None)
    config = tmp_path / "c.toml"
    config.write_text(f'[bus]\nurl = "{bus.settings.url}"\nnamespace = "{bus.settings.namespace}"\n')
    result = CliRunner().invoke(cli, ["worker", "status", "-c", str(config), "--format", "json"])
    table = CliRunner().invoke(cli, ["worker", "status", "-c", str(config)])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["in_flight"] == 3 and status["posts"]["lag"] == 1 and status["posts"]["pending"] == 2
    assert "box-a-1" in table.output and "in flight 3" in table.output


@pytest.mark.redis
@pytest.mark.postgres
def test_an_unreadable_message_is_quarantined_and_skipped_not_fatal(pg_url, bus_settings, monkeypatch):
    from detector.classify.keywords import KeywordClassifier
    from detector.workers.classify import ClassifyWorker

    settings = Settings(db=pg_url, bus=bus_settings)
    worker = ClassifyWorker(connect(settings, bus_settings), KeywordClassifier(), name="c1")
    bus = worker.bus
    bus.publish_posts([_post(1)])
    bus._append(["src\x1fbroken", "post", "{not json"])
    bus.publish_posts([_post(2)])
    assert worker.step()
    forwarded = bus.read("verdicts", "agg", count=10, block_ms=None)
    assert [(m.seq, m.kind) for m in forwarded] == [(1, "post"), (2, "skip"), (3, "post")]
    assert worker.store.count("posts") == 2
    (row,) = worker.store.quarantined()
    assert row["source"] == "bus" and "undecodable" in row["reason"]
    assert bus.status()["posts"]["pending"] == 0
    worker.conn.close()


@redis_only
def test_consumers_that_hold_nothing_and_went_quiet_are_forgotten(bus):
    bus.publish_posts([_post(i) for i in range(2)])
    bus.read(POSTS, "holds-one", count=1, block_ms=None)
    bus.read(POSTS, "done", count=1, block_ms=None)
    (done,) = [m for m in bus.read(POSTS, "done", count=5, block_ms=None, own_pending=True)]
    bus.ack(POSTS, [done.id])
    assert bus.forget_idle_consumers(POSTS, idle_ms=0) == ["done"]
    assert [c["name"] for c in bus.status()["posts"]["consumers"]] == ["holds-one"]
