"""Health that tells the truth, against the real processes and ports: `detector run`'s /healthz with every
source failing or hanging, and `detector dashboard` stopped with SIGTERM or started on a busy port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from detector.classify.settings import ClassifierSettings
from detector.config import ServiceSettings, Settings
from detector.runtime.live import Job, LiveRunner
from detector.runtime.metrics import Metrics, MetricsServer
from detector.runtime.settings import RunSettings
from detector.runtime.assembly import build_system
from detector.sources.base import Source, SourceBatch
from detector.sources.hackernews import HackerNewsSettings
from detector.store.store import Store
from tests.fakes.server import free_port

DETECTOR = Path(sys.executable).with_name("detector")



def _wait_for(predicate, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _health(port: int) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return None


def test_healthz_is_503_naming_the_sources_when_every_source_fails(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens here: every request is refused
    config = tmp_path / "c.toml"
    config.write_text(f"""
db = "h.db"
[[services]]
name = "Acme"
match = ["acme"]
status_page = "http://127.0.0.1:{dead}/status"
[[sources]]
type = "hackernews"
name = "hn"
queries = ["acme"]
base_url = "http://127.0.0.1:{dead}"
interval_seconds = 0.5
backoff_seconds = 0.2
[classifier]
kind = "keywords"
[run]
tick_seconds = 0.2
""")
    port = free_port()
    process = subprocess.Popen([str(DETECTOR), "run", "--config", str(config), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        status, body = _wait_for(lambda: (h := _health(port)) and h[1]["status"] == "failing" and h, 30,
                                 "/healthz to report every source failing")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert status == 503
    assert body["failing"] == ["hn", "status:Acme"]
    assert body["sources"]["hn"]["status"] == "failing" and "127.0.0.1" in body["sources"]["hn"]["reason"]


class Hanging(Source):
    """A source whose fetch never comes back until released: a poll that never completes."""

    def __init__(self, name: str, release: threading.Event) -> None:
        self.name = name
        self.release = release
        self.settings = HackerNewsSettings(name=name, interval_seconds=0.2, timeout_seconds=0.2)

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        self.release.wait()
        return iter(())


class Quiet(Source):
    """A source that answers at once with nothing new."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.settings = HackerNewsSettings(name=name, interval_seconds=0.2, timeout_seconds=0.2)

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        return iter(())


def _runner(tmp_path: Path, sources: list[Source]) -> LiveRunner:
    settings = Settings(db=str(tmp_path / "r.db"), services=[ServiceSettings(name="Acme", match=["acme"])],
                        classifier=ClassifierSettings(kind="keywords"))
    return LiveRunner(build_system(settings), [Job(s) for s in sources], RunSettings(tick_seconds=0.1))


@pytest.mark.parametrize("quiet", [False, True])
def test_a_source_with_no_poll_completed_within_interval_plus_deadline_is_failing(tmp_path: Path, quiet: bool) -> None:
    release = threading.Event()
    runner = _runner(tmp_path, [Hanging("stuck", release), *([Quiet("fine")] if quiet else [])])
    server = MetricsServer(runner.metrics, port=0, stale_after=60).start()
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        want = "degraded" if quiet else "failing"
        status, body = _wait_for(lambda: (h := _health(server.port)) and h[1]["status"] == want and h, 10,
                                 f"/healthz to say {want}")
    finally:
        runner.stop.set()
        release.set()
        thread.join(10)
        server.stop()
        runner.system.close()
    assert status == (200 if quiet else 503)
    assert body["failing"] == ["stuck"]
    assert "no poll completed" in body["sources"]["stuck"]["reason"]
    assert body["sources"].get("fine", {}).get("status", "ok") == "ok"


def test_health_recovers_when_the_source_polls_again() -> None:
    now = [1000.0]
    metrics = Metrics(lambda: now[0])
    metrics.watch("hn", 10.0)
    metrics.beat()
    assert metrics.health(60)[1]["status"] == "ok"
    now[0] += 11
    metrics.beat()
    assert metrics.health(60) [0] is False
    metrics.sources["hn"]["last_success"] = now[0]
    assert metrics.health(60)[1]["status"] == "ok"


# -- the dashboard process -----------------------------------------------------------------------------
def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _database(tmp_path: Path) -> Path:
    db = tmp_path / "d.db"
    Store(db).close()
    return db


@pytest.mark.slow
def test_sigterm_to_detector_dashboard_stops_the_streamlit_child(tmp_path: Path) -> None:
    db, port = _database(tmp_path), free_port()
    process = subprocess.Popen([str(DETECTOR), "dashboard", "--db", str(db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _listening(port), 60, "the dashboard to listen")
        process.send_signal(signal.SIGTERM)  # to the parent only, as a service manager would
        process.wait(30)
        _wait_for(lambda: not _listening(port), 15, "the Streamlit child to stop")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        else:  # whatever is left in its group (nothing, if the child stopped)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert not _listening(port)


def test_dashboard_on_a_busy_port_says_so_before_printing_a_url(tmp_path: Path) -> None:
    db = _database(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([str(DETECTOR), "dashboard", "--db", str(db), "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"port {port} is in use" in result.stderr
    assert "http://" not in result.stdout + result.stderr
