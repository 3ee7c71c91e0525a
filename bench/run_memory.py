"""`detector run`'s memory as its stream grows: the real service, polled against a fake Mastodon instance.

    nice py bench/run_memory.py [--classifier model|fast|keywords] [--posts 32000] [--first 1000] [--per-poll 200]

It starts a Mastodon hashtag timeline on 127.0.0.1 (``tests/fakes/mastodon.py``: the statuses' real fields,
``max_id`` paging, newest first) that publishes ``--per-poll`` new statuses, dated now, each time the newest
page is asked for, with the texts of the bundled Xfinity tweets (cycled, each copy's texts made distinct by
a number, so the embedding cache keeps meeting new texts as a real stream's would). Then it runs the real
`detector run` as a subprocess with a config pointing at it and a fresh SQLite file, and the model tier
unless ``--classifier`` says otherwise.

At each checkpoint (``--first`` posts, then twice as many, ... up to ``--posts``) the feed stops publishing
until the runner has stored every post published (read from its own ``/metrics``), and the bench reads the
runner's ``/proc/<pid>/status``: VmRSS (resident now), VmHWM (peak so far) and RssAnon (the heap, without the
mapped weights and libraries). A runner whose memory does not grow with its stream shows the same numbers
from one checkpoint to the next once its bounded caches are full (the embedding cache holds 20,000 vectors,
~38 MB: a stream of more distinct texts than that shows it filling and then staying flat). It prints one row
per checkpoint, the growth per 1,000 posts between the last two, and the load average at start and end
(the machine may be shared: the posts/s column means little; the RSS columns do not depend on load).

Event time is wall time here (a live source cannot be dated ahead of the clock), so a run covers minutes of
buckets, not months: growth with the length of time a run covers is measured by ``bench/replay.py
--repeat``, which replays eight months per copy through the same pipeline.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.fakes.mastodon import FakeMastodon
from tests.fakes.server import Reply, Request, free_port

TWEETS = REPO / "data" / "xfinity-outage-2020" / "tweets.csv"
DETECTOR = Path(sys.executable).with_name("detector")


def tweet_texts() -> list[str]:
    with TWEETS.open(newline="", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


class GrowingTimeline(FakeMastodon):
    """A hashtag timeline that grows as it is read: each request for its newest page first publishes up to
    ``per_poll`` new statuses dated now, while fewer than ``limit`` have been published. Only the newest
    ``keep`` statuses are kept, as a reader pages back only to its watermark; so this process stays small
    however long the stream."""

    def __init__(self, texts: list[str], per_poll: int, keep: int = 2000) -> None:
        super().__init__()
        self.texts = texts
        self.per_poll = per_poll
        self.keep = keep
        self.limit = 0
        self.published = 0
        self._publishing = threading.Lock()

    def tag_timeline(self, request: Request, tag: str) -> Reply:
        if "max_id" not in request.query:
            self._publish()
        return super().tag_timeline(request, tag)

    def _publish(self) -> None:
        with self._publishing:
            count = min(self.per_poll, self.limit - self.published)
            now = time.time()
            for k in range(count):
                n = self.published + k
                copy, text = divmod(n, len(self.texts))
                text = self.texts[text] if not copy else f"{self.texts[text]} ({copy}.{n})"
                self.add(f"s{n}", now - (count - k) * 1e-3, text, author=f"u{n % 4999}", tags=("xfinity",))
            self.published += max(count, 0)
            del self.items[: -self.keep]
            self.served.clear()
            with self.server._lock:
                self.server.requests.clear()


def config(folder: Path, feed: GrowingTimeline, port: int, classifier: str) -> Path:
    path = folder / "run.toml"
    path.write_text(f"""
db = "{folder / 'run.db'}"

[[services]]
name = "Xfinity"
match = ["xfinity", "comcast"]

[[sources]]
type = "mastodon"
name = "mastodon"
instances = ["{feed.url}"]
hashtags = ["xfinity"]
interval_seconds = 0.2
backoff_seconds = 0.2
backfill_minutes = 1
overlap_minutes = 0
max_items = 2000
max_requests_per_minute = 100000

[classifier]
kind = "{classifier}"

[run]
port = {port}
allowed_lateness_seconds = 5
tick_seconds = 0.2
status_pages = false
""")
    return path


def status(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM and RssAnon of ``pid`` in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon"):
            out[name] = int(value.split()[0]) / 1024
    return out


def stored(port: int) -> int:
    """The runner's own count of posts stored, from its /metrics (0 until it serves them)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0
    found = re.search(r'^detector_posts_stored_total\{source="mastodon"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def checkpoints(first: int, total: int) -> list[int]:
    out, n = [], first
    while n < total:
        out.append(n)
        n *= 2
    return [*out, total]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", choices=("model", "fast", "keywords"), default="model")
    parser.add_argument("--posts", type=int, default=32_000, help="posts in the whole stream (default 32,000)")
    parser.add_argument("--first", type=int, default=1000, help="the first checkpoint; each next one doubles")
    parser.add_argument("--per-poll", type=int, default=200, help="new statuses published per poll")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, _interrupted)  # `kill` stops the runner too (see the finally below)
    feed = GrowingTimeline(tweet_texts(), args.per_poll)
    port = free_port()
    load_start = os.getloadavg()
    rows = []
    with feed, tempfile.TemporaryDirectory(prefix="run-memory-") as folder:
        path = config(Path(folder), feed, port, args.classifier)
        env = {**os.environ, "DETECTOR_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789"}
        log = open(Path(folder) / "run.log", "w")
        runner = subprocess.Popen([str(DETECTOR), "run", "--config", str(path)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + args.timeout
        try:
            print(f"`detector run` (classifier {args.classifier}), pid {runner.pid}, load {_load(load_start)}")
            print(f"{'posts':>8} {'VmRSS MB':>9} {'VmHWM MB':>9} {'RssAnon MB':>10} {'posts/s':>8}")
            started = time.monotonic()
            for target in checkpoints(args.first, args.posts):
                feed.limit = target
                while stored(port) < target:
                    if runner.poll() is not None:
                        raise SystemExit(f"detector run exited ({runner.returncode}): see {log.name}\n"
                                         + Path(log.name).read_text()[-3000:])
                    if time.monotonic() > deadline:
                        raise SystemExit(f"gave up after {args.timeout:.0f} s at {stored(port)} posts")
                    time.sleep(0.2)
                time.sleep(0.5)  # a tick or two with nothing new: the flush and deliveries after the last batch
                memory = status(runner.pid)
                rate = target / (time.monotonic() - started)
                rows.append((target, memory))
                print(f"{target:>8,} {memory['VmRSS']:>9.0f} {memory['VmHWM']:>9.0f} {memory['RssAnon']:>10.0f} "
                      f"{rate:>8.0f}", flush=True)
        finally:
            runner.send_signal(signal.SIGTERM)
            try:
                runner.wait(timeout=120)
            except subprocess.TimeoutExpired:
                runner.kill()
            log.close()
    if len(rows) >= 2:
        (a, first), (b, last) = rows[-2], rows[-1]
        per_k = (last["VmRSS"] - first["VmRSS"]) / ((b - a) / 1000)
        print(f"growth from {a:,} to {b:,} posts: VmRSS {last['VmRSS'] - first['VmRSS']:+.0f} MB "
              f"({per_k:+.2f} MB per 1,000 posts), VmHWM {last['VmHWM'] - first['VmHWM']:+.0f} MB")
    print(f"load average {_load(load_start)} at start, {_load(os.getloadavg())} at end")


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.1f}" for x in load)


if __name__ == "__main__":
    main()
