"""What the settings of every polled source share: the politeness knobs, the rule that secrets are
written as references, and how a search left empty takes the watched services' match terms. Each source
module declares its own settings class (a ``[[sources]]`` entry with its ``type``) on this base.

Secrets (Reddit's client secret and password, a Mastodon token) are never written here: the fields hold a
``${NAME}`` reference, resolved from the environment (``DETECTOR_NAME``) or the secrets file at start.
"""

from __future__ import annotations

import re
from typing import Any, Self, Sequence

from pydantic import BaseModel, ConfigDict, Field

_REFERENCE = re.compile(r"^\$\{(?:secret:)?[A-Za-z_][A-Za-z0-9_.-]*\}$")


def must_be_reference(value: str | None) -> str | None:
    """``value`` when it is a ``${NAME}`` reference (or unset); a secret written in clear is refused."""
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

    def for_services(self, services: Sequence[Any]) -> Self:
        """These settings with what is left empty filled from the watched services (their match terms);
        a source that searches nothing by default keeps them as they are."""
        return self


def service_terms(services: Sequence[Any], limit: int = 10) -> list[str]:
    """Every watched service's match terms, once each, at most ``limit``: one search per term for the APIs
    that AND a query's words (Bluesky, Hacker News)."""
    return list(dict.fromkeys(t for s in services for t in s.match))[:limit]
