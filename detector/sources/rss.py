"""RSS and Atom feeds (news searches, subreddit feeds, forums) through feedparser.

The feed is fetched through the polite client (so timeouts, budgets and backoff apply) and parsed by
feedparser. A feed lists its latest entries whole each time, so the watermark's ids keep re-listed entries
from counting twice; an entry without any date is quarantined rather than guessed.
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import Field

from detector.records import Post, Rejected
from detector.sources.base import SourceKind
from detector.sources.html_text import html_to_text
from detector.sources.live_settings import LiveSourceSettings
from detector.sources.polite import MalformedResponse, Watermark
from detector.sources.polling import Entry, HttpPollingSource


class RssSettings(LiveSourceSettings):
    """RSS or Atom feeds (news searches, subreddit feeds, forums) through feedparser."""

    type: Literal["rss"] = "rss"
    name: str = "rss"
    feeds: list[str] = Field(min_length=1, description="Feed URLs.")


class RssSource(HttpPollingSource):
    """Entries of the configured feeds."""

    settings: RssSettings
    accept = "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"

    def streams(self) -> list[str]:
        return list(self.settings.feeds)

    def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
        import feedparser  # here, not at the top: the config imports this module for RssSettings

        response = self.client.get(stream)
        feed = feedparser.parse(response.content)
        if feed.bozo and not feed.entries:
            raise MalformedResponse(f"unreadable feed ({type(feed.get('bozo_exception')).__name__})",
                                    stream.split("?", 1)[0], response.text[:4000])
        entries = [self.item_entry(self._entry, raw, stream, since.t, undated=since.t)
                   for raw in feed.entries[: self.settings.max_items]]
        return [e for e in entries if not since.behind(e.t, self.overlap)]

    def _entry(self, raw: Any, feed: str, undated: float) -> Entry:
        link = raw.get("link")
        entry_id = str(raw.get("id") or link or "")
        if not entry_id:
            entry_id = "sha:" + hashlib.sha256(str(raw.get("title", "")).encode()).hexdigest()[:24]
        entry_id = entry_id[:256]
        stamp = dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")  # no feedparser remapping
        if not stamp:
            return Entry(entry_id, undated, Rejected(self.name, entry_id, "entry without a date", str(raw.get("title"))[:4000]))
        created = datetime.fromtimestamp(calendar.timegm(stamp), timezone.utc)
        title = html_to_text(raw.get("title"))
        summary = html_to_text(raw.get("summary"))
        text = "\n\n".join([title, summary] if summary and summary != title else [title or summary])
        if not text.strip():
            return Entry(entry_id, created.timestamp(), None)
        return Entry(entry_id, created.timestamp(), Post(
            source=self.name, source_id=entry_id, created_at=created, text=text, author=self.author(raw.get("author")),
            url=link, metadata={"feed": feed.split("?", 1)[0]},
        ))


KIND = SourceKind(settings=RssSettings, build=RssSource)
