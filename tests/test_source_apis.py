"""What is particular to each non-Reddit API: Hacker News comments, Mastodon's federation and token,
Bluesky's cursor, feeds without dates."""

from __future__ import annotations

import time

from detector.pseudonym import Pseudonymiser
from detector.secrets import Secrets
from detector.sources.bluesky import BlueskySource
from detector.sources.hackernews import HackerNewsSource
from detector.sources.html_text import html_to_text
from detector.sources.bluesky import BlueskySettings
from detector.sources.hackernews import HackerNewsSettings
from detector.sources.mastodon import MastodonSettings
from detector.sources.rss import RssSettings
from detector.sources.mastodon import MastodonSource
from detector.sources.rss import RssSource
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.hackernews import FakeHackerNews
from tests.fakes.mastodon import TOKEN, FakeMastodon
from tests.fakes.rss import FakeFeed

KEY = Pseudonymiser(b"k" * 32)


def _read(source, cursor=None):
    posts, rejected = [], []
    for batch in source.batches(cursor):
        posts += batch.posts
        rejected += batch.rejected
    return posts, rejected


def test_hacker_news_reads_stories_and_comments_as_text() -> None:
    fake = FakeHackerNews()
    fake.add("1", time.time() - 60, "Is ChatGPT down?")
    fake.add("2", time.time() - 30, "chatgpt gives me <i>502</i> errors &amp; timeouts", kind="comment")
    with fake.server:
        posts, _ = _read(HackerNewsSource(HackerNewsSettings(queries=["chatgpt"], base_url=fake.server.url), KEY))
    by_id = {p.source_id: p for p in posts}
    assert by_id["1"].text == "Is ChatGPT down?" and by_id["1"].metadata["kind"] == "story"
    assert by_id["2"].text == "chatgpt gives me 502 errors & timeouts" and by_id["2"].metadata["kind"] == "comment"
    assert by_id["2"].url == "https://news.ycombinator.com/item?id=2"


def test_mastodon_one_toot_through_two_instances_is_one_post_and_search_needs_the_token() -> None:
    one, two = FakeMastodon(), FakeMastodon()
    now = time.time()
    for fake in (one, two):
        fake.add("same", now - 60, "chatgpt is down", author="alice")
    one.add("own", now - 30, "chatgpt broken again", author="bob")
    with one.server, two.server:
        settings = MastodonSettings(instances=[one.server.url, two.server.url], hashtags=["chatgpt"],
                                    search=["broken"], token="${mastodon_token}")
        without = MastodonSource(settings.model_copy(update={"token": None}), KEY, Secrets(environ={}))
        assert all(s.startswith("tag ") for s in without.streams())  # search is skipped without a token
        source = MastodonSource(settings, KEY, Secrets(environ={"DETECTOR_MASTODON_TOKEN": TOKEN}))
        posts, _ = _read(source)
    assert sorted(p.text for p in posts) == ["chatgpt broken again #chatgpt", "chatgpt is down #chatgpt"]
    searches = [r for r in one.server.requests if r.path == "/api/v2/search"]
    assert searches and searches[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_bluesky_follows_the_cursor_and_stops_at_the_watermark() -> None:
    fake = FakeBluesky()
    now = time.time()
    for i in range(30):
        fake.add(f"p{i}", now - 600 + i, f"chatgpt down {i}", author=f"a{i}")
    with fake.server:
        source = BlueskySource(BlueskySettings(queries=["chatgpt"], base_url=fake.server.url, page_size=10), KEY)
        posts, _ = _read(source)
        cursors = [r.query.get("cursor") for r in fake.server.requests]
    assert len(posts) == 30 and cursors == [None, "10", "20"]
    assert posts[0].url == "https://bsky.app/profile/a0.bsky.social/post/p0" and posts[0].lang == "en"


def test_feed_entries_without_a_date_are_quarantined_not_guessed() -> None:
    fake = FakeFeed()
    fake.add("dated", time.time() - 60, "ChatGPT outage thread")
    fake.add("undated", time.time() - 30, "ChatGPT down again?", dated=False)
    with fake.server:
        posts, rejected = _read(RssSource(RssSettings(feeds=[fake.server.url + "/feed.xml"]), KEY))
    assert [p.text for p in posts] == ["ChatGPT outage thread\n\ndetails"]
    assert [r.reason for r in rejected] == ["entry without a date"]


def test_html_to_text_keeps_paragraphs_and_drops_markup() -> None:
    assert html_to_text("<p>Is <b>it</b> down?</p><p>yes &amp; no</p><script>x()</script>") == "Is it down?\nyes & no"
