"""The live scheduler in-process, with its clock and sleep injected: draining on stop, honouring what
sources ask, closing minutes with the wall clock, surviving a broken source, and its HTTP endpoints."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from detector.classify.settings import ClassifierSettings
from detector.cli.main import cli
from detector.config import ServiceSettings, Settings
from detector.runtime.live import Job, LiveRunner, build_jobs
from detector.runtime.metrics import Metrics, MetricsServer
from detector.records import Post
from detector.runtime.settings import RunSettings
from detector.secrets import Secrets
from detector.sources.bluesky import BlueskySettings
from detector.sources.hackernews import HackerNewsSettings
from detector.sources.reddit import RedditSettings
from detector.runtime.assembly import build_system
from detector.sources.base import Source, SourceBatch
from detector.store.official import load_official
from detector.store.store import Store
from tests.fakes.hackernews import FakeHackerNews
from tests.fakes.server import TOO_MANY
from tests.fakes.statuspage import FakeStatusPage, incident

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


class Clock:
    """Wall time that moves only when the scheduler waits."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def _system(tmp_path: Path):
    settings = Settings(db=str(tmp_path / "r.db"), services=[ServiceSettings(name="ChatGPT", match=["chatgpt"])],
                        classifier=ClassifierSettings(kind="keywords"))
    return build_system(settings)


def _post(i: int, at: datetime) -> Post:
    return Post(source="stub", source_id=str(i), created_at=at, text=f"chatgpt is down {i}", author=f"a{i}")


class ThreeBatches(Source):
    """Yields three batches; asks the runner to stop while the first is being handed over (a SIGTERM)."""

    name = "stub"

    def __init__(self) -> None:
        self.runner: LiveRunner | None = None

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        start = int(cursor or 0)
        for n in range(start, 3):
            if n == start and self.runner is not None:
                self.runner.stop.set()
            yield SourceBatch(tuple(_post(n * 10 + k, T0 + timedelta(seconds=n * 10 + k)) for k in range(10)),
                              cursor=str(n + 1), read=10)


class Broken(Source):
    name = "broken"

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        raise RuntimeError("boom with token abcd-secret")
        yield  # pragma: no cover


def test_stop_drains_the_poll_in_hand_then_exits(tmp_path: Path) -> None:
    system = _system(tmp_path)
    clock = Clock(T0.timestamp() + 600)
    source = ThreeBatches()
    runner = LiveRunner(system, [Job(source)], RunSettings(), clock=clock, wait=clock.wait)
    source.runner = runner
    report = runner.run()
    assert report.stored == 30 and system.store.count("posts") == 30
    assert system.store.cursor("stub") == "3"
    system.close()


def test_a_broken_source_waits_and_the_others_go_on(tmp_path: Path) -> None:
    system = _system(tmp_path)
    system.secrets = Secrets(environ={"DETECTOR_TOKEN": "abcd-secret"})
    system.secrets.get("token")  # a secret in use: the runner masks it in what it logs and shows
    clock = Clock(T0.timestamp())
    runner = LiveRunner(system, [Job(Broken()), Job(ThreeBatches())], RunSettings(error_wait_seconds=60),
                        clock=clock, wait=clock.wait)
    runner.run_once()
    broken, good = runner.jobs
    assert broken.due == clock.now + 60 and system.store.count("posts") == 30
    assert runner.metrics.get("detector_source_errors_total", source="broken", kind="crash") == 1
    assert runner.metrics.sources["broken"]["last_error"] == "boom with token ***"
    system.close()


def test_rate_limited_source_is_polled_again_only_after_retry_after(tmp_path: Path) -> None:
    system = _system(tmp_path)
    fake = FakeHackerNews()
    fake.add("1", time.time() - 60, "chatgpt down")
    with fake.server:
        system.settings.sources.append(
            HackerNewsSettings(name="hn", queries=["chatgpt"], base_url=fake.server.url, backoff_seconds=1))
        clock = Clock(time.time())
        jobs = build_jobs(system, clock=clock)
        runner = LiveRunner(system, jobs, RunSettings(), clock=clock, wait=clock.wait)
        fake.server.fail_next(TOO_MANY)
        runner.poll(jobs[0])
        assert jobs[0].due >= clock.now + 7
        assert runner.metrics.get("detector_source_errors_total", source="hn", kind="rate_limited") == 1
        clock.now = jobs[0].due
        runner.poll(jobs[0])
        assert system.store.count("posts") == 1
        assert runner.metrics.get("detector_posts_stored_total", source="hn") == 1
    system.close()


