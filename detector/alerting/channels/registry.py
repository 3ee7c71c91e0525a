"""Every kind of channel, by URL scheme: one explicit table, no folder scanning."""

from __future__ import annotations

from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from detector.alerting.channels.base import Channel
from detector.alerting.channels.jsonl import JsonlChannel
from detector.alerting.channels.log import LogChannel
from detector.secrets import Secrets


class ChannelError(ValueError):
    """A channel URL that cannot be used (unknown scheme, missing part); the message never holds secrets."""


def _log(name: str, url: str, secrets: Secrets) -> Channel:
    return LogChannel(name)


def _jsonl(name: str, url: str, secrets: Secrets) -> Channel:
    path = urlsplit(url).path or url.split("://", 1)[1]
    if not path:
        raise ChannelError(f"channel {name!r}: jsonl:// needs a file path, e.g. jsonl:///var/log/alerts.jsonl")
    return JsonlChannel(Path(path), name)


FACTORIES: dict[str, Callable[[str, str, Secrets], Channel]] = {
    "log": _log,
    "jsonl": _jsonl,
}


def channel_from_url(name: str, url: str, secrets: Secrets) -> Channel:
    """Build the channel a URL names; ``${NAME}`` references are filled from the secrets."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    factory = FACTORIES.get(scheme)
    if factory is None:
        raise ChannelError(
            f"channel {name!r}: unknown URL scheme {scheme + '://' if scheme else '(none)'}; "
            f"use one of: {', '.join(s + '://' for s in sorted(FACTORIES))}"
        )
    return factory(name, secrets.expand(url), secrets)
