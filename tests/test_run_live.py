"""`detector run` as a user runs it: a subprocess against a local Reddit-compatible server and a status
page, killed with SIGKILL mid-stream and restarted, then stopped with SIGTERM.

The done-when of the live-sources issue: every served post is stored exactly once across the restart, a
burst of complaints raises an incident, and `detector leadtime` reports the minutes against the served
official incident.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli.main import cli
from tests.fakes.reddit import FakeReddit, comment, submission
from tests.fakes.server import free_port
from tests.fakes.statuspage import FakeStatusPage, incident

DETECTOR = Path(sys.executable).with_name("detector")
SECRET = "s3cret-client-value"



def _stored(db: Path) -> set[str]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return {row[0] for row in conn.execute("select source_id from posts where source = 'reddit'")}
    except sqlite3.OperationalError:
        return set()


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _config(tmp_path: Path, reddit: FakeReddit, status: FakeStatusPage) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(f"""
db = "live.db"

[[services]]
name = "ChatGPT"
match = ["chatgpt"]
status_page = "{status.url}"

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
# The test squeezes minutes of posting into seconds at 0.3 s polls; the default budget (30 requests a
# minute, polite for the real site) would hold the restarted poller back for most of a minute.
max_requests_per_minute = 1000

[classifier]
kind = "keywords"

[detection]
warmup_minutes = 0
min_duration_minutes = 0  # the test's burst lasts seconds, not the minute the duration rule wants

[run]
allowed_lateness_seconds = 30
tick_seconds = 0.2
""")
    return path


def _start(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "DETECTOR_REDDIT_CLIENT_ID": "client-id", "DETECTOR_REDDIT_CLIENT_SECRET": SECRET}
    return subprocess.Popen([str(DETECTOR), "-v", "run", "--config", str(config), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stream(start: float) -> tuple[list[dict], set[str]]:
    """Chatter, then a burst of complaints from distinct people; plus items that must not be stored."""
    items = [submission(f"q{i}", start + 0.5 + i * 0.35, f"chatgpt wrote me a poem {i}", author=f"fan{i}")
             for i in range(24)]
    items += [submission(f"b{i}", start + 5.0 + i * 0.2, "chatgpt is down for me, anyone else?", author=f"user{i}")
              for i in range(15)]
    items += [comment(f"c{i}", start + 1.0 + i * 0.8, "same, chatgpt not loading", author=f"commenter{i}")
              for i in range(8)]
    items.append(submission("gone", start + 3.0, "chatgpt down?", author=None, selftext="[deleted]"))
    items.append(submission("other", start + 3.2, "my cat is cute", author="cat"))
    keep = {i["data"]["name"] for i in items} - {"t3_gone", "t3_other"}
    return items, keep


@pytest.mark.slow
def test_run_survives_sigkill_raises_incident_and_reports_lead_time(tmp_path: Path) -> None:
    reddit = FakeReddit(clock=time.time)
    official_at = datetime.now(timezone.utc) + timedelta(minutes=10)
    status = FakeStatusPage([incident("inc1", "Elevated errors on ChatGPT", official_at)])
    db = tmp_path / "live.db"
    with reddit, status:
        config = _config(tmp_path, reddit, status)
        first = _start(config)
        try:
            _wait_for(lambda: any("/r/" in r.path for r in reddit.server.requests), 30, "the first listing request")
            items, keep = _stream(time.time())
            reddit.items = items
            _wait_for(lambda: len(_stored(db)) >= 8, 30, "posts before the kill")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert first.returncode == -signal.SIGKILL
        assert len(_stored(db)) < len(keep), "the kill should come mid-stream"

        port = free_port()
        second = _start(config, "--port", str(port))
        try:
            _wait_for(lambda: _stored(db) >= keep, 40, "every served post")
            health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
            scrape = lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()  # noqa: E731
            # the gauges refresh on the scheduler's tick after the posts are stored
            _wait_for(lambda: 'detector_open_incidents{service="ChatGPT"} 1' in scrape(), 10, "the incident gauge")
            metrics = scrape()
        finally:
            second.send_signal(signal.SIGTERM)
            out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err
        assert "stopped:" in out

    served = reddit.served & keep
    stored = _stored(db)
    assert served == keep and stored == keep  # every served post, once (the store is unique on the id)
    assert health["status"] == "ok" and "reddit" in health["sources"]
    assert 'detector_posts_stored_total{source="reddit"}' in metrics
    assert "detector_classified_posts_total" in metrics and "detector_source_lag_seconds" in metrics
    assert SECRET not in err and SECRET not in out

    alerts = json.loads(CliRunner().invoke(cli, ["alerts", "--db", str(db), "--format", "json"]).output)
    assert [a["service"] for a in alerts] == ["ChatGPT"]
    result = CliRunner().invoke(cli, ["leadtime", "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    row = report["incidents"][0]
    assert row["official_id"] == "inc1"
    assert 9.0 < row["lead_minutes"] <= 10.0
    table = CliRunner().invoke(cli, ["leadtime", "--db", str(db)]).output
    assert "lead" in table and "Elevated errors" in table
