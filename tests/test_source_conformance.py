"""The contract every live source keeps, checked the same way against each API's local fake server:
pagination, resuming from the cursor without repeats, empty pages, 429 with Retry-After, 5xx, timeouts,
malformed JSON into quarantine, and the whole pipeline storing each served post exactly once."""

from __future__ import annotations

import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import prawcore.rate_limit
import prawcore.sessions
import pytest

from detector.classify.settings import ClassifierSettings
from detector.config import ServiceSettings, Settings
from detector.pseudonym import Pseudonymiser
from detector.records import Post, Rejected
from detector.runtime.assembly import build_system, run_source
from detector.secrets import Secrets
from detector.sources.bluesky import BlueskySettings
from detector.sources.hackernews import HackerNewsSettings
from detector.sources.live_settings import LiveSourceSettings
from detector.sources.mastodon import MastodonSettings
from detector.sources.polling import PollingSource
from detector.sources.reddit import RedditSettings
from detector.sources.registry import KINDS as SOURCE_KINDS
from detector.sources.rss import RssSettings
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.hackernews import FakeHackerNews
from tests.fakes.mastodon import TOKEN, FakeMastodon
from tests.fakes.reddit import FakeReddit
from tests.fakes.rss import FakeFeed
from tests.fakes.server import MALFORMED, SERVER_ERROR, TOO_MANY, Reply

PSEUDONYMS = Pseudonymiser(b"k" * 32)


@pytest.fixture(autouse=True)
def no_praw_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """prawcore sleeps before its own retries and to pace requests; record those sleeps instead."""
    slept: list[float] = []
    fake_time = types.SimpleNamespace(sleep=slept.append, time=time.time, monotonic=time.monotonic,
                                      monotonic_ns=time.monotonic_ns)
    monkeypatch.setattr(prawcore.sessions, "time", fake_time)
    monkeypatch.setattr(prawcore.rate_limit, "time", fake_time)
    return slept


@dataclass
class Case:
    """One API: its fake, a source pointed at it, and how many times a fault must repeat to get past the
    client's own retries (prawcore retries 5xx and timeouts twice)."""

    kind: str
    fake: Any
    settings: LiveSourceSettings
    secrets: Secrets
    repeat: int = 1
    prefix: str = "/"  # where faults are injected (Reddit: the listings, not the token endpoint)
    malformed: Reply = field(default_factory=lambda: MALFORMED)

    def fail(self, reply: Reply, times: int = 1) -> None:
        for _ in range(times):
            self.fake.server.fail_next(reply, self.prefix)

    def source(self, **kwargs: Any) -> PollingSource:
        return SOURCE_KINDS[self.kind].build(self.settings, PSEUDONYMS, self.secrets, **kwargs)

    def add(self, n: int, start: float, prefix: str = "i") -> set[str]:
        return {self.fake.add(f"{prefix}{k}", start + k * 10, f"chatgpt is down again {prefix}{k}", author=f"u{k}")
                for k in range(n)}


COMMON = dict(timeout_seconds=0.3, backfill_minutes=120, overlap_minutes=5, interval_seconds=60)


@contextmanager
def case(kind: str) -> Iterator[Case]:
    if kind == "reddit":
        fake = FakeReddit()
        url = fake.url
        settings = RedditSettings(name=kind, subreddits=["ChatGPT"], search=["chatgpt"], oauth_url=url,
                                  reddit_url=url, **COMMON)
        result = Case(kind, fake, settings, Secrets(environ={"DETECTOR_REDDIT_CLIENT_ID": "id",
                                                             "DETECTOR_REDDIT_CLIENT_SECRET": "secret"}), repeat=3,
                      prefix="/r/")
    elif kind == "bluesky":
        fake = FakeBluesky()
        settings = BlueskySettings(name=kind, queries=["chatgpt"], base_url=fake.server.url, page_size=25, **COMMON)
        result = Case(kind, fake, settings, Secrets(environ={}))
    elif kind == "hackernews":
        fake = FakeHackerNews()
        settings = HackerNewsSettings(name=kind, queries=["chatgpt"], base_url=fake.server.url, page_size=25, **COMMON)
        result = Case(kind, fake, settings, Secrets(environ={}))
    elif kind == "mastodon":
        fake = FakeMastodon()
        settings = MastodonSettings(name=kind, instances=[fake.server.url], hashtags=["chatgpt"],
                                    search=["chatgpt"], token="${mastodon_token}", page_size=25, **COMMON)
        result = Case(kind, fake, settings, Secrets(environ={"DETECTOR_MASTODON_TOKEN": TOKEN}))
    else:
        fake = FakeFeed(window=500)
        settings = RssSettings(name=kind, feeds=[fake.server.url + "/feed.xml"], **COMMON)
        result = Case(kind, fake, settings, Secrets(environ={}), malformed=Reply(200, b"\x00 this is not a feed <<<"))
    with fake.server:
        yield result


# the sources polled for posts: every settings class on the polled-source base (status pages have their own)
KINDS = sorted(t for t, kind in SOURCE_KINDS.items() if issubclass(kind.settings, LiveSourceSettings))


def test_every_source_type_has_a_case() -> None:
    assert set(KINDS) == {"reddit", "bluesky", "mastodon", "hackernews", "rss"}


def _drain(source: PollingSource, cursor: str | None) -> tuple[list[Post], list[Rejected], str | None, int]:
    posts, rejected, batches = [], [], 0
    for batch in source.batches(cursor):
        posts += batch.posts
        rejected += batch.rejected
        cursor = batch.cursor or cursor
        batches += 1
    return posts, rejected, cursor, batches


