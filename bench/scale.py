"""Classify workers scaling out over the Redis Streams bus, and the latency from the bus to the bucket.

    .venv/bin/python bench/scale.py [--classifier model|keywords] [--posts N] [--workers 1 2]

For each number of classify workers it starts them (`detector worker classify`) and one aggregate worker
against a fresh PostgreSQL database and a fresh Redis namespace, then:

1. throughput: publishes N real tweets (data/xfinity-outage-2020) to the bus at once and times how long
   the classify workers take to acknowledge them all (classify posts/s) and the aggregate to apply them all
   (end-to-end posts/s);
2. latency: publishes more posts at half that rate and measures, per post, the time from its entry in the
   bus (the stream entry's Redis timestamp) to the aggregate's commit of its bucket update (the aggregate's
   position passing its sequence number, polled every 5 ms).

It prints one row per configuration and the throughput ratio of 2 workers to 1. Each worker process gets
cores / workers torch threads (OMP_NUM_THREADS), the way docs/deployment.md sizes them.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import redis
import sqlalchemy as sa

from detector.bus.settings import BusSettings
from detector.bus.streams import POSTS, RedisBus
from detector.classify.settings import CLASSIFIER_KINDS, ClassifierSettings
from detector.records import Post

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=timezone.utc)
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def tweets(limit: int, offset: int = 0) -> list[str]:
    with (REPO / "data" / "xfinity-outage-2020" / "tweets.csv").open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return [texts[(offset + i) % len(texts)] for i in range(limit)]


def posts(texts: list[str], first: int) -> list[Post]:
    """One post every 2 s of event time, so a few thousand posts span hours, not months, of buckets."""
    return [Post("bench", str(first + i), T0 + timedelta(seconds=2 * (first + i)), text, ("Xfinity",),
                 author=f"u{(first + i) % 997}") for i, text in enumerate(texts)]


class Deployment:
    """A fresh database, a fresh namespace, N classify workers and one aggregate worker."""

    def __init__(self, workers: int, classifier: str, folder: Path) -> None:
        self.database = f"detector_bench_{uuid.uuid4().hex[:10]}"
        self.namespace = f"bench-{uuid.uuid4().hex[:8]}"
        self.folder = folder
        self.admin = sa.create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        config = folder / f"{self.namespace}.toml"
        config.write_text(
            f'db = "{SERVER}/{self.database}"\n\n[[services]]\nname = "Xfinity"\nmatch = ["xfinity"]\n\n'
            f'[classifier]\nkind = "{classifier}"\n\n'
            f'[bus]\nurl = "redis://127.0.0.1:6379/0"\nnamespace = "{self.namespace}"\n'
            f'max_in_flight = 50000\nstream_maxlen = 200000\nbatch_size = 64\n'
        )
        threads = max(1, (os.cpu_count() or 2) // workers)
        env = {**os.environ, "DETECTOR_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789",
               "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
        self.bus = RedisBus(BusSettings(url="redis://127.0.0.1:6379/0", namespace=self.namespace,
                                        max_in_flight=50000, stream_maxlen=200000))
        self.bus.ensure_groups()
        self.processes = []
        self.logs = []
        for role, n in [("classify", workers), ("aggregate", 1)]:
            for i in range(n):
                log = folder / f"{self.namespace}-{role}-{i}.log"
                self.logs.append(log)
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "detector.cli.main", "worker", role, "-c", str(config),
                     "--name", f"{role}-{i}"],
                    stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=folder,
                ))
        deadline = time.monotonic() + 300
        while not all("started" in log.read_text() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit("workers did not start:\n" + "\n".join(log.read_text()[-500:] for log in self.logs))
            time.sleep(0.2)

    def classified(self) -> bool:
        info = self.bus.status()["posts"]
        return info.get("lag") == 0 and info.get("pending") == 0

    def close(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        client = self.bus.redis
        for key in client.scan_iter(f"{self.namespace}:*", count=1000):
            client.delete(key)
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        self.admin.dispose()


def throughput(deployment: Deployment, batch: list[Post]) -> tuple[float, float]:
    bus = deployment.bus
    started = time.monotonic()
    for i in range(0, len(batch), 500):
        bus.publish_posts(batch[i : i + 500])
    classified_at = None
    while bus.aggregated() < len(batch):
        if classified_at is None and deployment.classified():
            classified_at = time.monotonic()
        time.sleep(0.01)
    done = time.monotonic()
    classified_at = classified_at or done
    return len(batch) / (classified_at - started), len(batch) / (done - started)


def latency(deployment: Deployment, batch: list[Post], rate: float) -> list[float]:
    """Seconds from bus entry to bucket update for each post of ``batch`` published at ``rate`` posts/s."""
    bus = deployment.bus
    first_seq = bus.published() + 1
    applied_at: dict[int, float] = {}
    position = bus.aggregated()
    start = time.time()
    sent = 0
    while position < first_seq + len(batch) - 1:
        due = min(len(batch), int((time.time() - start) * rate) + 1)
        if sent < due:
            bus.publish_posts(batch[sent:due])
            sent = due
        now_position = bus.aggregated()
        now = time.time()
        for seq in range(position + 1, now_position + 1):
            applied_at[seq] = now
        position = now_position
        time.sleep(0.005)
    entries = bus.redis.xrange(bus.key(POSTS), min="-", max="+")
    entered = {int(fields["seq"]): int(entry_id.split("-")[0]) / 1000 for entry_id, fields in entries}
    return [applied_at[seq] - entered[seq] for seq in range(first_seq, first_seq + len(batch))]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", choices=CLASSIFIER_KINDS, default=ClassifierSettings().kind,
                        help="default: the configured default classifier")
    parser.add_argument("--posts", type=int, default=None, help="posts for the throughput phase "
                        "(default 1500 for the model, 20000 for keywords)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    n = args.posts or (1500 if args.classifier == "model" else 20000)
    try:
        redis.Redis(host="127.0.0.1", port=6379).ping()
    except redis.ConnectionError:
        raise SystemExit("Redis is not reachable on 127.0.0.1:6379")

    print(f"classifier: {args.classifier}; {n} posts (Xfinity tweets) per throughput run; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            deployment = Deployment(workers, args.classifier, Path(tmp))
            try:
                classify_rate, end_to_end = throughput(deployment, posts(tweets(n), 0))
                m = max(50, min(1000, int(classify_rate * 20)))
                lat = latency(deployment, posts(tweets(m, offset=n), n), rate=classify_rate / 2)
            finally:
                deployment.close()
            rows.append((workers, classify_rate, end_to_end, classify_rate / 2, m, lat))
            print(f"  {workers} classify worker(s): {classify_rate:,.0f} posts/s classified, {end_to_end:,.0f} "
                  f"posts/s end to end; latency at {classify_rate / 2:,.0f} posts/s: "
                  f"p50 {statistics.median(lat) * 1000:,.0f} ms, p99 {percentile(lat, 0.99) * 1000:,.0f} ms", flush=True)

    print()
    print(f"{'classify workers':>16} {'classified/s':>13} {'end-to-end/s':>13} {'paced at/s':>11} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    for workers, rate, e2e, paced, m, lat in rows:
        print(f"{workers:>16} {rate:>13,.0f} {e2e:>13,.0f} {paced:>11,.0f} {statistics.median(lat) * 1000:>8,.0f} "
              f"{percentile(lat, 0.99) * 1000:>8,.0f}")
    by_workers = {r[0]: r for r in rows}
    if 1 in by_workers and 2 in by_workers:
        print(f"\nratio 2 workers / 1 worker: classify {by_workers[2][1] / by_workers[1][1]:.2f}x, "
              f"end to end {by_workers[2][2] / by_workers[1][2]:.2f}x")


if __name__ == "__main__":
    main()
