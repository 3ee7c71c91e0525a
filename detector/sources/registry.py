"""Every kind of source, by the ``type`` its config entry names: the source modules' own declarations
(``KIND``: settings class and builder) collected in one explicit list, no folder scanning.

The registry knows no source's settings, API or queries. Importing it imports every source module (the
config's ``[[sources]]`` entries are validated against their settings classes), so a module keeps heavy
client libraries out of its top level (praw: ``reddit_requestor``).
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from detector.sources import bluesky, hackernews, mastodon, reddit, replay, rss
from detector.sources.base import SourceKind
from detector.status import registry as status

KINDS: dict[str, SourceKind] = {
    kind.settings.model_fields["type"].default: kind
    for kind in (replay.KIND, reddit.KIND, bluesky.KIND, mastodon.KIND, hackernews.KIND, rss.KIND, status.KIND)
}
SOURCE_TYPES: tuple[str, ...] = tuple(KINDS)
SourceSettings = Annotated[Union[tuple(kind.settings for kind in KINDS.values())], Field(discriminator="type")]
