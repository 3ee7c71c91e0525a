"""What a cascade's notification says, and who hears it.

The payload has the shape of an incident's (``alert``, ``evidence``, ``official_status`` ...) so every
channel renders it unchanged, with the cascade id as the incident id (PagerDuty's dedup key) and the likely
cause and affected services in its name and reason; the ``cascade`` block carries the JSON contract
(``likely_cause``, ``confidence``, ``services``, ``evidence``) for machine readers.
"""

from __future__ import annotations

from typing import Any, Sequence

from detector.alerting.grouping import UNKNOWN_CAUSE, Cascade
from detector.alerting.notification import dashboard_link, evidence_posts
from detector.alerting.settings import AlertSettings, ChannelSettings
from detector.records import SEVERITIES
from detector.store.store import Store


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def cascade_record(cascade: Cascade) -> dict[str, Any]:
    """The cascade as `detector alerts --groups --format json` and notifications give it."""
    return {
        "id": cascade.id, "likely_cause": cascade.likely_cause, "confidence": cascade.confidence,
        "status": cascade.status, "severity": cascade.severity, "opened_at": _iso(cascade.opened_at),
        "recognised_at": _iso(cascade.recognised_at), "resolved_at": _iso(cascade.resolved_at),
        "recognised_after_minutes": round((cascade.recognised_at - cascade.opened_at).total_seconds() / 60, 1),
        "services": list(cascade.services),
        "incidents": [{"id": m.alert_id, "service": m.service, "onset": _iso(m.onset), "severity": m.severity,
                       "status": m.status, "declares_dependency": m.declares, "posts_naming_cause": m.naming_share,
                       "paged_alone": m.paged} for m in cascade.members],
        "evidence": dict(cascade.evidence),
    }


def headline(cascade: Cascade) -> str:
    """'Cloudflare (likely) → Discord, Slack, Zoom': what the notification's title names."""
    cause = "cause unknown" if cascade.likely_cause == UNKNOWN_CAUSE else f"{cascade.likely_cause} (likely cause)"
    return f"Cascade, {cause}: {', '.join(cascade.services)}"


def build_cascade_payload(store: Store, cascade: Cascade, kind: str, at, settings: AlertSettings) -> dict[str, Any]:
    """The notification for a cascade event (``opened``, ``acknowledged``, ``resolved``)."""
    evidence = cascade.evidence
    official = list(evidence.get("official") or [])  # type: ignore[arg-type]
    onsets = "; ".join(f"{m.service} {m.onset:%H:%M}" for m in cascade.members)
    cause = ("no shared dependency or named upstream: grouped by timing" if cascade.likely_cause == UNKNOWN_CAUSE
             else f"likely cause {cascade.likely_cause}")
    reason = (f"{len(cascade.members)} service(s) in trouble together, {cause} (confidence "
              f"{cascade.confidence:.2f}); onsets (UTC) {onsets}")
    return {
        "event": kind,
        "at": _iso(at),
        "alert": {
            "id": cascade.id, "service": headline(cascade), "status": cascade.status, "severity": cascade.severity,
            "opened_at": _iso(cascade.opened_at), "resolved_at": _iso(cascade.resolved_at),
            "severity_ratio": None, "reason": reason,
        },
        "signal": None,
        "complaint_share": None,
        "top_symptoms": [], "symptoms": {}, "claims": [],
        "official_status": ({"title": official[0]["title"], "status": official[0]["status"], "impact": None,
                             "url": official[0]["url"], "started_at": official[0]["started_at"], "resolved_at": None}
                            if official else None),
        "evidence": evidence_posts(store, list(evidence.get("posts") or [])),  # type: ignore[arg-type]
        "dashboard_url": dashboard_link(settings, cascade.members[0].alert_id) if cascade.members else None,
        "cascade": cascade_record(cascade),
    }


def cascade_routes(cascade: Cascade, channels: Sequence[ChannelSettings]) -> list[str]:
    """Channels that hear of a cascade: those routing any member service, at the cascade's severity."""
    rank = SEVERITIES.index(cascade.severity)
    services = set(cascade.services)
    return [c.name for c in channels
            if (not c.services or services & set(c.services)) and rank >= SEVERITIES.index(c.min_severity)]
