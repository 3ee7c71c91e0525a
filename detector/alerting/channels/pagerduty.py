"""PagerDuty Events API v2: trigger, acknowledge and resolve one PagerDuty incident per our incident.

The ``dedup_key`` is our incident id, so an escalation re-triggers (updates) the same PagerDuty
incident, a resolve closes it, and a retried trigger is folded into it by PagerDuty itself: the protocol
is idempotent per key. Why httpx and not apprise: apprise's PagerDuty plug-in only triggers, has no
acknowledge / resolve with our dedup key, and reports a bool instead of the status we retry on.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

from detector.alerting.channels.base import ChannelError, ChannelKind
from detector.alerting.channels.http import HttpChannel
from detector.alerting.render import plain, render
from detector.secrets import Secrets

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
EU_EVENTS_URL = "https://events.eu.pagerduty.com/v2/enqueue"
ACTIONS = {
    "opened": "trigger", "escalated": "trigger", "reopened": "trigger", "unsuppressed": "trigger",
    "updated": "trigger", "acknowledged": "acknowledge", "resolved": "resolve",
}
SEVERITY = {"minor": "warning", "major": "error", "critical": "critical"}


def pagerduty_event(notification: Mapping[str, Any], routing_key: str, source: str = "outage-detector") -> dict:
    """The Events API v2 document for a notification."""
    alert = notification.get("alert", {})
    action = ACTIONS.get(str(notification.get("event")), "trigger")
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": alert.get("id")}
    if action != "trigger":
        return event
    r = render(notification)
    event["payload"] = {
        "summary": plain(f"{r.title}: {r.summary}")[:1024],
        "source": source,
        "severity": SEVERITY.get(alert.get("severity"), "warning"),
        "timestamp": notification.get("at"),
        "component": alert.get("service"),
        "group": "social-signal",
        "class": "outage",
        "custom_details": {
            **{label: value for label, value in r.facts},
            "posts": [{"text": p.get("text"), "author": p.get("author"), "url": p.get("url"),
                       "at": p.get("created_at")} for p in r.posts],
        },
    }
    links = [{"href": r.link, "text": "Incident in the dashboard"}] if r.link else []
    links += [{"href": p["url"], "text": f"Post {i + 1}"} for i, p in enumerate(r.posts)
              if str(p.get("url") or "").startswith(("https://", "http://"))][:3]
    if links:
        event["links"] = links
    event["client"] = "outage-detector"
    if r.link:
        event["client_url"] = r.link
    return event


class PagerDutyChannel(HttpChannel):
    """Sends Events API v2 events for one PagerDuty service (its integration / routing key is the secret)."""

    def __init__(self, name: str, routing_key: str, *, events_url: str = EVENTS_URL, source: str = "outage-detector",
                 timeout: float = 10.0) -> None:
        super().__init__(name, events_url, timeout=timeout, secrets=[routing_key])
        self.routing_key = routing_key
        self.source = source

    def body(self, notification: Mapping[str, Any]) -> Any:
        return pagerduty_event(notification, self.routing_key, self.source)

    def describe(self) -> str:
        return f"{self.name} (pagerduty://***, events at {self.url})"


def parse_pagerduty_url(url: str) -> tuple[str, str, str]:
    """(routing key, events URL, source) from pagerduty://ROUTING_KEY[?events_url=...|region=eu][&source=...]."""
    parts = urlsplit(url)
    key = (parts.netloc + parts.path).strip("/")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    events_url = query.get("events_url") or (EU_EVENTS_URL if query.get("region", "").lower() == "eu" else EVENTS_URL)
    return key, events_url, query.get("source", "outage-detector")


def pagerduty_from_url(name: str, url: str, secrets: Secrets, signing: str) -> PagerDutyChannel:
    """pagerduty://ROUTING_KEY[?events_url=...|region=eu][&source=...]."""
    key, events_url, source = parse_pagerduty_url(url)
    if not key:
        raise ChannelError(f"channel {name!r}: pagerduty:// needs the routing key, e.g. pagerduty://${{PD_ROUTING_KEY}}")
    return PagerDutyChannel(name, key, events_url=events_url, source=source)


KIND = ChannelKind(schemes=("pagerduty",), build=pagerduty_from_url)
