"""Slack incoming webhooks, as Block Kit messages.

Why httpx and not apprise: apprise's Slack plug-in builds its own message and reports a bool, so it can
neither send our Block Kit layout nor tell a 429 (retry after N s) from a 404 (the webhook is gone).
"""

from __future__ import annotations

from typing import Any, Mapping

from detector.alerting.channels.base import ChannelError, ChannelKind
from detector.alerting.channels.http import HttpChannel, webhook_url
from detector.alerting.render import escape_slack, post_line, render
from detector.secrets import Secrets

SLACK_HOOKS = "https://hooks.slack.com/services/"


def _text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_blocks(notification: Mapping[str, Any]) -> dict[str, Any]:
    """The Block Kit message for a notification; ``text`` is the fallback for notifications and old clients."""
    r = render(notification)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _text(r.title, 150), "emoji": True}},
    ]
    for first in range(0, len(r.facts), 10):  # Slack takes at most ten fields per section
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": _text(f"*{label}*\n{escape_slack(value)}", 2000)}
            for label, value in r.facts[first:first + 10]
        ]})
    if r.summary:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _text(escape_slack(r.summary), 2000)}]})
    if r.posts:
        blocks.append({"type": "divider"})
        for post in r.posts:
            line = post_line(post, escape_slack)
            url = post.get("url")
            if url and url.startswith(("https://", "http://")):
                line += f" <{escape_slack(url).replace('|', '%7C')}|link>"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _text("> " + line, 3000)}})
    if r.link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open in dashboard"}, "url": r.link}
        ]})
    return {"text": _text(f"{r.title}. {r.summary}", 3000), "blocks": blocks}


class SlackChannel(HttpChannel):
    """Posts Block Kit messages to a Slack incoming webhook (the webhook URL is the secret)."""

    def __init__(self, name: str, webhook_url: str, *, timeout: float = 10.0) -> None:
        super().__init__(name, webhook_url, timeout=timeout, secrets=[webhook_url, _token(webhook_url)])

    def body(self, notification: Mapping[str, Any]) -> Any:
        return slack_blocks(notification)


def _token(url: str) -> str | None:
    parts = url.rstrip("/").rsplit("/", 1)
    return parts[1] if len(parts) == 2 and len(parts[1]) >= 8 else None


def slack_url(url: str) -> str:
    """The https webhook URL for slack://T.../B.../token (also accepts https://hooks.slack.com/... and
    slack+http(s)://host/path for a self-hosted relay or a test server)."""
    return webhook_url(url, "slack", SLACK_HOOKS)


def slack_from_url(name: str, url: str, secrets: Secrets, signing: str) -> SlackChannel:
    """slack://T000/B000/XXXX, slack+http(s)://host/path, or an https://hooks.slack.com/... URL."""
    if not url.split("://", 1)[1].strip("/"):
        raise ChannelError(f"channel {name!r}: slack:// needs the webhook path, e.g. slack://T000/B000/XXXX")
    return SlackChannel(name, slack_url(url))


KIND = ChannelKind(schemes=("slack", "slack+http", "slack+https"), build=slack_from_url, hosts=("hooks.slack.com",))
