"""The alert-channel contract: a notification in, a delivery result out, never an exception.

A channel that raised would stop the pipeline over a chat outage; instead ``send`` reports failure and
the outbox retries later. ``describe`` names the channel without its secret (URLs are masked).

A channel module declares itself with one ``ChannelKind``: the URL schemes it takes, the web hosts whose
plain https URLs are its own, and how it is built from a URL. ``registry.py`` only collects them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from detector.secrets import Secrets


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


# (channel name, URL with ${NAME} secrets filled in, the secrets, the name of the webhook signing secret)
Build = Callable[[str, str, Secrets, str], Channel]


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """What a channel module declares about itself. ``build`` raises ChannelError (never quoting the URL)
    when the URL lacks a part; ``hosts`` claim plain http(s) URLs (a leading dot: that domain's subdomains)."""

    schemes: tuple[str, ...]
    build: Build
    hosts: tuple[str, ...] = ()

    def claims_host(self, host: str) -> bool:
        """Whether a plain http(s) URL to ``host`` is this kind's (Slack's and Teams' webhook hosts)."""
        return any(host == h.lstrip(".") or (h.startswith(".") and host.endswith(h)) for h in self.hosts)
