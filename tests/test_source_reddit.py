"""Reddit specifics: both auth flows, the X-Ratelimit-* headers, deleted and removed items, comments,
secrets kept out of the config and out of the logs."""

from __future__ import annotations

import logging
import time
import types
from urllib.parse import parse_qs

import prawcore.rate_limit
import prawcore.sessions
import pytest

from detector.config import ConfigError, parse_settings
from detector.pseudonym import Pseudonymiser
from detector.secrets import Secrets
from detector.sources.reddit import RedditSettings
from detector.sources.reddit import RedditSource
from tests.fakes.reddit import FakeReddit, comment, submission

ENV = {"DETECTOR_REDDIT_CLIENT_ID": "the-client-id", "DETECTOR_REDDIT_CLIENT_SECRET": "the-client-secret",
       "DETECTOR_REDDIT_PASSWORD": "hunter2-password"}


@pytest.fixture(autouse=True)
def praw_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    fake_time = types.SimpleNamespace(sleep=slept.append, time=time.time, monotonic=time.monotonic,
                                      monotonic_ns=time.monotonic_ns)
    monkeypatch.setattr(prawcore.sessions, "time", fake_time)
    monkeypatch.setattr(prawcore.rate_limit, "time", fake_time)
    return slept


def _source(fake: FakeReddit, **overrides) -> RedditSource:
    settings = RedditSettings(subreddits=["ChatGPT", "OpenAI"], oauth_url=fake.url, reddit_url=fake.url,
                              backfill_minutes=60, **overrides)
    return RedditSource(settings, Pseudonymiser(b"k" * 32), Secrets(environ=ENV))


def _posts(source: RedditSource, cursor: str | None = None):
    return [p for batch in source.batches(cursor) for p in batch.posts]


def test_read_only_app_auth_uses_client_credentials() -> None:
    with FakeReddit([submission("a", time.time() - 60, "chatgpt down")]) as fake:
        assert [p.source_id for p in _posts(_source(fake))] == ["t3_a"]
    assert parse_qs(fake.token_requests[0])["grant_type"] == ["client_credentials"]


def test_script_auth_uses_the_account_and_keeps_the_password_out_of_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with FakeReddit([submission("a", time.time() - 60, "chatgpt down")]) as fake:
        source = _source(fake, username="watcher-bot", password="${reddit_password}")
        assert len(_posts(source)) == 1
    body = parse_qs(fake.token_requests[0])
    assert body["grant_type"] == ["password"] and body["username"] == ["watcher-bot"]
    assert body["password"] == ["hunter2-password"]
    assert "hunter2-password" not in caplog.text and "the-client-secret" not in caplog.text


def test_a_secret_written_in_the_config_is_refused_with_its_place() -> None:
    text = '[[services]]\nname = "ChatGPT"\n\n[[sources]]\ntype = "reddit"\nclient_secret = "abc123"\n'
    with pytest.raises(ConfigError) as error:
        parse_settings(text)
    problem = error.value.problems[0]
    assert problem.place == "sources[0].client_secret" and problem.line == 6
    assert "${NAME}" in problem.fix


def test_exhausted_rate_limit_window_defers_the_next_poll_to_its_reset(praw_sleeps: list[float]) -> None:
    with FakeReddit([submission("a", time.time() - 60, "chatgpt down")]) as fake:
        fake.ratelimit = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "600", "x-ratelimit-reset": "120"}
        source = _source(fake)
        _posts(source)
    assert source.defer_until is not None
    assert 110 <= source.last.wait <= 125  # the scheduler waits for the reset, not praw inside a poll


def test_a_healthy_window_does_not_defer() -> None:
    with FakeReddit([submission("a", time.time() - 60, "chatgpt down")]) as fake:
        source = _source(fake)
        _posts(source)
    assert source.defer_until is None and source.last.wait <= 66


def test_deleted_and_removed_items_are_read_but_not_stored_and_comments_are() -> None:
    now = time.time()
    items = [
        submission("kept", now - 50, "chatgpt is down", selftext="for everyone?"),
        submission("deleted", now - 40, "chatgpt down", author=None, selftext="[deleted]"),
        submission("removed", now - 30, "chatgpt down", selftext="[removed]", removed_by_category="moderator"),
        comment("c1", now - 20, "same here, chatgpt broken"),
        comment("c2", now - 10, "[deleted]", author=None),
    ]
    with FakeReddit(items) as fake:
        source = _source(fake)
        batches = list(source.batches(None))
        posts = [p for b in batches for p in b.posts]
        assert sorted(p.source_id for p in posts) == ["t1_c1", "t3_kept"]
        assert posts[0].text == "chatgpt is down\n\nfor everyone?"
        assert posts[0].url.startswith("https://www.reddit.com/r/ChatGPT/comments/kept/")
        assert _posts(_source(fake), batches[-1].cursor) == []  # deleted ones do not come back either


def test_items_posted_late_within_the_overlap_are_picked_up_once() -> None:
    now = time.time()
    with FakeReddit([submission("a", now - 30, "chatgpt down")]) as fake:
        source = _source(fake, overlap_minutes=10)
        cursor = list(source.batches(None))[-1].cursor
        fake.items.append(submission("late", now - 300, "chatgpt down (approved late by a moderator)"))
        assert [p.source_id for p in _posts(_source(fake, overlap_minutes=10), cursor)] == ["t3_late"]
