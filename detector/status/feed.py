"""RSS/Atom status feeds (a Statuspage's history.rss, or any provider's incident feed): one entry is one
incident; it is resolved when its latest text says so."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone

from detector.sources.polite import MalformedResponse
from detector.status.base import OfficialIncident, StatusSource

_RESOLVED = re.compile(r"\b(resolved|completed|operational again)\b", re.IGNORECASE)


class StatusFeed(StatusSource):
    """Incidents of a status feed."""

    def incidents(self) -> list[OfficialIncident]:
        import feedparser  # here, not at the top: the config imports the status sources for their settings

        response = self.client.get(self.settings.url)
        feed = feedparser.parse(response.content)
        if feed.bozo and not feed.entries:
            raise MalformedResponse(f"unreadable feed ({feed.get('bozo_exception')})", self.settings.url,
                                    response.text[:4000])
        out = []
        for entry in feed.entries:
            published = _time(entry, "published_parsed") or _time(entry, "updated_parsed")
            if published is None:
                continue
            updated = _time(entry, "updated_parsed") or published
            text = f"{entry.get('title', '')} {entry.get('summary', '')}"
            resolved = _RESOLVED.search(_latest_update(entry.get("summary", ""))) is not None
            out.append(OfficialIncident(
                service=self.service, source=self.name,
                external_id=str(entry.get("id") or entry.get("link") or entry.get("title"))[:256],
                title=str(entry.get("title") or "")[:500], started_at=published, updated_at=updated,
                status="resolved" if resolved else ("investigating" if text.strip() else None),
                url=entry.get("link"), resolved_at=updated if resolved else None,
            ))
        return out


def _time(entry, key: str) -> datetime | None:
    value = dict.get(entry, key)  # not entry.get: feedparser would map updated to published, with a warning
    return datetime.fromtimestamp(calendar.timegm(value), timezone.utc) if value else None


def _latest_update(summary: str) -> str:
    """Statuspage feeds list updates newest first; the first paragraph is the current state."""
    text = re.sub(r"<[^>]+>", " ", summary)
    return text.strip()[:200]
