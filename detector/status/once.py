"""Polling status pages once, for commands that are not the long-running service (`detector replay
--status-pages`): the providers' incidents, with the times they were posted, go into the store, where
grouping and lead time read them as they read a running detector's."""

from __future__ import annotations

from typing import Any, Sequence

from detector.sources.polite import MalformedResponse, SourceUnavailable
from detector.status.registry import build_status_source
from detector.store.official import save_official
from detector.store.store import Store


def status_pages_of(settings: Any) -> list[Any]:
    """Every status page the config names: the services' ``status_page``, the statuspage sources and the
    upstreams' pages."""
    from detector.status.base import StatusPageSettings
    from detector.upstreams import upstream_status_settings

    pages = [s for s in settings.sources if isinstance(s, StatusPageSettings)]
    for service in settings.services:
        url = (service.status_page or "").rstrip("/")
        if url:
            kind = "feed" if url.lower().endswith((".rss", ".atom", ".xml")) else "atlassian"
            pages.append(StatusPageSettings(name=f"status:{service.name}", service=service.name, url=url, format=kind))
    pages += upstream_status_settings(settings.watched_upstreams())
    seen: set[tuple[str, str]] = set()
    return [p for p in pages if (p.service, p.url) not in seen and not seen.add((p.service, p.url))]


def poll_once(store: Store, pages: Sequence[Any]) -> tuple[int, list[str]]:
    """Read each page once and store its incidents; return (incidents stored, one line per page that failed)."""
    stored, failed = 0, []
    for page in pages:
        source = build_status_source(page)
        try:
            stored += save_official(store, source.incidents())
        except (SourceUnavailable, MalformedResponse) as error:
            failed.append(f"{page.name}: {error}")
        finally:
            source.close()
    return stored, failed
