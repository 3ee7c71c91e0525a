"""A generic JSON webhook: the notification payload as is, signed with HMAC-SHA256.

Headers: ``Idempotency-Key`` (the outbox key: the same notification always carries the same key, so a
receiver can drop a retry it already has), ``X-Detector-Event``, ``X-Detector-Timestamp`` (Unix seconds)
and ``X-Detector-Signature: sha256=<hex>``, the HMAC of ``"<timestamp>." + body`` with the shared
``webhook_secret``; signing the timestamp lets a receiver refuse old replays. Without a secret the
notification goes unsigned (and the CLI says so once). httpx, because it is one POST and we need the
status code to decide between retrying and giving up.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Mapping

from detector.alerting.channels.base import ChannelKind
from detector.alerting.channels.http import Clock, HttpChannel, now_utc
from detector.secrets import Secrets

SIGNATURE_HEADER = "X-Detector-Signature"
TIMESTAMP_HEADER = "X-Detector-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Detector-Signature`` value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, header: str, *, now: datetime | None = None,
                     tolerance_s: float = 300.0) -> bool:
    """What a receiver runs: True when ``header`` signs ``body`` and the timestamp is recent."""
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    if abs((now or now_utc()).timestamp() - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


class WebhookChannel(HttpChannel):
    """POSTs the notification JSON to a URL, signed when a secret is configured."""

    def __init__(self, name: str, url: str, *, secret: str | None = None, timeout: float = 10.0,
                 clock: Clock = now_utc) -> None:
        super().__init__(name, url, timeout=timeout, secrets=[secret, *_url_secrets(url)])
        self._secret = secret
        self.clock = clock

    @property
    def signed(self) -> bool:
        return bool(self._secret)

    def body(self, notification: Mapping[str, Any]) -> Any:
        return dict(notification)

    def headers(self, notification: Mapping[str, Any], content: bytes) -> dict[str, str]:
        headers = super().headers(notification, content)
        headers["X-Detector-Event"] = str(notification.get("event", ""))
        timestamp = str(int(self.clock().timestamp()))
        headers[TIMESTAMP_HEADER] = timestamp
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, timestamp, content)
        return headers

    def describe(self) -> str:
        return super().describe() + ("" if self.signed else " unsigned")


def _url_secrets(url: str) -> list[str]:
    """Parts of a webhook URL that are usually secret: credentials, the query, a long last path segment."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password or "", parts.query]
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if len(last) >= 16:
        found.append(last)
    return [f for f in found if f]


def webhook_from_url(name: str, url: str, secrets: Secrets, signing: str) -> WebhookChannel:
    """Any http(s) URL no other kind claims by its host, signed with the secret called ``signing`` if set."""
    return WebhookChannel(name, url, secret=secrets.get(signing))


KIND = ChannelKind(schemes=("http", "https"), build=webhook_from_url)
