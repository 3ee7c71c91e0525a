"""The incident lifecycle: detections in, incident changes out (opened, escalated, reopened, resolved).

It is a pure state machine over detections in time order, so a replay gives exactly the incidents live
would have given, at the same times. Persisting the changes and notifying are the pipeline's job.

An incident opens at the detection that fired (the post or bucket end that tipped it). While open, its
peak and severity follow the signal; a higher severity is an escalation (notified again). It resolves once
the signal has stayed inside the expected band for ``resolve_after_minutes``; a new alert within
``cooldown_minutes`` of resolving reopens the same incident instead of paging anew (flap suppression).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable

from detector.alerting.settings import AlertSettings
from detector.records import SEVERITIES, Alert, Detection

NOTIFIED_KINDS = ("opened", "escalated", "reopened", "resolved", "acknowledged")


@dataclass(frozen=True, slots=True)
class AlertChange:
    """Something that happened to an incident; ``kind`` is one of opened escalated reopened updated resolved."""

    kind: str
    alert: Alert
    at: datetime
    detection: Detection | None = None

    @property
    def notify(self) -> bool:
        return self.kind in NOTIFIED_KINDS and not self.alert.suppressed


def incident_id(service: str, opened_at: datetime) -> str:
    """A stable, readable id: the same replay gives the same ids."""
    slug = re.sub(r"[^a-z0-9]+", "-", service.casefold()).strip("-") or "service"
    return f"{slug}-{opened_at:%Y%m%dT%H%M%S}Z"


def severity_of(ratio: float, settings: AlertSettings) -> str:
    if ratio >= settings.critical_ratio:
        return "critical"
    if ratio >= settings.major_ratio:
        return "major"
    return "minor"


def ratio_of(detection: Detection) -> float:
    """Observed over expected, with expected floored at one per bucket: three reports where a hundredth was
    expected is notable, not a 300-fold catastrophe."""
    return detection.value / max(detection.expected, 1.0)


class AlertManager:
    """Open, escalate, reopen and resolve incidents per service from its detections."""

    def __init__(self, settings: AlertSettings, known: Iterable[Alert] = ()) -> None:
        self.settings = settings
        self._current: dict[str, Alert] = {}  # latest incident per service, open or resolved
        self._normal_since: dict[str, datetime | None] = {}
        for alert in sorted(known, key=lambda a: a.opened_at):
            self._current[alert.service] = alert

    def open_alerts(self) -> list[Alert]:
        return [a for a in self._current.values() if a.status != "resolved"]

    def observe(self, detection: Detection, evidence: Callable[[], tuple[str, ...]]) -> list[AlertChange]:
        """Feed one detection (in time order per service); return what changed."""
        service, at = detection.service, detection.at
        current = self._current.get(service)
        is_open = current is not None and current.status != "resolved"
        if detection.alert:
            self._normal_since[service] = None
            if is_open:
                return self._grow(current, detection, evidence)
            cooldown = timedelta(minutes=self.settings.cooldown_minutes)
            if current is not None and current.resolved_at is not None and at - current.resolved_at <= cooldown:
                reopened = replace(current, status="open", resolved_at=None, updated_at=at)
                self._current[service] = reopened
                return [AlertChange("reopened", reopened, at, detection), *self._grow(reopened, detection, evidence)]
            return [self._open(detection, evidence)]
        if not is_open:
            return []
        if detection.value > detection.upper:
            self._normal_since[service] = None
            return self._grow(current, detection, evidence)
        since = self._normal_since.get(service)
        if since is None:
            self._normal_since[service] = since = at
        if at - since >= timedelta(minutes=self.settings.resolve_after_minutes):
            resolved = replace(current, status="resolved", resolved_at=at, updated_at=at)
            self._current[service] = resolved
            self._normal_since[service] = None
            return [AlertChange("resolved", resolved, at, detection)]
        return []

    def acknowledge(self, alert_id: str, at: datetime) -> AlertChange | None:
        for service, alert in self._current.items():
            if alert.id == alert_id and alert.status == "open":
                acked = replace(alert, status="acknowledged", updated_at=at)
                self._current[service] = acked
                return AlertChange("acknowledged", acked, at)
        return None

    def _open(self, detection: Detection, evidence: Callable[[], tuple[str, ...]]) -> AlertChange:
        ratio = ratio_of(detection)
        alert = Alert(
            id=incident_id(detection.service, detection.at),
            service=detection.service,
            opened_at=detection.at,
            status="open",
            severity=severity_of(ratio, self.settings),
            peak_ratio=ratio,
            peak_value=detection.value,
            expected=detection.expected,
            reason=detection.reason,
            evidence=evidence(),
            updated_at=detection.at,
            suppressed=detection.suppressed,
        )
        self._current[detection.service] = alert
        return AlertChange("opened", alert, detection.at, detection)

    def _grow(self, alert: Alert, detection: Detection, evidence: Callable[[], tuple[str, ...]]) -> list[AlertChange]:
        ratio = ratio_of(detection)
        if ratio <= alert.peak_ratio and detection.value <= alert.peak_value:
            return []
        severity = severity_of(max(ratio, alert.peak_ratio), self.settings)
        grown = replace(
            alert,
            peak_ratio=max(ratio, alert.peak_ratio),
            peak_value=max(detection.value, alert.peak_value),
            severity=severity,
            evidence=evidence() or alert.evidence,
            updated_at=detection.at,
        )
        self._current[alert.service] = grown
        escalated = SEVERITIES.index(severity) > SEVERITIES.index(alert.severity)
        return [AlertChange("escalated" if escalated else "updated", grown, detection.at, detection)]
