"""Status pages as sources: a poll yields one batch with the provider's incidents as it reports them now.

Status pages are small and list their recent incidents whole, so there is no cursor: every poll upserts
what the page shows (an incident's status and resolution change over time) keyed by (source, external_id).
A format (``atlassian``, ``feed``) only says how to read the page's incidents; polling, backoff and
reporting how the poll went are the ``Source`` contract's, kept here once.
"""

from __future__ import annotations

import logging
import random
import time
from abc import abstractmethod
from typing import Any, Callable, Iterator, Literal, Self, Sequence

from pydantic import BaseModel, ConfigDict, Field

from detector.records import OfficialIncident
from detector.backoff import Backoff
from detector.sources.base import PollResult, Source, SourceBatch
from detector.sources.polite import MalformedResponse, PoliteClient, RequestBudget, SourceUnavailable

log = logging.getLogger("detector.status")


class StatusPageSettings(BaseModel):
    """A provider's official status: an Atlassian Statuspage (v2 API) or an RSS/Atom status feed."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["statuspage"] = "statuspage"
    name: str = Field(min_length=1, description="Name of this status source (stored with its incidents).")
    service: str = Field(description="The watched service this page reports on.")
    url: str = Field(description="The status page base URL, or the feed URL for format = 'feed'.")
    format: Literal["atlassian", "feed"] = Field("atlassian", description="Statuspage v2 JSON, or RSS/Atom.")
    interval_seconds: float = Field(60.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    max_requests_per_minute: int = Field(10, ge=1)
    backoff_seconds: float = Field(5.0, gt=0)
    max_backoff_seconds: float = Field(900.0, gt=0)
    contact: str | None = None

    def for_services(self, services: Sequence[Any]) -> Self:
        """The same settings: a status page reads its provider's incidents, it searches for nothing."""
        return self


class StatusSource(Source):
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

    def batches(self, cursor: str | None) -> Iterator[SourceBatch]:
        """One poll: a batch with the incidents the page lists now (``cursor`` is unused: the page is read
        whole). An unreachable or unreadable page yields nothing and says so in ``last``, with the wait."""
        requests = self.client.requests
        try:
            incidents = self.incidents()
        except (SourceUnavailable, MalformedResponse) as error:
            log.warning("status source %s: %s", self.name, error)
            wait = max(getattr(error, "wait", None) or 0.0, self.backoff.failed())
            self.last = PollResult(new=0, wait=wait, error=str(error), kind=getattr(error, "kind", "malformed"),
                                   requests=self.client.requests - requests)
            return
        self.last = PollResult(new=len(incidents), wait=self.backoff.quiet(self.settings.interval_seconds),
                               requests=self.client.requests - requests)
        yield SourceBatch(posts=(), official=tuple(incidents))

    def close(self) -> None:
        self.client.close()