def test_tick_closes_minutes_with_the_wall_clock_less_the_allowed_lateness(tmp_path: Path) -> None:
    system = _system(tmp_path)
    clock = Clock(T0.timestamp())
    runner = LiveRunner(system, [Job(ThreeBatches())], RunSettings(allowed_lateness_seconds=120),
                        clock=clock, wait=clock.wait)
    runner.run_once()
    clock.now = (T0 + timedelta(minutes=10, seconds=30)).timestamp()
    runner.tick()
    assert runner._flushed_to == T0 + timedelta(minutes=8)
    assert system.pipeline.buckets["ChatGPT"].open_start == T0 + timedelta(minutes=8)
    system.close()


def test_metrics_and_health_endpoints() -> None:
    clock = Clock(1000.0)
    metrics = Metrics(clock)
    metrics.inc("detector_posts_stored_total", 3, source='re"dd\nit')
    metrics.beat()
    server = MetricsServer(metrics, port=0, stale_after=60).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert "# TYPE detector_posts_stored_total counter" in text
        assert 'detector_posts_stored_total{source="re\\"dd\\nit"} 3' in text
        assert json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read())["status"] == "ok"
        clock.now += 61
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(base + "/healthz", timeout=5)
        assert error.value.code == 503
    finally:
        server.stop()


def test_run_once_polls_sources_and_the_services_status_page(tmp_path: Path) -> None:
    hn, page = FakeHackerNews(), FakeStatusPage([incident("i1", "Outage", T0)])
    for i in range(3):
        hn.add(str(i), time.time() - 120 + i, f"chatgpt is down {i}", author=f"p{i}")
    config = tmp_path / "c.toml"
    with hn.server, page.server:
        config.write_text(f"""
db = "once.db"
[[services]]
name = "ChatGPT"
match = ["chatgpt"]
status_page = "{page.url}"
[[sources]]
type = "hackernews"
name = "hn"
queries = ["chatgpt"]
base_url = "{hn.server.url}"
[classifier]
kind = "keywords"
""")
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--once"])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "once.db") as store:
        assert store.count("posts") == 3
        assert [o.external_id for o in load_official(store, "ChatGPT")] == ["i1"]
        assert store.cursor("hn") is not None


def test_searches_left_empty_take_the_services_terms() -> None:
    services = [ServiceSettings(name="ChatGPT", match=["chatgpt", "chat gpt"]), ServiceSettings(name="API", match=["openai api"])]
    reddit = RedditSettings(subreddits=["ChatGPT"]).for_services(services)
    assert reddit.search == ['chatgpt OR "chat gpt"', '"openai api"']
    assert RedditSettings(search=[]).for_services(services).search == []
    assert HackerNewsSettings().for_services(services).queries == ["chatgpt", "chat gpt", "openai api"]
    assert HackerNewsSettings(queries=["outage"]).for_services(services).queries == ["outage"]
    assert BlueskySettings().for_services(services).queries == ["chatgpt", "chat gpt", "openai api"]


class Hanging(Source):
    """An API that takes its time: the fetch blocks until the test lets it go, then yields one batch."""

    name = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        if cursor is not None:
            return
        self.started.set()
        assert self.release.wait(30), "the test never released the slow source"
        recent = datetime.now(timezone.utc) - timedelta(minutes=5)  # the loop closes minutes with the real clock
        yield SourceBatch(tuple(_post(100 + k, recent + timedelta(seconds=k)) for k in range(5)), cursor="1", read=5)


class Quick(Source):
    name = "quick"

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        if cursor is None:
            recent = datetime.now(timezone.utc) - timedelta(minutes=5)
            yield SourceBatch(tuple(_post(k, recent + timedelta(seconds=k)) for k in range(10)), cursor="1", read=10)


def _until(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)  # watching another thread's progress: there is nothing to fake here
    return False


