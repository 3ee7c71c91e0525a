"""The status-page sources by format: the one place that knows every implementation (``base`` knows none),
and the status page's declaration as a ``[[sources]]`` type (``statuspage``)."""

from __future__ import annotations

import random
import time
from typing import Any, Callable

from detector.sources.base import SourceKind
from detector.status.atlassian import AtlassianStatusPage
from detector.status.base import StatusPageSettings, StatusSource
from detector.status.feed import StatusFeed


def build_status_source(
    settings: StatusPageSettings, pseudonymiser: Any = None, secrets: Any = None, *,
    rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic,
) -> StatusSource:
    """The status source for ``settings.format`` (a status page has no authors to pseudonymise and no
    secrets: those two arguments are the source contract's, unused here)."""
    if settings.format == "feed":
        return StatusFeed(settings, rng=rng, clock=clock)
    return AtlassianStatusPage(settings, rng=rng, clock=clock)


KIND = SourceKind(settings=StatusPageSettings, build=build_status_source)
