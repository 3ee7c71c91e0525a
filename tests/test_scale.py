"""The distributed detector (PostgreSQL + Redis Streams, one process per worker) gives exactly what the
single process on SQLite gives: the same posts, buckets and incidents, each incident notified once, even
when a classify worker is SIGKILLed mid-stream or Redis restarts mid-run.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import redis
import sqlalchemy as sa
from click.testing import CliRunner

import detector
from detector.bus.settings import BusSettings
from detector.bus.streams import RedisBus
from detector.cli.main import cli
from detector.store import schema
from detector.store.store import Store

try:
    from tests.conftest import REPO, require_service
    from tests.test_postgres import fresh_database
except ImportError:  # tests/ run as a plain folder of modules
    from conftest import REPO, require_service
    from test_postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=timezone.utc)
KEY = "scale-test-pseudonym-key"
CHATTER = ["love the new {s} app", "{s} has a good lineup tonight", "switching to {s} mobile", "{s} ad again lol"]
COMPLAINTS = ["{s} internet is down again", "is {s} down for anyone else?", "{s} outage in my area",
              "no internet {s} not working"]


def write_posts(path: Path, *, hours: float = 2.5, seed: int = 11) -> int:
    """A few hours of two services' chatter (a post every few seconds) with one burst of complaints each."""
    rng = random.Random(seed)
    rows = []
    moment = T0
    while moment < T0 + timedelta(hours=hours):
        moment += timedelta(seconds=rng.expovariate(1 / 4))
        service = rng.choice(["xfinity", "verizon"])
        text = rng.choice(COMPLAINTS if rng.random() < 0.2 else CHATTER).format(s=service)
        rows.append((moment, text, f"user{rng.randrange(3000)}"))
    for service, at in (("xfinity", T0 + timedelta(hours=1, minutes=10)), ("verizon", T0 + timedelta(hours=1, minutes=50))):
        for i in range(60):
            rows.append((at + timedelta(seconds=8 * i + rng.random() * 5), rng.choice(COMPLAINTS).format(s=service),
                         f"burst-{service}-{i}"))
    rows.sort()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "ts", "text", "user"])
        for n, (moment, text, user) in enumerate(rows, start=1):
            writer.writerow([n, moment.isoformat().replace("+00:00", "Z"), text, user])
    return len(rows)


def write_config(path: Path, *, db: str, data: Path, alerts: Path, bus: str | None, namespace: str) -> Path:
    text = f"""
db = "{db}"

[[services]]
name = "Xfinity"
match = ["xfinity"]

[[services]]
name = "Verizon"
match = ["verizon"]

[[sources]]
type = "replay"
name = "archive"
path = "{data}"
time_column = "ts"
text_column = "text"
id_column = "id"
author_column = "user"

[classifier]
kind = "keywords"

[detection]
# The test is about equality, not about tuning: alert on the first significant minute.
warmup_minutes = 30
min_duration_minutes = 0

[alerts]
resolve_after_minutes = 20
jsonl = "{alerts}"
"""
    if bus:
        text += f"""
[bus]
url = "{bus}"
namespace = "{namespace}"
batch_size = 40
claim_idle_seconds = 2
lease_seconds = 3
max_in_flight = 1500
stream_maxlen = 4000
"""
    path.write_text(text)
    return path


