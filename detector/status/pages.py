"""The status pages a config implies beyond its ``statuspage`` sources: each service's ``status_page`` and
each watched upstream's page (evidence for cascades), once each. `detector run` polls them (unless
``[run] status_pages`` is off) and `detector replay --status-pages` reads them once: one rule for both."""

from __future__ import annotations

from typing import Any

from detector.status.base import StatusPageSettings
from detector.upstreams import upstream_status_settings


def _page_key(page: StatusPageSettings) -> tuple[str, str]:
    return page.service, page.url.rstrip("/")


def implied_status_pages(settings: Any) -> list[StatusPageSettings]:
    """A status source for every service's and watched upstream's status page that no configured
    ``statuspage`` source already covers (same service, same URL)."""
    seen = {_page_key(s) for s in settings.sources if isinstance(s, StatusPageSettings)}
    pages = []
    for service in settings.services:
        url = (service.status_page or "").rstrip("/")
        if url:
            kind = "feed" if url.lower().endswith((".rss", ".atom", ".xml")) else "atlassian"
            pages.append(StatusPageSettings(name=f"status:{service.name}", service=service.name, url=url, format=kind))
    pages += upstream_status_settings(settings.watched_upstreams())
    return [p for p in pages if _page_key(p) not in seen and not seen.add(_page_key(p))]


def status_pages_of(settings: Any) -> list[StatusPageSettings]:
    """Every status page the config names: its ``statuspage`` sources and the implied ones."""
    return [*(s for s in settings.sources if isinstance(s, StatusPageSettings)), *implied_status_pages(settings)]
