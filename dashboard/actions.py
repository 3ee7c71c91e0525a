"""Everything the dashboard changes, each checking the viewer's role first.

Acknowledge and resolve call the same alerting function as `detector alerts ack|resolve`; a silence is written
by the same store function as `detector alerts silence`; labels go to the ``labels`` table that `detector
train` reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard.access import Viewer
from detector.alerting.actions import set_status
from detector.records import DEFAULT_METRIC
from detector.store import labels as stored_labels
from detector.store.silences import add_silence
from detector.store.store import Store

LABEL_TASKS = ("complaint", "misinformation", "symptom")


class NotAllowed(PermissionError):
    """The viewer's role does not allow this change."""


def _require(viewer: Viewer, action: str) -> None:
    if not viewer.can(action):
        raise NotAllowed(f"{viewer.name} ({viewer.role}) may not {action}; this needs the on-call role")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def acknowledge(store: Store, viewer: Viewer, alert_id: str, metric: str = DEFAULT_METRIC):
    """Acknowledge an incident, exactly as `detector alerts ack` does (the actor is the viewer); an
    incident of an open cascade acknowledges the whole group."""
    _require(viewer, "ack")
    return _set(store, viewer, alert_id, "acknowledged", metric)


def resolve(store: Store, viewer: Viewer, alert_id: str, metric: str = DEFAULT_METRIC):
    """Resolve an incident by hand, exactly as `detector alerts resolve` does (with its whole cascade)."""
    _require(viewer, "resolve")
    return _set(store, viewer, alert_id, "resolved", metric)


def _set(store: Store, viewer: Viewer, alert_id: str, status: str, metric: str):
    from detector.alerting.cascade_actions import act_on_group, group_to_act_on
    from detector.store.alerts import load_alerts

    group = group_to_act_on(store, alert_id)
    if group is None:
        return set_status(store, alert_id, status, _now(), actor=f"dashboard:{viewer.name}", metric=metric)
    act_on_group(store, group, status, _now(), f"dashboard:{viewer.name}")
    return next(a for a in load_alerts(store) if a.id == alert_id)


def silence(store: Store, viewer: Viewer, service: str, duration: timedelta, reason: str,
            starts_at: datetime | None = None) -> int:
    """Silence a service's notifications for ``duration`` from now; return the silence's id."""
    _require(viewer, "silence")
    if duration <= timedelta(0):
        raise ValueError("a silence must last some time")
    now = _now()
    start = starts_at or now
    return add_silence(store, service, start, start + duration, reason=reason.strip() or None,
                       created_by=f"dashboard:{viewer.name}", now=now)


def save_labels(store: Store, viewer: Viewer, post_id: int, labels: dict[str, str]) -> int:
    """Write (or replace) an analyst's labels for one post, one row per task; return how many."""
    _require(viewer, "label")
    unknown = set(labels) - set(LABEL_TASKS)
    if unknown:
        raise ValueError(f"unknown label task(s) {', '.join(sorted(unknown))}")
    return stored_labels.save_labels(store, post_id, labels, viewer.name, _now())
