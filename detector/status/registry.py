"""The status-page sources by format: the one place that knows every implementation (``base`` knows none)."""

from __future__ import annotations

from detector.status.atlassian import AtlassianStatusPage
from detector.status.base import StatusSource
from detector.status.feed import StatusFeed
from detector.sources.live_settings import StatusPageSettings


def build_status_source(settings: StatusPageSettings, **kwargs) -> StatusSource:
    """The status source for ``settings.format``."""
    if settings.format == "feed":
        return StatusFeed(settings, **kwargs)
    return AtlassianStatusPage(settings, **kwargs)
