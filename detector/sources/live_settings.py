"""Settings of the live sources, as ``[[sources]]`` entries: one class per ``type``, common politeness
knobs in one base.

Secrets (Reddit's client secret and password, a Mastodon token) are never written here: the fields hold a
``${NAME}`` reference, resolved from the environment (``DETECTOR_NAME``) or the secrets file at start.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_REFERENCE = re.compile(r"^\$\{(?:secret:)?[A-Za-z_][A-Za-z0-9_.-]*\}$")


def _must_be_reference(value: str | None) -> str | None:
    if value is not None and not _REFERENCE.match(value):
        raise ValueError("a secret cannot be written in the config; write ${NAME} and set DETECTOR_NAME "
                         "in the environment or NAME in the secrets file")
    return value


class LiveSourceSettings(BaseModel):
    """What every polled source has: a name, a pace, and the limits that keep it polite."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Source name stored with every post (unique per config).")
    service: str | None = Field(None, description="Every post of this source belongs to this service.")
    interval_seconds: float = Field(60.0, gt=0, description="Pause between polls when all is well.")
    timeout_seconds: float = Field(10.0, gt=0, description="Longest wait for one HTTP response.")
    max_requests_per_minute: int = Field(30, ge=1, description="Request budget; a spent budget waits for the next minute.")
    backoff_seconds: float = Field(5.0, gt=0, description="First wait after a failure; doubles per failure, with jitter.")
    max_backoff_seconds: float = Field(900.0, gt=0, description="Longest wait after repeated failures.")
    backfill_minutes: float = Field(60.0, ge=0, description="On a first start, read this far back.")
    overlap_minutes: float = Field(
        10.0, ge=0, description="Re-read this far behind the newest item, for items the API indexes late."
    )
    max_items: int = Field(500, ge=1, description="At most this many items per stream per poll (listing depth).")
    seen_size: int = Field(5000, ge=100, description="How many recent ids are remembered in memory.")
    max_text_bytes: int = Field(40_000, ge=1, description="Longer posts are quarantined as absurd (as in replay).")
    contact: str | None = Field(None, description="Contact (URL or e-mail) added to the user agent.")


class RedditSettings(LiveSourceSettings):
    """Reddit through praw: new submissions and comments of subreddits, and site-wide search."""

    type: Literal["reddit"] = "reddit"
    name: str = "reddit"
    subreddits: list[str] = Field(default_factory=list, description="Subreddits (without r/) to read.")
    comments: bool = Field(True, description="Also read the subreddits' new comments.")
    search: list[str] | None = Field(
        None, description="Site-wide search queries (newest first). Default: one query per watched service, "
        "its match terms joined with OR; [] for none.",
    )
    client_id: str = Field("${reddit_client_id}", description="The app's client id, usually as ${NAME}.")
    client_secret: str | None = Field("${reddit_client_secret}", description="The app's secret: a ${NAME} reference.")
    username: str | None = Field(None, description="Script auth: the account (read-only app auth when empty).")
    password: str | None = Field(None, description="Script auth: the account's password, a ${NAME} reference.")
    oauth_url: str = Field("https://oauth.reddit.com", description="Reddit's API base URL.")
    reddit_url: str = Field("https://www.reddit.com", description="Reddit's site URL (access tokens).")
    min_ratelimit_remaining: int = Field(5, ge=0, description="Pause until the rate-limit window resets below this.")

    @field_validator("client_secret", "password")
    @classmethod
    def _secrets_by_reference(cls, value: str | None) -> str | None:
        return _must_be_reference(value)


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
        return _must_be_reference(value)


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


class RssSettings(LiveSourceSettings):
    """RSS or Atom feeds (news searches, subreddit feeds, forums) through feedparser."""

    type: Literal["rss"] = "rss"
    name: str = "rss"
    feeds: list[str] = Field(min_length=1, description="Feed URLs.")


class StatusPageSettings(BaseModel):
    """A provider's official status: an Atlassian Statuspage (v2 API) or an RSS/Atom status feed."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["statuspage"] = "statuspage"
    name: str = Field(min_length=1, description="Name of this status source (stored with its incidents).")
    service: str = Field(description="The watched service this page reports on.")
    url: str = Field(description="The status page base URL, or the feed URL for format = 'feed'.")
    format: Literal["atlassian", "feed"] = Field("atlassian", description="Statuspage v2 JSON, or RSS/Atom.")
    interval_seconds: float = Field(60.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    max_requests_per_minute: int = Field(10, ge=1)
    backoff_seconds: float = Field(5.0, gt=0)
    max_backoff_seconds: float = Field(900.0, gt=0)
    contact: str | None = None
