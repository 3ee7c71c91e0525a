"""What a notification says: the incident, the signal against its baseline, and the posts behind it.

The payload is built when the change is recorded (so the outbox holds exactly what was true then) and is
plain JSON: each channel renders it in its own format and escapes post text for that format.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence
from urllib.parse import quote

import sqlalchemy as sa

from detector.alerting.manager import AlertChange
from detector.alerting.settings import AlertSettings, ChannelSettings
from detector.records import SEVERITIES, Post, Verdict
from detector.store import schema
from detector.store.store import Store


def post_view(post: Post, verdict: Verdict) -> dict[str, Any]:
    """A post as notifications show it (author already pseudonymised, text untouched: channels escape)."""
    return {
        "source": post.source, "id": post.source_id, "created_at": post.created_at.isoformat(),
        "text": post.text[:500], "author": post.author, "url": post.url,
        "complaint_p": verdict.complaint_p, "symptom": verdict.symptom, "claim": verdict.claim,
    }


def evidence_posts(
    store: Store, keys: Sequence[str], fresh: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The posts behind evidence keys ("source:source_id"): from ``fresh`` (this batch, not yet committed)
    or else from the store."""
    fresh = fresh or {}
    missing = [key for key in keys if key not in fresh]
    stored = {f"{p['source']}:{p['id']}": p for p in _stored_posts(store, missing)}
    return [fresh.get(key) or stored[key] for key in keys if key in fresh or key in stored]


def _stored_posts(store: Store, keys: Sequence[str]) -> list[dict[str, Any]]:
    if not keys:
        return []
    p, v = schema.posts, schema.verdicts
    pairs = [tuple(key.split(":", 1)) for key in keys]
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(p.c.source, p.c.source_id, p.c.created_at, p.c.text, p.c.author, p.c.url,
                      v.c.complaint_p, v.c.symptom, v.c.claim)
            .select_from(p.outerjoin(v, v.c.post_id == p.c.id))
            .where(sa.tuple_(p.c.source, p.c.source_id).in_(pairs))
        ).all()
    found = {(r.source, r.source_id): r for r in rows}
    out = []
    for pair in pairs:
        r = found.get(pair)
        if r is None:
            continue
        out.append({
            "source": r.source, "id": r.source_id, "created_at": r.created_at.isoformat(),
            "text": r.text[:500], "author": r.author, "url": r.url,
            "complaint_p": r.complaint_p, "symptom": r.symptom, "claim": r.claim,
        })
    return out


def build_payload(
    store: Store, change: AlertChange, settings: AlertSettings, fresh: Mapping[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    alert = change.alert
    detection = change.detection
    posts = evidence_posts(store, alert.evidence, fresh)
    symptoms: dict[str, int] = {}
    for post in posts:
        if post["symptom"]:
            symptoms[post["symptom"]] = symptoms.get(post["symptom"], 0) + 1
    payload: dict[str, Any] = {
        "event": change.kind,
        "at": change.at.isoformat(),
        "alert": {
            "id": alert.id, "service": alert.service, "status": alert.status, "severity": alert.severity,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "peak_ratio": round(alert.peak_ratio, 2), "peak_value": alert.peak_value,
            "expected": round(alert.expected, 3), "reason": alert.reason,
        },
        "signal": None if detection is None else {
            "value": detection.value, "expected": round(detection.expected, 3), "upper": round(detection.upper, 3),
            "score": round(detection.score, 4),
        },
        "top_symptoms": sorted(symptoms, key=symptoms.get, reverse=True)[:3],
        "evidence": posts,
    }
    if settings.dashboard_url:
        payload["dashboard_url"] = f"{settings.dashboard_url.rstrip('/')}/?incident={quote(alert.id)}"
    return payload


def routes_for(change: AlertChange, channels: Sequence[ChannelSettings]) -> list[str]:
    """Names of the channels that should hear about ``change``."""
    rank = SEVERITIES.index(change.alert.severity)
    return [
        c.name for c in channels
        if (not c.services or change.alert.service in c.services) and rank >= SEVERITIES.index(c.min_severity)
    ]
