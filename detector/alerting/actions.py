"""On-call's acknowledge and resolve of one incident: recorded by the store, told to the channels that heard
of the incident (PagerDuty gets its acknowledge / resolve). The CLI and the dashboard both call ``set_status``;
a cascade's members go through it too (``detector.alerting.cascade_actions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from detector.alerting.manager import AlertChange
from detector.alerting.notification import build_payload
from detector.alerting.routing import manual_routes
from detector.alerting.settings import AlertSettings
from detector.records import DEFAULT_METRIC, Alert
from detector.store import alerts as stored
from detector.store.store import Store


def set_status(
    store: Store, alert_id: str, status: str, at: datetime, actor: str = "cli",
    notify: Callable[[Alert], dict[str, Any]] | None = None, metric: str = DEFAULT_METRIC,
) -> Alert:
    """Acknowledge or resolve an incident by hand and record the event; when ``notify`` builds a payload
    for the changed incident, queue it for every channel that heard of the incident; by default the standard
    payload is queued, its numbers counted with the detector's ``metric``. Acknowledging a resolved incident only records who reviewed it. Raise KeyError for an
    unknown id, ValueError when it is already in that state (or resolving a resolved one)."""
    kind = "acknowledged" if status == "acknowledged" else "resolved"
    if notify is None:
        def notify(alert: Alert) -> dict[str, Any]:
            return {**build_payload(store, AlertChange(kind, alert, at), AlertSettings(), metric=metric), "by": actor}

    return stored.set_status(store, alert_id, status, at, actor,
                             route=lambda alert, heard: manual_routes(kind, alert, heard, notify))
