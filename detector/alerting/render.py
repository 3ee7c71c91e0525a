"""Turning a notification payload into words: one wording for every channel, each escaping its own way.

Channels differ in markup (Slack mrkdwn, Teams Markdown, HTML e-mail, plain text); what they say is the
same, so it is decided here once. Post text is the only untrusted input: it goes through the channel's
``escape`` before it is placed in markup, so a post cannot ping @channel, inject links or break a card.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

HEADLINES = {
    "opened": "outage suspected",
    "escalated": "outage escalated",
    "reopened": "outage is back",
    "unsuppressed": "outage continues after maintenance",
    "updated": "outage update",
    "acknowledged": "incident acknowledged",
    "resolved": "resolved",
}
SEVERITY_MARK = {"minor": "🟡", "major": "🟠", "critical": "🔴"}


def escape_slack(text: str) -> str:
    """Slack mrkdwn: only &, < and > are special (they make links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKDOWN = re.compile(r"([\\`*_\[\]<>])")


def escape_markdown(text: str) -> str:
    """Teams / CommonMark: backslash the characters that make emphasis, code, links and HTML (no more:
    Teams shows other backslashes literally)."""
    return _MARKDOWN.sub(r"\\\1", text)


def escape_html(text: str) -> str:
    return html.escape(text, quote=True)


def plain(text: str) -> str:
    """Plain text: one line, control characters dropped."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


@dataclass(frozen=True, slots=True)
class Rendered:
    """The wording of one notification: a title, facts as (label, value) pairs, and evidence lines."""

    title: str
    summary: str
    facts: list[tuple[str, str]]
    posts: list[dict[str, Any]]
    link: str | None


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "?"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def render(notification: Mapping[str, Any], max_posts: int = 5) -> Rendered:
    """What every channel says about ``notification``."""
    alert = notification.get("alert", {})
    signal = notification.get("signal") or {}
    event = notification.get("event", "updated")
    severity = alert.get("severity", "minor")
    service = plain(str(alert.get("service", "?")))
    title = f"{SEVERITY_MARK.get(severity, '')} {service}: {HEADLINES.get(event, event)} ({severity})".strip()
    facts: list[tuple[str, str]] = [
        ("Service", service),
        ("Incident", str(alert.get("id"))),
        ("Status", str(alert.get("status"))),
        ("Started", str(alert.get("opened_at"))),
    ]
    if alert.get("resolved_at"):
        facts.append(("Resolved", str(alert["resolved_at"])))
    if signal:
        facts.append(("Now vs expected (per minute)",
                      f"{_number(signal.get('value'))} vs {_number(signal.get('expected'), 2)}"))
        facts.append(("Ratio (now / peak)", f"{_number(signal.get('ratio'))}x / {_number(alert.get('peak_ratio'))}x"))
    else:
        facts.append(("Peak ratio", f"{_number(alert.get('peak_ratio'))}x"))
    share = notification.get("complaint_share")
    if share is not None:
        facts.append(("Complaint share", f"{share:.0%}"))
    symptoms = notification.get("symptoms") or {}
    if symptoms:
        facts.append(("Top symptoms", ", ".join(f"{plain(k)} ({v})" for k, v in list(symptoms.items())[:3])))
    claims = notification.get("claims") or []
    if claims:
        facts.append(("Misinformation claims", ", ".join(f"{plain(c['claim'])} ({c['posts']})" for c in claims)))
    official = notification.get("official_status")
    facts.append(("Official status", plain(f"{official.get('status') or '?'}: {official.get('title')}")
                  if official else "not known"))
    summary = plain(str(alert.get("reason") or ""))
    return Rendered(title, summary, facts, list(notification.get("evidence") or [])[:max_posts],
                    notification.get("dashboard_url"))


def post_line(post: Mapping[str, Any], escape: Callable[[str], str], limit: int = 280) -> str:
    """One evidence post as a line: escaped text, pseudonymous author, time (the link is the channel's)."""
    text = plain(str(post.get("text") or ""))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    author = post.get("author") or "unknown"
    return f"{escape(text)} — user {escape(str(author)[:10])}, {escape(str(post.get('created_at', ''))[:19])}"