def test_a_hanging_source_does_not_hold_up_the_others_and_is_drained_on_stop(tmp_path: Path) -> None:
    system = _system(tmp_path)
    slow = Hanging()
    runner = LiveRunner(system, [Job(slow), Job(Quick())], RunSettings(tick_seconds=0.05))
    loop = threading.Thread(target=runner.run)
    loop.start()
    try:
        assert slow.started.wait(20)
        # the slow fetch is still out, and the quick source's posts are already stored
        assert _until(lambda: runner.metrics.get("detector_posts_stored_total", source="quick") == 10)
        assert not slow.release.is_set()
        runner.stop.set()  # a SIGTERM while the slow fetch is out: it must finish and be stored, not dropped
        time.sleep(0.3)
        assert loop.is_alive()
        slow.release.set()
        loop.join(20)
        assert not loop.is_alive()
    finally:
        slow.release.set()
        runner.stop.set()
        loop.join(20)
    assert system.store.count("posts") == 15 and system.store.cursor("slow") == "1"
    system.close()


def test_a_live_run_counts_its_incidents_without_keeping_their_changes(tmp_path: Path) -> None:
    """The run's report is a total of counts (issue 17: nothing grows with the stream): the incident a burst
    opens is counted in the summary and stored, while the report keeps no list of incident changes and no
    quarantine reasons."""
    from tests.test_pipeline import T0 as DAY, write_posts
    from detector.sources.replay import ReplaySettings, ReplaySource

    write_posts(tmp_path / "posts.csv", burst=True)
    with (tmp_path / "posts.csv").open("a") as handle:
        handle.write("9999,not a time,xfinity is down,someone\n")  # quarantined: a reason the report does not keep
    settings = Settings(db=str(tmp_path / "r.db"), services=[ServiceSettings(name="Xfinity", match=["xfinity"])],
                        classifier=ClassifierSettings(kind="keywords"))
    system = build_system(settings)
    source = ReplaySource(ReplaySettings(path=tmp_path / "posts.csv", time_column="ts", text_column="text",
                                         id_column="id", author_column="user", service="Xfinity"),
                          system.pseudonymiser, batch_size=25)
    clock = Clock((DAY + timedelta(days=1)).timestamp())
    runner = LiveRunner(system, [Job(source, "Xfinity")], RunSettings(), clock=clock, wait=clock.wait)
    try:
        report = runner.run_once()
        opened = system.store.count("alerts")
        stored = system.store.count("posts")
    finally:
        system.close()
    assert report.opened == opened == 1
    assert report.stored == stored > 50 and report.quarantined == 1
    assert report.changes == [] and not report.reasons
    assert "incidents opened 1" in report.summary()


def test_an_id_the_seen_set_forgot_is_still_stored_once(tmp_path: Path) -> None:
    """The in-memory seen-set is bounded (``seen_size``): an item that comes back after it was forgotten is
    handed to the pipeline again, and the store's unique key makes it a duplicate, not a second post."""
    from detector.sources.live_settings import LiveSourceSettings
    from detector.sources.polite import Watermark
    from detector.sources.polling import Entry, PollingSource

    class Replaying(PollingSource):
        """150 posts, then the first one again, re-dated (as an API that re-indexes an edited item)."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.polls = 0

        def streams(self) -> list[str]:
            return ["all"]

        def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
            self.polls += 1
            if self.polls == 1:
                return [Entry(f"id{i}", T0.timestamp() + i, _post(i, T0 + timedelta(seconds=i))) for i in range(150)]
            return [Entry("id0", T0.timestamp() + 200, _post(0, T0 + timedelta(seconds=200)))]

    system = _system(tmp_path)
    source = Replaying(LiveSourceSettings(name="stub", seen_size=100, overlap_minutes=0,
                                          backfill_minutes=60 * 24 * 365),
                       system.pseudonymiser, clock=lambda: T0.timestamp() + 600)
    clock = Clock(T0.timestamp() + 600)
    runner = LiveRunner(system, [Job(source)], RunSettings(), clock=clock, wait=clock.wait)
    try:
        runner.run_once()
        assert "id0" not in source.seen and len(source.seen) == 100
        report = runner.run_once()
        stored = system.store.count("posts")
    finally:
        system.close()
    assert source.polls == 2 and report.read == 151
    assert stored == report.stored == 150 and report.duplicates == 1
