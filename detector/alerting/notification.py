"""What a notification says: the incident, the signal against its baseline, and the posts behind it.

The payload is built when the change is recorded (so the outbox holds exactly what was true then) and is
plain JSON: each channel renders it in its own format and escapes post text for that format. Authors are
already pseudonymised when posts are read; no secret ever enters a payload.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from detector.alerting.manager import AlertChange, ratio_of
from detector.alerting.settings import AlertSettings
from detector.classify.claims import Claim
from detector.comms.facts import IncidentFacts, Minute, gather
from detector.records import DEFAULT_METRIC, Detection, Post, Verdict, text_fingerprint
from detector.store.official import official_overlapping
from detector.store.posts import evidence_posts as stored_evidence
from detector.store.store import Store


def post_view(post: Post, verdict: Verdict) -> dict[str, Any]:
    """A post as notifications show it (author already pseudonymised, text untouched: channels escape)."""
    return {
        "source": post.source, "id": post.source_id, "created_at": post.created_at.isoformat(),
        "text": post.text[:500], "author": post.author, "url": post.url,
        "complaint_p": verdict.complaint_p, "symptom": verdict.symptom, "claim": verdict.claim,
        "complaint": verdict.complaint, "outage_report": verdict.outage_report, "services": list(post.services),
        "misinformation": verdict.misinformation, "person": post.person,
        "places": [{"place": p.label, "name": p.name, "kind": p.kind, "region": p.region, "country": p.country,
                    "lat": p.lat, "lon": p.lon} for p in verdict.places],
    }


def evidence_posts(
    store: Store, keys: Sequence[str], fresh: Mapping[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The posts behind evidence keys ("source:source_id"): from ``fresh`` (this batch, not yet committed)
    or else from the store; a text already shown (a repost, a copy-paste) is shown once."""
    fresh = fresh or {}
    missing = [key for key in keys if key not in fresh]
    stored = {f"{p['source']}:{p['id']}": p for p in _stored_posts(store, missing)}
    shown, texts = [], set()
    for key in dict.fromkeys(keys):
        post = fresh.get(key) or stored.get(key)
        if post is not None and text_fingerprint(str(post["text"])) not in texts:
            texts.add(text_fingerprint(str(post["text"])))
            shown.append(post)
    return [{k: post[k] for k in ("source", "id", "created_at", "text", "author", "url", "complaint_p",
                                  "symptom", "claim")} for post in shown]


def _stored_posts(store: Store, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The stored posts behind ``keys``, as notifications show them (``detector.store.posts`` reads them)."""
    if not keys:
        return []
    return [{
        "source": r["source"], "id": r["source_id"], "created_at": r["created_at"].isoformat(),
        "text": r["text"][:500], "author": r["author"], "url": r["url"],
        "complaint_p": r["complaint_p"], "symptom": r["symptom"], "claim": r["claim"],
    } for r in stored_evidence(store, keys)]


def official_status(store: Store, change: AlertChange) -> dict[str, Any] | None:
    """The provider's own incident overlapping this one (the latest to start by ``change.at``, by the one
    overlap rule of ``detector.store.official``), from its status page, if one is known."""
    alert = change.alert
    overlapping = official_overlapping(store, alert.service, alert.opened_at, change.at)
    if not overlapping:
        return None
    row = overlapping[-1]
    return {"title": row["title"], "status": row["status"], "impact": row["impact"], "url": row["url"],
            "started_at": row["started_at"].isoformat(),
            "resolved_at": row["resolved_at"].isoformat() if row["resolved_at"] else None}


def dashboard_link(settings: AlertSettings, alert_id: str) -> str | None:
    if not settings.dashboard_url:
        return None
    return f"{settings.dashboard_url.rstrip('/')}/?incident={quote(alert_id)}"


def incident_facts(
    store: Store, change: AlertChange, fresh: Mapping[str, dict[str, Any]] | None = None, *,
    metric: str = DEFAULT_METRIC, claims: Mapping[str, Claim] | None = None,
    newer: Sequence[Detection] = (),
) -> IncidentFacts:
    """The incident's facts as of ``change`` (``detector.comms.facts`` defines each number): stored data,
    plus the minutes judged (``newer``) and posts read (``fresh``) in the batch not committed yet."""
    alert = change.alert
    judged = [d for d in (*newer, *([change.detection] if change.detection else []))
              if d.service == alert.service and d.bucket_start <= change.at]
    return gather(
        store, service=alert.service, incident_id=alert.id, status=alert.status, severity=alert.severity,
        opened_at=alert.opened_at, resolved_at=alert.resolved_at, until=change.at, metric=metric, claims=claims,
        newer=[Minute(d.bucket_start, float(d.value), d.expected, d.upper) for d in judged], fresh=fresh,
    )


def since_last(change: AlertChange, facts: IncidentFacts) -> dict[str, Any] | None:
    """What changed since the incident's previous notification: severity, peak ratio, people reporting."""
    before, at = change.previous, change.previous_at
    if before is None or at is None:
        return None
    return {
        "at": at.isoformat(), "event_minutes_ago": round((change.at - at) / timedelta(minutes=1)),
        "severity": [before.severity, change.alert.severity],
        "people": [facts.people_at(at), facts.people_total],
    }


def build_payload(
    store: Store, change: AlertChange, settings: AlertSettings, fresh: Mapping[str, dict[str, Any]] | None = None,
    *, metric: str = DEFAULT_METRIC, claims: Mapping[str, Claim] | None = None, newer: Sequence[Detection] = (),
) -> dict[str, Any]:
    """The notification for ``change``: JSON-ready, everything a responder or the comms team needs.

    ``figures`` holds the numbers (peak, now, people, last report, rumours with their claim text, verdict and
    reference), computed by ``detector.comms.facts`` as the report and the dashboard compute them."""
    alert = change.alert
    detection = change.detection
    posts = evidence_posts(store, alert.evidence, fresh)
    facts = incident_facts(store, change, fresh, metric=metric, claims=claims, newer=newer)
    symptoms = Counter(facts.symptoms)
    if not symptoms:  # nothing stored yet: the evidence posts are all we know
        symptoms = Counter(post["symptom"] for post in posts if post["symptom"])
    payload: dict[str, Any] = {
        "event": change.kind,
        "at": change.at.isoformat(),
        "alert": {
            "id": alert.id, "service": alert.service, "status": alert.status, "severity": alert.severity,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "severity_ratio": round(alert.peak_ratio, 2), "reason": alert.reason,  # the peak is figures
        },
        "signal": None if detection is None else {
            "value": detection.value, "expected": round(detection.expected, 3), "upper": round(detection.upper, 3),
            "score": round(detection.score, 4), "ratio": round(ratio_of(detection), 2),
            "bucket_start": detection.bucket_start.isoformat(),
        },
        "complaint_share": None if change.complaint_share is None else round(change.complaint_share, 3),
        "top_symptoms": [name for name, _ in symptoms.most_common(3)],
        "symptoms": dict(symptoms.most_common()),
        "claims": [{"claim": r.claim, "posts": r.posts, "text": r.text, "verdict": r.verdict,
                    "reference": r.reference, "example": r.example[:280]} for r in facts.rumours[:5]],
        "figures": {k: v for k, v in facts.to_json().items() if k != "rumours"},  # rumours: "claims"
        "since_last": since_last(change, facts),
        "official_status": official_status(store, change),
        "evidence": posts,
        "dashboard_url": dashboard_link(settings, alert.id),
    }
    return payload
