"""Microsoft Teams incoming webhooks (and Power Automate workflow URLs), as Adaptive Cards.

Why httpx and not apprise: apprise's Teams plug-in sends a legacy MessageCard and reports a bool; we want
an Adaptive Card (what Teams workflows accept) and the HTTP status to decide between retry and give up.
"""

from __future__ import annotations

from typing import Any, Mapping

from detector.alerting.channels.base import ChannelKind
from detector.alerting.channels.http import HttpChannel, webhook_url
from detector.alerting.render import escape_markdown, post_line, render
from detector.secrets import Secrets


def adaptive_card(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The Teams message (an Adaptive Card attachment) for a notification."""
    r = render(notification)
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": escape_markdown(r.title), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": [{"title": label, "value": escape_markdown(value)} for label, value in r.facts]},
    ]
    if r.summary:
        body.append({"type": "TextBlock", "text": escape_markdown(r.summary), "isSubtle": True, "wrap": True})
    for post in r.posts:
        line = post_line(post, escape_markdown)
        url = post.get("url")
        if url and url.startswith(("https://", "http://")):
            line += f" [link]({url.replace(')', '%29').replace(' ', '%20')})"
        body.append({"type": "TextBlock", "text": line, "wrap": True, "separator": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if r.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in dashboard", "url": r.link}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                         "content": card}],
    }


class TeamsChannel(HttpChannel):
    """Posts Adaptive Cards to a Teams webhook URL (the URL is the secret)."""

    def __init__(self, name: str, webhook_url: str, *, timeout: float = 10.0) -> None:
        super().__init__(name, webhook_url, timeout=timeout, secrets=[webhook_url, webhook_url.split("?", 1)[0]])

    def body(self, notification: Mapping[str, Any]) -> Any:
        return adaptive_card(notification)


def teams_url(url: str) -> str:
    """https URL for teams://host/path (or teams+http(s)://host/path; a plain https URL is kept)."""
    return webhook_url(url, "teams", "https://")


def teams_from_url(name: str, url: str, secrets: Secrets, signing: str) -> TeamsChannel:
    """teams://host/path, teams+http(s)://host/path, or a Teams / Power Automate https URL."""
    return TeamsChannel(name, teams_url(url))


KIND = ChannelKind(
    schemes=("teams", "teams+http", "teams+https"), build=teams_from_url,
    hosts=(".webhook.office.com", "outlook.office.com", ".logic.azure.com", ".powerplatform.com"),
)
