"""The status-source contract: a poll returns the provider's incidents as it reports them now.

Status pages are small and list their recent incidents whole, so there is no cursor: every poll upserts
what the page shows (an incident's status and resolution change over time) keyed by (source, external_id).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from detector.records import require_utc
from detector.sources.live_settings import StatusPageSettings
from detector.backoff import Backoff
from detector.sources.polite import PoliteClient, RequestBudget

log = logging.getLogger("detector.status")


@dataclass(frozen=True, slots=True)
class OfficialIncident:
    """One incident as the provider posted it; ``started_at`` is when the provider first said so."""

    service: str
    source: str
    external_id: str
    title: str
    started_at: datetime
    updated_at: datetime
    status: str | None = None
    impact: str | None = None
    url: str | None = None
    resolved_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("started_at", "updated_at", "resolved_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, require_utc(value, f"OfficialIncident.{name}"))


class StatusSource(ABC):
    """A provider's status page or feed, polled for its incidents."""

    def __init__(
        self,
        settings: StatusPageSettings,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self.service = settings.service
        self.backoff = Backoff(settings.backoff_seconds, settings.max_backoff_seconds, rng)
        self.client = PoliteClient(
            settings.name, timeout=settings.timeout_seconds, contact=settings.contact,
            budget=RequestBudget(settings.max_requests_per_minute, 60.0, clock),
        )

    @abstractmethod
    def incidents(self) -> list[OfficialIncident]:
        """The incidents the provider lists now; raises SourceUnavailable or MalformedResponse."""

    def close(self) -> None:
        self.client.close()
