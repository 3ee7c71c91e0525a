"""What every HTTP channel shares: one POST, the response read as a Delivery, secrets kept out of logs.

A 2xx is delivered; 429 and 5xx are retried (honouring Retry-After); 408 and 425 are retried; any other
4xx is permanent, because sending the same request again cannot succeed. Transport errors and timeouts
are retried. Error texts name the status and a short, masked excerpt of the body, never the URL.
Secret values are registered with ``detector.masking`` (which keeps them out of the HTTP libraries' logs).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

import httpx

from detector.alerting.channels.base import Channel, Delivery
from detector.masking import mask_text, register_secrets
from detector.timeparse import retry_after_seconds

USER_AGENT = "outage-detector/0.1 (+alerting)"
RETRYABLE_4XX = {408, 425, 429}

def webhook_url(url: str, service: str, default_prefix: str) -> str:
    """The https URL a ``service://`` webhook URL stands for: ``service+http(s)://host/path`` points at a
    self-hosted relay or a test server, a plain http(s) URL is kept, and ``service://rest`` becomes
    ``default_prefix + rest`` (without the slashes around ``rest``)."""
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme in (f"{service}+http", f"{service}+https"):
        return f"{scheme.split('+')[1]}://{rest}"
    if scheme in ("http", "https"):
        return url
    return default_prefix + rest.strip("/")


def mask_url(url: str) -> str:
    """Scheme, host and port of ``url``; path, query and credentials become *** (they carry the secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.split("://", 1)[0] + "://***"
    rest = "/***" if parts.path.strip("/") or parts.query else ""
    user = "***@" if parts.username or parts.password else ""
    return f"{parts.scheme}://{user}{host}{port}{rest}"


def delivery_from_response(response: httpx.Response, secrets: Iterable[str] = ()) -> Delivery:
    """How a response went: delivered, worth retrying (and when), or permanently refused."""
    status = response.status_code
    if 200 <= status < 300:
        return Delivery(ok=True)
    excerpt = mask_text(" ".join(response.text[:200].split()), secrets) if response.content else ""
    error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    if status in RETRYABLE_4XX or status >= 500:
        return Delivery(ok=False, error=error, retry_after=retry_after)
    if 300 <= status < 400:
        # not followed (a redirect could carry the signed body somewhere else); retrying cannot change it
        where = response.headers.get("Location", "")
        return Delivery(ok=False, error=f"HTTP {status}: redirected{' to ' + mask_url(where) if where else ''}; "
                        "put the new address in the channel's URL", permanent=True)
    return Delivery(ok=False, error=error, permanent=400 <= status < 500)


class HttpChannel(Channel):
    """A channel that POSTs JSON to one URL; subclasses say what the body and headers are."""

    def __init__(self, name: str, url: str, *, timeout: float = 10.0, secrets: Iterable[str] = ()) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout
        self._secrets = tuple(s for s in secrets if s)
        register_secrets(self._secrets)
        self._client: httpx.Client | None = None

    # -- what subclasses provide --------------------------------------------------------------------
    def body(self, notification: Mapping[str, Any]) -> Any:
        """The JSON document to send for ``notification``."""
        return dict(notification)

    def headers(self, notification: Mapping[str, Any], content: bytes) -> dict[str, str]:
        """Extra headers for this request (the idempotency key by default)."""
        key = notification.get("key")
        return {"Idempotency-Key": str(key)} if key else {}

    def accept(self, response: httpx.Response) -> Delivery:
        """Read the response (a subclass may know a protocol's own error bodies)."""
        return delivery_from_response(response, self._secrets)

    # -- the contract -------------------------------------------------------------------------------
    def send(self, notification: Mapping[str, Any]) -> Delivery:
        try:
            content = json.dumps(self.body(notification), ensure_ascii=False, separators=(",", ":"),
                                 default=str).encode("utf-8")
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                       **self.headers(notification, content)}
            response = self.client.post(self.url, content=content, headers=headers)
        except httpx.TimeoutException:
            return Delivery(ok=False, error=f"no answer within {self.timeout:g}s")
        except httpx.HTTPError as error:
            return Delivery(ok=False, error=self.scrub(f"{type(error).__name__}: {error}"))
        except Exception as error:  # a channel never raises into the sender
            return Delivery(ok=False, error=self.scrub(f"{type(error).__name__}: {error}"))
        return self.accept(response)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            # No redirects: a redirected webhook would carry the payload (and signature) somewhere else.
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def scrub(self, text: str) -> str:
        return mask_text(text.replace(self.url, mask_url(self.url)), self._secrets)

    def describe(self) -> str:
        return f"{self.name} ({mask_url(self.url)})"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


Clock = Callable[[], datetime]
