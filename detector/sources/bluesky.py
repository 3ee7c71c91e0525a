"""Bluesky's public search, ``app.bsky.feed.searchPosts`` with ``sort=latest``: newest first, paginated
with the API's opaque ``cursor`` until the page reaches the stream's watermark."""

from __future__ import annotations

from typing import Any, Literal, Self, Sequence

from pydantic import Field

from detector.records import Post, Rejected
from detector.sources.base import SourceKind
from detector.sources.live_settings import LiveSourceSettings, service_terms
from detector.sources.polite import MalformedResponse, Watermark
from detector.sources.polling import Entry, HttpPollingSource
from detector.timeparse import parse_time


class BlueskySettings(LiveSourceSettings):
    """Bluesky's public post search (app.bsky.feed.searchPosts), newest first, cursor-paginated."""

    type: Literal["bluesky"] = "bluesky"
    name: str = "bluesky"
    queries: list[str] | None = Field(
        None, description="Search queries, e.g. ['chatgpt down']. Default: each watched service's match terms."
    )
    base_url: str = Field("https://public.api.bsky.app", description="The AppView base URL.")
    lang: str | None = Field(None, description="Only posts in this language (e.g. 'en').")
    page_size: int = Field(100, ge=1, le=100)

    def for_services(self, services: Sequence[Any]) -> Self:
        """Left unset, ``queries`` are the watched services' match terms, one query per term (the API ANDs
        a query's words)."""
        return self if self.queries is not None else self.model_copy(update={"queries": service_terms(services)})


class BlueskySource(HttpPollingSource):
    """Posts matching each configured query."""

    settings: BlueskySettings

    def streams(self) -> list[str]:
        return list(self.settings.queries or ())

    def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
        url = f"{self.settings.base_url.rstrip('/')}/xrpc/app.bsky.feed.searchPosts"
        params: dict[str, Any] = {"q": stream, "sort": "latest", "limit": self.settings.page_size}
        if self.settings.lang:
            params["lang"] = self.settings.lang
        entries: list[Entry] = []
        while len(entries) < self.settings.max_items:
            page = self.client.get_json(url, params)
            if not isinstance(page, dict) or not isinstance(page.get("posts"), list):
                raise MalformedResponse("searchPosts answer has no posts list", url, str(page)[:4000])
            reached = False
            for raw in page["posts"]:
                entry = self.item_entry(self._entry, raw, since.t, undated=since.t)
                if since.behind(entry.t, self.overlap):
                    reached = True
                    break
                entries.append(entry)
            cursor = page.get("cursor")
            if reached or not cursor or not page["posts"]:
                break
            params["cursor"] = cursor
        else:
            self.depth_reached(stream)
        return entries

    def _entry(self, raw: Any, undated: float) -> Entry:
        # an item without a usable time is quarantined at the watermark's time, so it cannot move it
        uri = raw.get("uri") if isinstance(raw, dict) else None
        record = raw.get("record") if isinstance(raw, dict) else None
        if not uri or not isinstance(record, dict):
            return Entry(str(uri or raw)[:256], undated,
                         Rejected(self.name, str(uri or "searchPosts")[:256], "post without uri or record", str(raw)[:4000]))
        try:
            created = parse_time(record.get("createdAt") or raw.get("indexedAt"))
        except ValueError as error:
            return Entry(uri, undated, Rejected(self.name, uri[:256], f"bad createdAt: {error}", str(raw)[:4000]))
        text = str(record.get("text") or "").strip()
        t = created.timestamp()
        if not text:
            return Entry(uri, t, None)  # an image-only post: nothing to classify
        author = raw.get("author") or {}
        handle = author.get("handle") or author.get("did")
        rkey = uri.rsplit("/", 1)[-1]
        langs = record.get("langs") or []
        return Entry(uri, t, Post(
            source=self.name, source_id=uri[:256], created_at=created, text=text,
            author=self.author(author.get("did") or handle),
            url=f"https://bsky.app/profile/{handle}/post/{rkey}" if handle else None,
            lang=langs[0] if langs else None,
        ))


KIND = SourceKind(settings=BlueskySettings, build=BlueskySource)
