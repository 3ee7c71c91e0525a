"""Every kind of source, by the ``type`` its config entry names: one explicit table, no folder scanning."""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Union

from pydantic import Field

from detector.sources.live_settings import (
    BlueskySettings,
    HackerNewsSettings,
    MastodonSettings,
    RedditSettings,
    RssSettings,
    StatusPageSettings,
)
from detector.sources.replay_settings import ReplaySettings

_SETTINGS = (ReplaySettings, RedditSettings, BlueskySettings, MastodonSettings, HackerNewsSettings, RssSettings,
             StatusPageSettings)
SourceSettings = Annotated[Union[_SETTINGS], Field(discriminator="type")]
SOURCE_TYPES: tuple[str, ...] = tuple(cls.model_fields["type"].default for cls in _SETTINGS)

# type -> "module:class" of the live post sources (imported when used, so praw loads only for Reddit)
LIVE_SOURCES: dict[str, str] = {
    "reddit": "detector.sources.reddit:RedditSource",
    "bluesky": "detector.sources.bluesky:BlueskySource",
    "mastodon": "detector.sources.mastodon:MastodonSource",
    "hackernews": "detector.sources.hackernews:HackerNewsSource",
    "rss": "detector.sources.rss:RssSource",
}


def live_source_class(kind: str) -> Any:
    """The class of the live source ``kind``; KeyError for an unknown one."""
    module, _, name = LIVE_SOURCES[kind].partition(":")
    return getattr(importlib.import_module(module), name)
