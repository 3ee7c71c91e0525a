"""Mastodon: hashtag timelines of each configured instance (public), and status search (with a token).

Timelines are newest first and paged with ``max_id`` back to the stream's watermark. A status is stored
under its ``uri``, which is the same on every instance that federates it, so one toot seen through two
instances is one post.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator

from detector.pseudonym import Pseudonymiser
from detector.records import Post, Rejected
from detector.secrets import Secrets
from detector.sources.base import SourceKind
from detector.sources.html_text import html_to_text
from detector.sources.live_settings import LiveSourceSettings, must_be_reference
from detector.sources.polite import MalformedResponse, Watermark
from detector.sources.polling import Entry, HttpPollingSource
from detector.timeparse import parse_time


class MastodonSettings(LiveSourceSettings):
    """Mastodon: hashtag timelines of instances (public), and status search (needs a token)."""

    type: Literal["mastodon"] = "mastodon"
    name: str = "mastodon"
    instances: list[str] = Field(min_length=1, description="Instance base URLs, e.g. ['https://mastodon.social'].")
    hashtags: list[str] = Field(default_factory=list, description="Hashtags without '#'.")
    search: list[str] = Field(default_factory=list, description="Status searches (need `token`).")
    token: str | None = Field(None, description="Access token for search, a ${NAME} reference.")
    page_size: int = Field(40, ge=1, le=40)

    @field_validator("token")
    @classmethod
    def _token_by_reference(cls, value: str | None) -> str | None:
        return must_be_reference(value)


class MastodonSource(HttpPollingSource):
    """Statuses under the configured hashtags (and searches) of the configured instances."""

    def __init__(self, settings: MastodonSettings, pseudonymiser: Pseudonymiser, secrets: Secrets | None = None,
                 **kwargs: Any) -> None:
        super().__init__(settings, pseudonymiser, secrets, **kwargs)
        self.settings: MastodonSettings = settings
        self._token = self.secrets.expand(settings.token) if settings.token else None

    def streams(self) -> list[str]:
        out = []
        for instance in self.settings.instances:
            base = instance.rstrip("/")
            out += [f"tag {base} {tag.lstrip('#')}" for tag in self.settings.hashtags]
            if self._token:
                out += [f"search {base} {query}" for query in self.settings.search]
        return out

    def read_stream(self, stream: str, since: Watermark) -> list[Entry]:
        kind, base, term = stream.split(" ", 2)
        if kind == "tag":
            url = f"{base}/api/v1/timelines/tag/{quote(term, safe='')}"
            params: dict[str, Any] = {"limit": self.settings.page_size}
            headers = None
        else:
            url = f"{base}/api/v2/search"
            params = {"q": term, "type": "statuses", "resolve": "false", "limit": self.settings.page_size, "offset": 0}
            headers = {"Authorization": f"Bearer {self._token}"}
        host = urlsplit(base).hostname or base
        entries: list[Entry] = []
        while len(entries) < self.settings.max_items:
            page = self.client.get_json(url, params, headers)
            statuses = page.get("statuses") if kind == "search" and isinstance(page, dict) else page
            if not isinstance(statuses, list):
                raise MalformedResponse("Mastodon answer is not a list of statuses", url, str(page)[:4000])
            found = [self.item_entry(self._entry, status, host, since.t, undated=since.t) for status in statuses]
            fresh = [e for e in found if not since.behind(e.t, self.overlap)]
            entries += fresh
            if not statuses or len(fresh) < len(found):
                break  # an empty page, or the watermark is reached
            if kind == "tag":
                params["max_id"] = statuses[-1].get("id")
            else:
                params["offset"] += len(statuses)
        else:
            self.depth_reached(stream)
        return entries

    def _entry(self, status: Any, host: str, undated: float) -> Entry:
        uri = status.get("uri") if isinstance(status, dict) else None
        if not uri:
            return Entry(str(status)[:64], undated, Rejected(self.name, host, "status without uri", str(status)[:4000]))
        try:
            created = parse_time(status.get("created_at"))
        except ValueError as error:
            return Entry(uri, undated, Rejected(self.name, uri[:256], f"bad created_at: {error}", str(status)[:4000]))
        t = created.timestamp()
        if status.get("reblog"):
            return Entry(uri, t, None)  # a boost: the original is the post
        text = "\n".join(p for p in (status.get("spoiler_text") or "", html_to_text(status.get("content"))) if p)
        if not text.strip():
            return Entry(uri, t, None)
        account = status.get("account") or {}
        acct = account.get("acct") or account.get("username")
        if acct and "@" not in acct:
            acct = f"{acct}@{host}"
        return Entry(uri, t, Post(
            source=self.name, source_id=uri[:256], created_at=created, text=text, author=self.author(acct),
            url=status.get("url") or uri, lang=status.get("language"),
        ))


KIND = SourceKind(settings=MastodonSettings, build=MastodonSource)