@pytest.mark.parametrize("kind", KINDS)
def test_pages_back_to_the_watermark_and_resumes_without_repeats(kind: str) -> None:
    with case(kind) as c:
        now = time.time()
        first = c.add(130, now - 3000)  # more than a page of every API
        posts, rejected, cursor, _ = _drain(c.source(), None)
        assert {p.source_id for p in posts} == first and len(posts) == len(first) and not rejected
        assert all(p.author and not p.author.startswith("u") for p in posts)  # pseudonymised
        assert [p.created_at for p in posts] == sorted(p.created_at for p in posts)
        agents = {r.headers.get("user-agent", "") for r in c.fake.server.requests}
        assert agents and all("outage-detector/" in a and f"source {kind}" in a for a in agents)

        again, _, cursor2, _ = _drain(c.source(), cursor)  # a restarted process, from the stored cursor
        assert again == []
        later = c.add(5, now - 100, prefix="late")
        new, _, _, _ = _drain(c.source(), cursor2)
        assert {p.source_id for p in new} == later


@pytest.mark.parametrize("kind", KINDS)
def test_empty_api_gives_one_empty_batch_and_the_usual_pause(kind: str) -> None:
    with case(kind) as c:
        source = c.source()
        posts, rejected, cursor, batches = _drain(source, None)
        assert (posts, rejected, batches) == ([], [], 1)
        assert cursor is not None and source.last.error is None
        assert 54 <= source.last.wait <= 66


@pytest.mark.parametrize("kind", KINDS)
def test_429_waits_as_long_as_retry_after_says_and_loses_nothing(kind: str) -> None:
    with case(kind) as c:
        items = c.add(3, time.time() - 600)
        c.fail(TOO_MANY)
        source = c.source()
        posts, _, cursor, _ = _drain(source, None)
        assert source.last.kind == "rate_limited" and source.last.wait >= 7
        assert {p.source_id for p in posts} <= items
        more, _, _, _ = _drain(source, cursor)
        assert {p.source_id for p in posts + more} == items


@pytest.mark.parametrize("kind", KINDS)
def test_server_errors_back_off_and_new_items_reset_the_backoff(kind: str) -> None:
    with case(kind) as c:
        items = c.add(3, time.time() - 600)
        c.fail(SERVER_ERROR, c.repeat)
        source = c.source()
        posts, _, cursor, _ = _drain(source, None)
        assert source.last.kind == "server_error" and source.last.error
        if not posts:
            assert source.backoff.failures == 1 and 0 < source.last.wait <= c.settings.backoff_seconds
        more, _, _, _ = _drain(source, cursor)
        assert {p.source_id for p in posts + more} == items
        assert source.backoff.failures == 0 and source.last.error is None


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_are_failures_not_hangs(kind: str) -> None:
    with case(kind) as c:
        c.add(2, time.time() - 600)
        c.fail(Reply(200, b"{}", hang=0.6), c.repeat)
        source = c.source()
        started = time.monotonic()
        _drain(source, None)
        assert source.last.kind == "timeout"
        assert time.monotonic() - started < 0.3 * c.repeat * 2 + 1


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_answer_is_quarantined_and_retried(kind: str) -> None:
    with case(kind) as c:
        items = c.add(2, time.time() - 600)
        c.fail(c.malformed)
        source = c.source()
        posts, rejected, cursor, _ = _drain(source, None)
        assert source.last.kind == "malformed"
        assert len(rejected) == 1 and rejected[0].raw and ("malformed" in rejected[0].reason or "unreadable" in rejected[0].reason)
        more, _, _, _ = _drain(source, cursor)
        assert {p.source_id for p in posts + more} == items


@pytest.mark.parametrize("kind", KINDS)
def test_request_budget_stops_a_poll_instead_of_exceeding_it(kind: str) -> None:
    with case(kind) as c:
        c.add(130, time.time() - 3000)
        c.settings = c.settings.model_copy(update={"max_requests_per_minute": 1})
        source = c.source()
        _drain(source, None)
        if source.last.error:  # one request was not enough for this API's pages
            assert source.last.kind == "budget" and source.last.wait > 0
        assert source.last.requests <= 1


@pytest.mark.parametrize("kind", KINDS)
def test_through_the_pipeline_each_served_post_is_stored_once(kind: str, tmp_path: Path) -> None:
    with case(kind) as c:
        items = c.add(40, time.time() - 1200)
        settings = Settings(db=str(tmp_path / "x.db"), services=[ServiceSettings(name="ChatGPT", match=["chatgpt"])],
                            classifier=ClassifierSettings(kind="keywords"))
        system = build_system(settings)
        try:
            first = run_source(system, c.source(), flush_at_end=False)
            second = run_source(system, c.source(), flush_at_end=False)
            assert first.stored == len(items) and second.stored == 0
            assert system.store.count("posts") == len(items) == len(c.fake.served & items)
        finally:
            system.close()


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "rss"])  # a feed has no pages to run out of
def test_a_gap_deeper_than_max_items_is_reported(kind: str) -> None:
    with case(kind) as c:
        c.add(130, time.time() - 3000)
        c.settings = c.settings.model_copy(update={"max_items": 50})
        source = c.source()
        posts, _, _, _ = _drain(source, None)
        assert source.last.gaps >= 1 and 50 <= len(posts) < 130
