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


LIVE_EVENTS = ("opened", "escalated", "reopened", "unsuppressed", "updated")
RESOLVED_MARK = "✅"


def _clock(iso: str | None) -> str:
    """'14:50 UTC' from an ISO time ('?' without one)."""
    return "?" if not iso else f"{str(iso)[11:16]} UTC"


def _minutes(value: float | int | None) -> str:
    if value is None:
        return "?"
    hours, minutes = divmod(int(round(value)), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def peak_text(peak: Mapping[str, Any] | None, unit: str) -> str:
    """The peak as every channel words it (``detector.comms.facts.Peak.describe`` wording)."""
    if not peak:
        return "no counted minutes yet"
    head = f"{_number(peak.get('value'))} {unit} at {_clock(peak.get('at'))}"
    expected, ratio = peak.get("expected"), peak.get("ratio")
    if expected is None or ratio is None:
        return head
    if expected < 1:
        return f"{head}, where under 1 was expected ({ratio:.1f}×)"
    return f"{head}, against {expected:.1f} expected ({ratio:.1f}×)"


def rumour_text(claim: Mapping[str, Any]) -> str:
    """One rumour for a message: the known claim's text, verdict and reference, or an example post."""
    posts = claim.get("posts", "?")
    if claim.get("claim") and claim.get("verdict"):
        answer = f"; answer: {claim['reference']}" if claim.get("reference") else ""
        return plain(f"\"{claim.get('text')}\" ({claim['verdict']}, {posts} posts{answer})")
    example = plain(str(claim.get("example") or ""))[:200]
    if claim.get("claim"):  # a claim id whose file was not given to this run
        return plain(f"{claim['claim']} ({posts} posts)")
    return f"not in the claims file: {posts} posts like \"{example}\""


def _what_is_new(notification: Mapping[str, Any], figures: Mapping[str, Any]) -> str:
    """What this message adds to the previous one (only the opening message repeats the opening reason)."""
    alert = notification.get("alert", {})
    event = notification.get("event", "updated")
    people = (figures.get("people") or {}).get("total")
    unit = figures.get("unit", "per minute")
    if event == "resolved":
        stopped = figures.get("last_report")
        wait = figures.get("resolve_wait_minutes")
        text = f"Reports back to normal: the last report came at {_clock(stopped)}" if stopped else "Reports back to normal"
        text += f"; resolved at {_clock(alert.get('resolved_at'))}"
        text += f", after {_minutes(wait)} without unusual reports" if wait is not None else ""
        return text + (f". {people} people reported it in all." if people is not None else ".")
    if event == "acknowledged":
        return f"Acknowledged by {plain(str(notification.get('by') or 'on-call'))}."
    change = notification.get("since_last") or {}
    parts = []
    if event == "escalated" and change.get("severity"):
        before, after = change["severity"]
        parts.append(f"Severity {before} → {after} since the message {change.get('event_minutes_ago', '?')} min ago")
    elif event == "reopened":
        parts.append("Reports rose again after the incident was resolved")
    elif event == "unsuppressed":
        parts.append("Still above normal after the maintenance window")
    if change.get("people"):
        parts.append(f"people reporting {change['people'][0]} → {change['people'][1]}")
    if event != "opened" and figures.get("peak"):
        parts.append("peak " + peak_text(figures["peak"], unit))
    if event == "opened" or not parts:
        return plain(str(alert.get("reason") or ""))
    return plain("; ".join(parts) + ".")


def render(notification: Mapping[str, Any], max_posts: int = 5) -> Rendered:
    """What every channel says about ``notification``."""
    alert = notification.get("alert", {})
    signal = notification.get("signal") or {}
    figures = notification.get("figures") or {}
    event = notification.get("event", "updated")
    severity = alert.get("severity", "minor")
    service = plain(str(alert.get("service", "?")))
    if event == "resolved":
        title = f"{RESOLVED_MARK} {service}: resolved (was {severity})"
    else:
        title = f"{SEVERITY_MARK.get(severity, '')} {service}: {HEADLINES.get(event, event)} ({severity})".strip()
    unit = figures.get("unit", "per minute")
    facts: list[tuple[str, str]] = [
        ("Service", service),
        ("Incident", str(alert.get("id"))),
        ("Status", str(alert.get("status"))),
        ("Started", str(alert.get("opened_at"))),
    ]
    people = figures.get("people") or {}
    if event == "resolved" or alert.get("resolved_at"):
        facts.append(("Reports stopped (last report)", str(figures.get("last_report") or "?")))
        facts.append(("Resolved", str(alert.get("resolved_at"))))
    elif event in LIVE_EVENTS:
        now = figures.get("now") or ({"value": signal.get("value"), "expected": signal.get("expected")} if signal else None)
        if now:
            trend = f", {figures['trend']}" if figures.get("trend") else ""
            expected = now.get("expected")
            against = ("under 1 expected" if isinstance(expected, (int, float)) and expected < 1
                       else f"expected {_number(expected, 1)}")
            facts.append(("Now", f"{_number(now.get('value'))} {unit} ({against}){trend}"))
    if figures:
        facts.append(("Peak", peak_text(figures.get("peak"), unit)))
    elif alert.get("severity_ratio") is not None:  # no counted minutes to take a peak from (a test message)
        facts.append(("Severity ratio", f"{_number(alert.get('severity_ratio'))}× expected over the deciding window"))
    if people:
        reporting = f"{people.get('total')} in all"
        if people.get("now") is not None:
            reporting += f", {people['now']} in the last {people.get('now_minutes', 15)} min"
        facts.append(("People reporting", reporting))
    share = notification.get("complaint_share")
    if share is not None:
        facts.append(("Complaint share", f"{share:.0%}"))
    symptoms = notification.get("symptoms") or {}
    if symptoms:
        facts.append(("Top symptoms", ", ".join(f"{plain(k)} ({v})" for k, v in list(symptoms.items())[:3])))
    if figures.get("where"):
        facts.append(("Where", plain(str(figures["where"]))))
    claims = notification.get("claims") or []
    if claims:
        facts.append(("Rumours", " | ".join(rumour_text(c) for c in claims)))
    official = notification.get("official_status")
    facts.append(("Official status", plain(f"{official.get('status') or '?'}: {official.get('title')}")
                  if official else "not known"))
    summary = _what_is_new(notification, figures) if figures else plain(str(alert.get("reason") or ""))
    return Rendered(title, summary, facts, list(notification.get("evidence") or [])[:max_posts],
                    notification.get("dashboard_url"))


def post_line(post: Mapping[str, Any], escape: Callable[[str], str], limit: int = 280) -> str:
    """One evidence post as a line: escaped text, pseudonymous author, time (the link is the channel's)."""
    text = plain(str(post.get("text") or ""))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    author = post.get("author") or "unknown"
    return f"{escape(text)} — user {escape(str(author)[:10])}, {escape(str(post.get('created_at', ''))[:19])}"
