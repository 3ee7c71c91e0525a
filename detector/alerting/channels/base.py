"""The alert-channel contract: a notification in, a delivery result out, never an exception.

A channel that raised would stop the pipeline over a chat outage; instead ``send`` reports failure and
the outbox retries later. ``describe`` names the channel without its secret (URLs are masked).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping


class ChannelError(ValueError):
    """A channel URL that cannot be used (unknown scheme, missing part); the message never holds secrets."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one send went. ``retry_after`` (seconds) honours a server's Retry-After; ``permanent`` means
    retrying cannot help (a 4xx other than 408/429)."""

    ok: bool
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False


class Channel(ABC):
    """Somewhere notifications go."""

    name: str

    @abstractmethod
    def send(self, notification: Mapping[str, Any]) -> Delivery:
        """Deliver one notification; return the outcome, never raise."""

    def describe(self) -> str:
        """The channel for humans and logs, secrets masked."""
        return self.name
