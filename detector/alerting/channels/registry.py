"""Every kind of channel, by URL scheme: one explicit table, no folder scanning.

A plain http(s):// URL is a generic signed webhook, except the hosts Slack and Teams give out, which are
recognised as what they are. Any scheme not in the table is offered to apprise (discord://, tgram://,
ntfys://, ...). Factories get the URL with ``${NAME}`` secrets already filled in; their errors never
quote it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from detector.alerting.channels.base import Channel, ChannelError
from detector.alerting.channels.jsonl import JsonlChannel
from detector.alerting.channels.log import LogChannel
from detector.secrets import Secrets


Factory = Callable[[str, str, Secrets, str], Channel]
SLACK_HOSTS = ("hooks.slack.com",)
TEAMS_HOSTS = (".webhook.office.com", "outlook.office.com", ".logic.azure.com", ".powerplatform.com")


def _log(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    return LogChannel(name)


def _jsonl(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    path = urlsplit(url).path or url.split("://", 1)[1]
    if not path:
        raise ChannelError(f"channel {name!r}: jsonl:// needs a file path, e.g. jsonl:///var/log/alerts.jsonl")
    return JsonlChannel(Path(path), name)


def _slack(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    from detector.alerting.channels.slack import SlackChannel, slack_url

    if not url.split("://", 1)[1].strip("/"):
        raise ChannelError(f"channel {name!r}: slack:// needs the webhook path, e.g. slack://T000/B000/XXXX")
    return SlackChannel(name, slack_url(url))


def _teams(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    from detector.alerting.channels.teams import TeamsChannel, teams_url

    return TeamsChannel(name, teams_url(url))


def _pagerduty(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    from detector.alerting.channels.pagerduty import PagerDutyChannel, parse_pagerduty_url

    key, events_url, source = parse_pagerduty_url(url)
    if not key:
        raise ChannelError(f"channel {name!r}: pagerduty:// needs the routing key, e.g. pagerduty://${{PD_ROUTING_KEY}}")
    return PagerDutyChannel(name, key, events_url=events_url, source=source)


def _email(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    from detector.alerting.channels.email import email_from_url

    try:
        return email_from_url(name, url)
    except ValueError as error:
        if isinstance(error, ChannelError):
            raise
        raise ChannelError(f"channel {name!r}: {error}") from None


def _command(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    from detector.alerting.channels.command import command_from_url

    try:
        return command_from_url(name, url)
    except ValueError:
        raise ChannelError(f"channel {name!r}: cmd:// needs a command, e.g. cmd:///usr/local/bin/page-team") from None


def _http(name: str, url: str, secrets: Secrets, signing: str) -> Channel:
    host = (urlsplit(url).hostname or "").lower()
    if host in SLACK_HOSTS:
        return _slack(name, url, secrets, signing)
    if any(host == h.lstrip(".") or host.endswith(h) for h in TEAMS_HOSTS):
        return _teams(name, url, secrets, signing)
    from detector.alerting.channels.webhook import WebhookChannel

    return WebhookChannel(name, url, secret=secrets.get(signing))


FACTORIES: dict[str, Factory] = {
    "log": _log,
    "jsonl": _jsonl,
    "http": _http,
    "https": _http,
    "slack": _slack,
    "slack+http": _slack,
    "slack+https": _slack,
    "teams": _teams,
    "teams+http": _teams,
    "teams+https": _teams,
    "pagerduty": _pagerduty,
    "mailto": _email,
    "smtp": _email,
    "smtps": _email,
    "cmd": _command,
}


def channel_from_url(name: str, url: str, secrets: Secrets, signing_secret: str = "webhook_secret") -> Channel:
    """Build the channel a URL names; ``${NAME}`` references are filled from the secrets; a generic
    webhook is signed with the secret called ``signing_secret`` when it is set."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    factory = FACTORIES.get(scheme)
    expanded = secrets.expand(url)
    if factory is not None:
        return factory(name, expanded, secrets, signing_secret)
    if scheme:
        from detector.alerting.channels.apprise_channel import AppriseChannel, apprise_plugin

        if apprise_plugin(expanded) is not None:
            return AppriseChannel(name, expanded)
    raise ChannelError(
        f"channel {name!r}: unknown URL scheme {scheme + '://' if scheme else '(none)'}; "
        f"use one of: {', '.join(s + '://' for s in sorted(FACTORIES))} or an apprise URL"
    )
