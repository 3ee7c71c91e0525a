"""Every kind of channel, by URL scheme: the channel modules, named in one explicit list (no folder
scanning), each declaring itself with a ``KIND``. The registry knows no scheme, host or URL layout itself.

A plain http(s):// URL belongs to the kind whose ``hosts`` claim its host (Slack's and Teams' webhook
hosts), else to the generic signed webhook. Any scheme no kind declares is offered to apprise (discord://,
tgram://, ntfys://, ...). Builders get the URL with ``${NAME}`` secrets already filled in; their errors
never quote it. The modules are imported when asked for, so a command that sends nothing does not load
httpx or smtplib.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from detector.alerting.channels.base import Build, Channel, ChannelError, ChannelKind
from detector.secrets import Secrets

MODULES = ("log", "jsonl", "webhook", "slack", "teams", "pagerduty", "email", "command")
_WEB = ("http", "https")

__all__ = ["ChannelError", "channel_from_url", "kinds", "known_schemes", "schemes"]


def kinds() -> tuple[ChannelKind, ...]:
    """Every channel module's declaration, in the order of ``MODULES``."""
    return tuple(importlib.import_module(f"detector.alerting.channels.{name}").KIND for name in MODULES)


def schemes() -> dict[str, Build]:
    """URL scheme -> the builder of the kind that declares it."""
    return {scheme: kind.build for kind in kinds() for scheme in kind.schemes}


def known_schemes() -> str:
    """The schemes for an error message: ``cmd://, http://, ...``."""
    return ", ".join(s + "://" for s in sorted(schemes()))


def _build_for(scheme: str, url: str) -> Build | None:
    if scheme in _WEB:
        host = (urlsplit(url).hostname or "").lower()
        for kind in kinds():
            if kind.claims_host(host):
                return kind.build
    return schemes().get(scheme)


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
