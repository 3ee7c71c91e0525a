"""The status-source contract: a poll returns the provider's incidents as it reports them now.

Status pages are small and list their recent incidents whole, so there is no cursor: every poll upserts
what the page shows (an incident's status and resolution change over time) keyed by (source, external_id).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from typing import Callable

from detector.records import OfficialIncident
from detector.sources.live_settings import StatusPageSettings
from detector.backoff import Backoff
from detector.sources.polite import PoliteClient, RequestBudget

log = logging.getLogger("detector.status")


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
