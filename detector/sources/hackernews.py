"""Hacker News through Algolia's ``search_by_date``: stories and comments newest first, filtered on the
server to what is newer than the stream's watermark (``numericFilters=created_at_i>=``), paged by number."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Self, Sequence

from pydantic import Field

from detector.records import Post, Rejected
from detector.sources.base import SourceKind
from detector.sources.html_text import html_to_text
from detector.sources.live_settings import LiveSourceSettings, service_terms
from detector.sources.polite import MalformedResponse, Watermark
from detector.sources.polling import Entry, HttpPollingSource


class HackerNewsSettings(LiveSourceSettings):
    """Hacker News through the Algolia search API, by date: stories and comments."""

    type: Literal["hackernews"] = "hackernews"
    name: str = "hackernews"
    queries: list[str] | None = Field(
        None, description="Search queries. Default: each watched service's match terms."
    )
    tags: list[Literal["story", "comment"]] = Field(["story", "comment"], min_length=1)
    base_url: str = Field("https://hn.algolia.com", description="The Algolia HN API base URL.")
    page_size: int = Field(100, ge=1, le=1000)

    def for_services(self, services: Sequence[Any]) -> Self:
        """Left unset, ``queries`` are the watched services' match terms, one query per term (the API ANDs
        a query's words)."""
        return self if self.queries is not None else self.model_copy(update={"queries": service_terms(services)})


class HackerNewsSource(HttpPollingSource):
    """Stories and comments matching each configured query."""

    settings: HackerNewsSettings

    def streams(self) -> list[str]:
        return list(self.settings.queries or ())

    def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
        url = f"{self.settings.base_url.rstrip('/')}/api/v1/search_by_date"
        floor = int(since.t - self.overlap)
        params: dict[str, Any] = {
            "query": stream, "tags": "(" + ",".join(self.settings.tags) + ")",
            "numericFilters": f"created_at_i>={floor}", "hitsPerPage": self.settings.page_size, "page": 0,
        }
        entries: list[Entry] = []
        while len(entries) < self.settings.max_items:
            page = self.client.get_json(url, params)
            if not isinstance(page, dict) or not isinstance(page.get("hits"), list):
                raise MalformedResponse("search_by_date answer has no hits list", url, str(page)[:4000])
            entries += [self.item_entry(self._entry, hit, since.t, undated=since.t) for hit in page["hits"]]
            pages = page.get("nbPages")
            params["page"] += 1
            if not page["hits"] or not isinstance(pages, int) or params["page"] >= pages:
                break
        else:
            self.depth_reached(stream)
        return [e for e in entries if not since.behind(e.t, self.overlap)]

    def _entry(self, hit: Any, undated: float) -> Entry:
        object_id = str(hit.get("objectID") or "") if isinstance(hit, dict) else ""
        created = hit.get("created_at_i") if isinstance(hit, dict) else None
        if not object_id or not isinstance(created, (int, float)):
            ref = object_id or "search_by_date"
            return Entry(ref, undated, Rejected(self.name, ref, "hit without objectID or created_at_i", str(hit)[:4000]))
        tags = hit.get("_tags") or []
        if "comment" in tags or hit.get("comment_text") is not None:
            text = html_to_text(hit.get("comment_text"))
            link = f"https://news.ycombinator.com/item?id={object_id}"
        else:
            text = "\n\n".join(p for p in (hit.get("title") or "", html_to_text(hit.get("story_text"))) if p)
            link = f"https://news.ycombinator.com/item?id={object_id}"
        t = float(created)
        if not text.strip():
            return Entry(object_id, t, None)  # a deleted comment or a bare link
        return Entry(object_id, t, Post(
            source=self.name, source_id=object_id, created_at=datetime.fromtimestamp(t, timezone.utc),
            text=text, author=self.author(hit.get("author")), url=link,
            metadata={"kind": "comment" if "comment" in tags else "story", "points": hit.get("points")},
        ))


KIND = SourceKind(settings=HackerNewsSettings, build=HackerNewsSource)
