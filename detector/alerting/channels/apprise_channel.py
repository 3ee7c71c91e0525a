"""Any service apprise knows (Discord, Telegram, ntfy, Matrix, ...), by apprise's own URL scheme.

apprise fits where we only need "post this text there" and no protocol semantics: it reports a bool, so a
failure is always retried (never known to be permanent, no Retry-After). Slack, Teams, PagerDuty, e-mail
and webhooks have their own channels because there we need the status codes and our own payloads.
"""

from __future__ import annotations

from typing import Any, Mapping

from detector.alerting.channels.base import Channel, Delivery
from detector.alerting.render import escape_markdown, post_line, render


def apprise_plugin(url: str):
    """The apprise plug-in for ``url``, or None if apprise does not know the URL."""
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


class AppriseChannel(Channel):
    """Sends a Markdown summary through one apprise URL."""

    def __init__(self, name: str, url: str) -> None:
        import apprise

        self.name = name
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ValueError("apprise does not accept this URL")
        self._private = self._apprise[0].url(privacy=True)

    def send(self, notification: Mapping[str, Any]) -> Delivery:
        import apprise

        try:
            r = render(notification)
            lines = [r.summary, ""] + [f"**{label}**: {escape_markdown(value)}" for label, value in r.facts]
            lines += [f"- {post_line(p, escape_markdown)}" for p in r.posts]
            if r.link:
                lines.append(f"[Open in dashboard]({r.link})")
            ok = self._apprise.notify(body="\n".join(lines), title=r.title, body_format=apprise.NotifyFormat.MARKDOWN)
        except Exception as error:  # never raise into the sender
            return Delivery(ok=False, error=f"apprise: {type(error).__name__}")
        return Delivery(ok=True) if ok else Delivery(ok=False, error=f"apprise could not deliver to {self._private}")

    def describe(self) -> str:
        return f"{self.name} ({self._private})"
