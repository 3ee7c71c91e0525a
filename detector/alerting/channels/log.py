"""A channel that writes one line per notification to the program's log."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from detector.alerting.channels.base import Channel, ChannelKind, Delivery
from detector.secrets import Secrets

log = logging.getLogger("detector.alerts")


class LogChannel(Channel):
    """Notifications as log lines: the zero-configuration channel."""

    def __init__(self, name: str = "log") -> None:
        self.name = name

    def send(self, notification: Mapping[str, Any]) -> Delivery:
        alert = notification.get("alert", {})
        log.warning(
            "%s %s incident %s (%s): %s",
            alert.get("service"), notification.get("event"), alert.get("id"), alert.get("severity"),
            alert.get("reason"),
        )
        return Delivery(ok=True)


def log_from_url(name: str, url: str, secrets: Secrets, signing: str) -> LogChannel:
    """log:// (nothing after the scheme is read)."""
    return LogChannel(name)


KIND = ChannelKind(schemes=("log",), build=log_from_url)
