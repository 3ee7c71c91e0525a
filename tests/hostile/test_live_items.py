"""Hostile items from live APIs on 127.0.0.1: one malformed or mis-dated item costs only itself, is quarantined
with its raw form, and never moves a cursor forward (issue 18, items 5 and 6)."""

from __future__ import annotations

import json
import time

from detector.pseudonym import Pseudonymiser
from detector.sources.bluesky import BlueskySource
from detector.sources.hackernews import HackerNewsSource
from detector.sources.bluesky import BlueskySettings
from detector.sources.hackernews import HackerNewsSettings
from detector.sources.mastodon import MastodonSettings
from detector.sources.mastodon import MastodonSource
from detector.sources.polite import Watermark
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.hackernews import FakeHackerNews
from tests.fakes.mastodon import FakeMastodon

KEY = Pseudonymiser(b"k" * 32)


def _poll(source, cursor=None):
    posts, rejected, last = [], [], cursor
    for batch in source.batches(cursor):
        posts += batch.posts
        rejected += batch.rejected
        last = batch.cursor
    return posts, rejected, last


def test_a_bluesky_author_that_is_a_string_costs_only_its_post():
    fake = FakeBluesky()
    now = time.time()
    fake.add("good1", now - 120, "acme is down")
    bad = fake.add("bad", now - 90, "acme down too")
    fake.add("good2", now - 60, "acme outage here")
    next(i for i in fake.items if i["uri"] == bad)["author"] = "did:plc:just-a-string"
    with fake.server:
        posts, rejected, _ = _poll(BlueskySource(BlueskySettings(queries=["acme"], base_url=fake.server.url), KEY))
    assert sorted(p.text for p in posts) == ["acme is down", "acme outage here"]
    [kept] = rejected
    assert kept.ref == bad and "malformed item" in kept.reason and "just-a-string" in kept.raw


def test_a_mastodon_account_that_is_a_string_costs_only_its_post():
    fake = FakeMastodon()
    now = time.time()
    fake.add("1", now - 120, "acme is down", tags=("acme",))
    fake.add("2", now - 90, "acme down too", tags=("acme",))
    fake.items[-1]["account"] = "someone"
    with fake.server:
        settings = MastodonSettings(instances=[fake.server.url], hashtags=["acme"])
        posts, rejected, _ = _poll(MastodonSource(settings, KEY))
    assert [p.text.split(" #")[0] for p in posts] == ["acme is down"]
    assert len(rejected) == 1 and "malformed item" in rejected[0].reason


def test_a_hacker_news_time_no_calendar_has_costs_only_its_hit():
    fake = FakeHackerNews()
    now = time.time()
    fake.add("1", now - 60, "Is Acme down?")
    fake.add("2", now - 30, "Acme outage thread")
    fake.items[-1]["created_at_i"] = 10**12 * 1000
    with fake.server:
        posts, rejected, _ = _poll(HackerNewsSource(HackerNewsSettings(queries=["acme"], base_url=fake.server.url), KEY))
    assert [p.source_id for p in posts] == ["1"]
    assert [r.ref for r in rejected] == ["2"]


def test_a_post_dated_two_days_ahead_is_quarantined_and_does_not_move_the_cursor():
    fake = FakeBluesky()
    now = time.time()
    fake.add("now", now - 60, "acme is down")
    fake.add("ahead", now + 2 * 86400, "acme is down in the future")
    with fake.server:
        source = BlueskySource(BlueskySettings(queries=["acme"], base_url=fake.server.url), KEY)
        posts, rejected, cursor = _poll(source)
        assert [p.text for p in posts] == ["acme is down"]
        assert len(rejected) == 1 and "ahead of this machine's clock" in rejected[0].reason
        assert Watermark.load(json.loads(cursor)["acme"]).t < now  # not two days ahead
        fake.add("later", now - 30, "acme still down")  # a post after the bad one is still read
        posts, _, _ = _poll(source, cursor)
    assert [p.text for p in posts] == ["acme still down"]