class Workers:
    """Worker processes started as a user would (`detector worker ROLE -c CONFIG`), logs in a folder."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "DETECTOR_PSEUDONYM_KEY": KEY, "PYTHONPATH": str(REPO)}

    def start(self, role: str, name: str, *extra: str) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "detector.cli.main", "worker", role, "-c", str(self.config), "--name", name, *extra],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.logs,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(condition, timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def pg_url():
    url, drop = fresh_database()
    yield url
    drop()


@pytest.fixture
def namespace():
    require_service("Redis", "127.0.0.1", 6379)
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis(host="127.0.0.1", port=6379)
    for key in client.scan_iter(f"{name}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, Path]:
    """The data, and the reference run: `detector replay` of it in one process into SQLite."""
    folder = tmp_path_factory.mktemp("single")
    data = folder / "posts.csv"
    write_posts(data)
    db = folder / "single.db"
    config = write_config(folder / "single.toml", db=str(db), data=data, alerts=folder / "single-alerts.jsonl",
                          bus=None, namespace="-")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DETECTOR_PSEUDONYM_KEY", KEY)
        result = CliRunner().invoke(cli, ["replay", str(data), "-c", str(config), "-q"])
    assert result.exit_code == 0, result.output
    return data, db


def assert_same_results(distributed: str, single: Path) -> None:
    posts_d = detector.load_posts(distributed).drop(columns=["post_id"]).sort_values(["created_at", "source_id"])
    posts_s = detector.load_posts(single).drop(columns=["post_id"]).sort_values(["created_at", "source_id"])
    pd.testing.assert_frame_equal(posts_d.reset_index(drop=True), posts_s.reset_index(drop=True), check_dtype=False)
    pd.testing.assert_frame_equal(detector.load_buckets(distributed), detector.load_buckets(single), check_dtype=False)
    alerts_d, alerts_s = detector.load_alerts(distributed), detector.load_alerts(single)
    columns = ["id", "service", "opened_at", "updated_at", "resolved_at", "status", "severity", "peak_at",
               "peak_value", "peak_expected", "peak_ratio", "severity_ratio", "reason", "evidence"]
    assert len(alerts_s) >= 2, "the data should open an incident per service"
    pd.testing.assert_frame_equal(alerts_d[columns], alerts_s[columns], check_dtype=False)
    events = sa.select(schema.alert_events.c.alert_id, schema.alert_events.c.at, schema.alert_events.c.kind)
    with Store(distributed).engine.connect() as a, Store(single).engine.connect() as b:
        assert sorted(a.execute(events).all()) == sorted(b.execute(events).all())


def all_delivered(db: str) -> bool:
    """True once the outbox has rows and every one is sent (printing the statuses, for a timeout's log)."""
    with Store(db) as store, store.engine.connect() as conn:
        statuses = Counter(conn.execute(sa.select(schema.outbox.c.status)).scalars())
        alerts = conn.execute(sa.select(sa.func.count()).select_from(schema.alerts)).scalar()
    print(f"outbox {dict(statuses)}, incidents {alerts}")
    return bool(statuses) and set(statuses) == {"sent"}


def test_three_classify_workers_one_killed_give_the_single_process_results(tmp_path, pg_url, namespace, reference):
    data, single = reference

    alerts = tmp_path / "alerts.jsonl"
    config = write_config(tmp_path / "workers.toml", db=pg_url, data=data, alerts=alerts,
                          bus="redis://127.0.0.1:6379/0", namespace=namespace)
    bus = RedisBus(BusSettings(url="redis://127.0.0.1:6379/0", namespace=namespace))
    workers = Workers(config, tmp_path)
    try:
        victim = workers.start("classify", "victim")
        workers.start("classify", "classify-2")
        workers.start("classify", "classify-3")
        workers.start("aggregate", "aggregate-1")
        workers.start("aggregate", "aggregate-2")  # a standby: must not change anything
        workers.start("alert", "alert-1")
        workers.start("alert", "alert-2")  # two alert workers: still one notification per incident event
        wait_until(lambda: all("started" in workers.log(n) for n in workers.processes), 180, "workers to start")
        ingest = workers.start("ingest", "ingest")

        held = 0
        def victim_holds_messages() -> bool:
            nonlocal held
            pending = bus.redis.xpending_range(bus.key("posts"), "classify", "-", "+", 1000, "victim")
            if not pending:
                return False
            os.kill(victim.pid, signal.SIGSTOP)  # freeze it holding them, then make sure it still does
            held = len(bus.redis.xpending_range(bus.key("posts"), "classify", "-", "+", 1000, "victim"))
            if held:
                os.kill(victim.pid, signal.SIGKILL)
                return True
            os.kill(victim.pid, signal.SIGCONT)
            return False

        wait_until(victim_holds_messages, 60, "the victim to hold unacknowledged messages", every=0.001)
        victim.wait(timeout=10)
        # Then the active aggregate dies mid-run too: the standby resumes from its checkpoint.
        wait_until(lambda: bus.aggregated() >= 800, 60, "the aggregate to be under way", every=0.01)
        with Store(pg_url).engine.connect() as conn:
            active = conn.execute(sa.text("SELECT holder FROM worker_leases WHERE role = 'aggregate'")).scalar()
        workers.processes[active].kill()
        assert ingest.wait(timeout=120) == 0, workers.log("ingest")
        wait_until(lambda: bus.published() > 0 and bus.aggregated() == bus.published(), 120,
                   "the aggregate to apply every published post")
        wait_until(lambda: all_delivered(pg_url), 60, "every notification to be delivered")
    finally:
        workers.stop_all()

    assert held > 0
    standby = "aggregate-2" if active == "aggregate-1" else "aggregate-1"
    assert "active from sequence 0" in workers.log(active)
    assert re.search(r"active from sequence [1-9]", workers.log(standby)), workers.log(standby)
    claimed = [line for name in ("classify-2", "classify-3") for line in workers.log(name).splitlines() if "claimed" in line]
    assert claimed, "the killed worker's messages must be claimed by the others"
    status = bus.status()
    assert status["in_flight"] == 0 and status["posts"]["pending"] == 0 and status["verdicts"]["pending"] == 0
    assert {c["name"]: c["pending"] for c in status["posts"]["consumers"]}.get("victim", 0) == 0
    assert "published 2" in workers.log("ingest")

    assert_same_results(pg_url, single)
    sent = [json.loads(line) for line in alerts.read_text().splitlines()]
    keys = Counter(n["key"] for n in sent)
    assert keys and max(keys.values()) == 1, keys
    with Store(pg_url).engine.connect() as conn:
        outbox = conn.execute(sa.select(schema.outbox.c.key, schema.outbox.c.status)).all()
    assert sorted(keys) == sorted(k for k, _ in outbox) and {s for _, s in outbox} == {"sent"}


class OwnRedis:
    """A redis-server of this test's own, persisting every write (AOF, fsync always) in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=(self.folder / "redis.log").open("a"), stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port)

        def up() -> bool:
            try:
                return client.ping()
            except (redis.ConnectionError, redis.BusyLoadingError):
                return False

        wait_until(up, 20, "redis-server to accept connections")
        client.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def test_redis_killed_and_restarted_mid_run_loses_nothing(tmp_path, pg_url, reference):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    data, single = reference

    own = OwnRedis(tmp_path)
    own.start()
    config = write_config(tmp_path / "workers.toml", db=pg_url, data=data, alerts=tmp_path / "alerts.jsonl",
                          bus=own.url, namespace="restart")
    # A small flight keeps ingest throttled, so the restart lands while every stage has work in hand.
    text = config.read_text().replace("max_in_flight = 1500", "max_in_flight = 200")
    config.write_text(text)
    bus = RedisBus(BusSettings(url=own.url, namespace="restart", max_in_flight=200, stream_maxlen=4000))
    workers = Workers(config, tmp_path)
    try:
        for role, name in (("classify", "classify-1"), ("aggregate", "aggregate"), ("alert", "alert")):
            workers.start(role, name)
        wait_until(lambda: all("started" in workers.log(n) for n in workers.processes), 180, "workers to start")
        ingest = workers.start("ingest", "ingest")
        wait_until(lambda: bus.aggregated() > 600, 60, "a third of the run to be aggregated")
        own.kill()  # a crash, not a clean shutdown: only what the append-only file holds survives
        time.sleep(1.0)  # workers notice and back off
        own.start()
        assert ingest.wait(timeout=120) == 0, workers.log("ingest")
        wait_until(lambda: bus.aggregated() == bus.published(), 120, "the aggregate to catch up")
        wait_until(lambda: all_delivered(pg_url), 60, "every notification to be delivered")
    finally:
        workers.stop_all()
        own.kill()

    logs = "".join(workers.log(n) for n in workers.processes)
    assert "ConnectionError" in logs or "retrying" in logs, "the workers should have seen Redis go away"
    assert_same_results(pg_url, single)
    keys = Counter(json.loads(line)["key"] for line in (tmp_path / "alerts.jsonl").read_text().splitlines())
    assert keys and max(keys.values()) == 1


def test_the_live_config_with_db_and_bus_runs_distributed(tmp_path, pg_url, namespace):
    """`detector worker ingest` on a config with live sources polls them as `detector run` does and
    publishes; classify and aggregate workers store every served post once and raise the incident."""
    from tests.fakes.reddit import FakeReddit, submission

    reddit = FakeReddit(clock=time.time)
    config = tmp_path / "live.toml"
    config.write_text(f"""
db = "{pg_url}"

[[services]]
name = "ChatGPT"
match = ["chatgpt"]

[[sources]]
type = "reddit"
name = "reddit"
subreddits = ["ChatGPT"]
search = ["chatgpt"]
oauth_url = "{reddit.url}"
reddit_url = "{reddit.url}"
interval_seconds = 0.3
backoff_seconds = 0.2
backfill_minutes = 5
max_requests_per_minute = 600

[classifier]
kind = "keywords"

[detection]
warmup_minutes = 0
min_duration_minutes = 0

[run]
allowed_lateness_seconds = 30
tick_seconds = 0.2

[bus]
url = "redis://127.0.0.1:6379/0"
namespace = "{namespace}"
claim_idle_seconds = 2
lease_seconds = 3
""")
    workers = Workers(config, tmp_path)
    workers.env.update(DETECTOR_REDDIT_CLIENT_ID="client-id", DETECTOR_REDDIT_CLIENT_SECRET="client-secret")
    with reddit:
        try:
            for role, name in (("classify", "classify"), ("aggregate", "aggregate"), ("ingest", "ingest")):
                workers.start(role, name)
            wait_until(lambda: all("started" in workers.log(n) for n in workers.processes), 180, "workers to start")
            start = time.time()
            items = [submission(f"q{i}", start + 0.5 + i * 0.25, f"chatgpt wrote me a poem {i}", author=f"fan{i}")
                     for i in range(16)]
            items += [submission(f"b{i}", start + 3.0 + i * 0.2, "chatgpt is down for me, anyone else?",
                                 author=f"user{i}") for i in range(15)]
            reddit.items = items
            store = Store(pg_url)

            def stored_and_opened() -> bool:
                posts, alerts = store.count("posts"), store.count("alerts")
                print(f"posts {posts}/{len(items)}, incidents {alerts}, aggregated {bus.aggregated()}/{bus.published()}")
                return posts == len(items) and alerts == 1

            bus = RedisBus(BusSettings(url="redis://127.0.0.1:6379/0", namespace=namespace))
            wait_until(stored_and_opened, 150, "every served post stored and the incident opened", every=0.5)
        finally:
            workers.stop_all()
    assert "polling reddit" in workers.log("ingest")
    with store.engine.connect() as conn:
        ids = conn.execute(sa.select(schema.posts.c.source_id)).scalars().all()
    assert sorted(ids) == sorted(f"t3_{i['data']['id']}" for i in items) or len(set(ids)) == len(items)
