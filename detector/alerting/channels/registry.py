"""Every kind of channel, by URL scheme: the modules' own declarations (``KIND``) collected in one explicit
list, no folder scanning. The registry knows no scheme, host or URL layout itself.

A plain http(s):// URL belongs to the kind whose ``hosts`` claim its host (Slack's and Teams' webhook
hosts), else to the generic signed webhook. Any scheme no kind declares is offered to apprise (discord://,
tgram://, ntfys://, ...). Builders get the URL with ``${NAME}`` secrets already filled in; their errors
never quote it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from detector.alerting.channels import command, email, jsonl, log, pagerduty, slack, teams, webhook
from detector.alerting.channels.base import Build, Channel, ChannelError, ChannelKind
from detector.secrets import Secrets

KINDS: tuple[ChannelKind, ...] = (
    log.KIND, jsonl.KIND, webhook.KIND, slack.KIND, teams.KIND, pagerduty.KIND, email.KIND, command.KIND,
)
FACTORIES: dict[str, Build] = {scheme: kind.build for kind in KINDS for scheme in kind.schemes}
_WEB = ("http", "https")

__all__ = ["FACTORIES", "KINDS", "ChannelError", "channel_from_url", "known_schemes"]


def known_schemes() -> str:
    """The schemes for an error message: ``cmd://, http://, ...``."""
    return ", ".join(s + "://" for s in sorted(FACTORIES))


def _build_for(scheme: str, url: str) -> Build | None:
    if scheme in _WEB:
        host = (urlsplit(url).hostname or "").lower()
        for kind in KINDS:
            if kind.claims_host(host):
                return kind.build
    return FACTORIES.get(scheme)


def channel_from_url(name: str, url: str, secrets: Secrets, signing_secret: str = "webhook_secret") -> Channel:
    """Build the channel a URL names; ``${NAME}`` references are filled from the secrets; a generic
    webhook is signed with the secret called ``signing_secret`` when it is set."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    expanded = secrets.expand(url)
    build = _build_for(scheme, expanded)
    if build is not None:
        return build(name, expanded, secrets, signing_secret)
    if scheme:
        from detector.alerting.channels.apprise_channel import AppriseChannel, apprise_plugin

        if apprise_plugin(expanded) is not None:
            return AppriseChannel(name, expanded)
    raise ChannelError(
        f"channel {name!r}: unknown URL scheme {scheme + '://' if scheme else '(none)'}; "
        f"use one of: {known_schemes()} or an apprise URL"
    )
