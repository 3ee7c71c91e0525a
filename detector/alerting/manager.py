"""The incident lifecycle: detections in, incident changes out (opened, escalated, reopened, resolved).

It is a pure state machine over detections in time order, so a replay gives exactly the incidents live
would have given, at the same times. Persisting the changes and notifying are the pipeline's job.

An incident opens at the detection that fired (the post or bucket end that tipped it). While open, its
peak and severity follow the signal; a higher severity is an escalation (notified again), anything else is
an update (recorded, not notified). It resolves once the signal has stayed inside the expected band for
``resolve_after_minutes``; a new alert within ``cooldown_minutes`` of resolving reopens the same incident
instead of paging anew, and every reopening lengthens the quiet time the next resolve needs (flap
suppression). An incident opened inside a maintenance window is recorded but not notified; if it is still
growing once the window is over it surfaces ("unsuppressed") and is notified from then on.

Escalation waits for its evidence: severity may rise, but an escalation is notified no sooner than
``escalation_min_minutes`` after the incident's previous notification. Until then the incident keeps the
severity it was last announced with and the growth is recorded as an update; the first detection after the
wait that is still above the band escalates straight to the severity earned meanwhile (minor to critical in
one message). If the signal is back inside the band by then, the held escalation is dropped. Every change
carries ``previous``: the incident as its last notification described it, so a message can say what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from detector.alerting.settings import AlertSettings
from detector.records import SEVERITIES, Alert, Detection

NOTIFIED_KINDS = ("opened", "escalated", "reopened", "unsuppressed", "resolved", "acknowledged")


@dataclass(frozen=True, slots=True)
class AlertChange:
    """Something that happened to an incident; ``kind`` is one of opened escalated reopened unsuppressed
    updated resolved acknowledged. ``complaint_share`` is the share of complaints among the service's
    mentions in the bucket behind the change, when known."""

    kind: str
    alert: Alert
    at: datetime
    detection: Detection | None = None
    complaint_share: float | None = None
    previous: Alert | None = None  # the incident as last notified (None: nothing notified yet, or unknown)
    previous_at: datetime | None = None  # when that notification was made

    @property
    def notify(self) -> bool:
        return self.kind in NOTIFIED_KINDS and not self.alert.suppressed


def incident_id(service: str, opened_at: datetime) -> str:
    """A stable, readable id: the same replay gives the same ids."""
    slug = re.sub(r"[^a-z0-9]+", "-", service.casefold()).strip("-") or "service"
    return f"{slug}-{opened_at:%Y%m%dT%H%M%S}Z"


def severity_of(ratio: float, settings: AlertSettings, complaint_share: float | None = None) -> str:
    """Minor / major / critical from the ratio to expected, moved one step by the complaint share: down
    when few mentions are complaints (news, jokes), up from major when nearly all of them are."""
    level = 2 if ratio >= settings.critical_ratio else 1 if ratio >= settings.major_ratio else 0
    if complaint_share is not None:
        if complaint_share < settings.low_complaint_share:
            level = max(0, level - 1)
        elif complaint_share >= settings.high_complaint_share and level == 1:
            level = 2
    return SEVERITIES[level]


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def _worse(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b


def ratio_of(detection: Detection) -> float:
    """Observed over expected, with expected floored at one: three reports where a hundredth was expected
    is notable, not a 300-fold catastrophe. Judged on the detector's deciding window when it gives one, so an
    incident decided on the last hour is not rated by its (possibly empty) last minute."""
    ratio = detection.value / max(detection.expected, 1.0)
    if detection.window_value is not None and detection.window_expected is not None:
        ratio = max(ratio, detection.window_value / max(detection.window_expected, 1.0))
    return ratio


def _alert_data(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id, "service": alert.service, "opened_at": alert.opened_at.isoformat(), "status": alert.status,
        "severity": alert.severity, "peak_ratio": float(alert.peak_ratio), "peak_value": float(alert.peak_value),
        "expected": float(alert.expected), "reason": alert.reason, "evidence": list(alert.evidence),
        "updated_at": None if alert.updated_at is None else alert.updated_at.isoformat(),
        "resolved_at": None if alert.resolved_at is None else alert.resolved_at.isoformat(),
        "suppressed": alert.suppressed,
    }


def _alert_from(data: dict[str, Any]) -> Alert:
    def moment(name: str) -> datetime | None:
        return None if data[name] is None else datetime.fromisoformat(data[name])

    return Alert(id=data["id"], service=data["service"], opened_at=datetime.fromisoformat(data["opened_at"]),
                 status=data["status"], severity=data["severity"], peak_ratio=data["peak_ratio"],
                 peak_value=data["peak_value"], expected=data["expected"], reason=data["reason"],
                 evidence=tuple(data["evidence"]), updated_at=moment("updated_at"),
                 resolved_at=moment("resolved_at"), suppressed=data["suppressed"])


class AlertManager:
    """Open, escalate, reopen and resolve incidents per service from its detections."""

    def __init__(self, settings: AlertSettings, known: Iterable[Alert] = ()) -> None:
        self.settings = settings
        self._current: dict[str, Alert] = {}  # latest incident per service, open or resolved
        self._normal_since: dict[str, datetime | None] = {}
        self._reopens: dict[str, int] = {}  # per service, for the current incident: flap suppression
        self._notified: dict[str, tuple[Alert, datetime]] = {}  # per service: the last notified state, when
        self._held: dict[str, str] = {}  # per service: a severity earned but not yet announced (see module)
        for alert in sorted(known, key=lambda a: a.opened_at):
            self._current[alert.service] = alert

    def __setstate__(self, state: dict) -> None:
        """A checkpoint pickled before the escalation wait existed restores without its bookkeeping."""
        self.__dict__.update({"_notified": {}, "_held": {}, **state})

    def snapshot(self) -> dict[str, Any]:
        """The lifecycle's state as JSON-ready data (times in ISO 8601), for checkpoints: per service the
        latest incident, since when its signal is normal, its reopenings, what was last notified and the
        severity held back. ``restore`` takes it back; the settings are the constructor's."""
        return {
            "current": {service: _alert_data(alert) for service, alert in self._current.items()},
            "normal_since": {service: None if at is None else at.isoformat()
                             for service, at in self._normal_since.items()},
            "reopens": dict(self._reopens),
            "notified": {service: {"alert": _alert_data(alert), "at": at.isoformat()}
                         for service, (alert, at) in self._notified.items()},
            "held": dict(self._held),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a ``snapshot()``: the incidents known here before are replaced."""
        self._current = {service: _alert_from(data) for service, data in state["current"].items()}
        self._normal_since = {service: None if at is None else datetime.fromisoformat(at)
                              for service, at in state["normal_since"].items()}
        self._reopens = dict(state["reopens"])
        self._notified = {service: (_alert_from(n["alert"]), datetime.fromisoformat(n["at"]))
                          for service, n in state["notified"].items()}
        self._held = dict(state["held"])

    def open_alerts(self) -> list[Alert]:
        return [a for a in self._current.values() if a.status != "resolved"]

    def observe(
        self, detection: Detection, evidence: Callable[[], tuple[str, ...]], complaint_share: float | None = None
    ) -> list[AlertChange]:
        """Feed one detection (in time order per service) and the complaint share of its bucket; return
        what changed, each change knowing the incident as it was last notified."""
        changes = self._observe(detection, evidence, complaint_share)
        out = []
        for change in changes:
            last = self._notified.get(change.alert.service)
            if last is not None and last[0].id == change.alert.id:
                change = replace(change, previous=last[0], previous_at=last[1])
            if change.notify:
                self._notified[change.alert.service] = (change.alert, change.at)
            out.append(change)
        return out

    def _observe(
        self, detection: Detection, evidence: Callable[[], tuple[str, ...]], complaint_share: float | None
    ) -> list[AlertChange]:
        service, at = detection.service, detection.at
        current = self._current.get(service)
        is_open = current is not None and current.status != "resolved"
        if detection.alert:
            self._normal_since[service] = None
            if is_open:
                return self._grow(current, detection, evidence, complaint_share)
            cooldown = timedelta(minutes=self.settings.cooldown_minutes)
            if current is not None and current.resolved_at is not None and at - current.resolved_at <= cooldown:
                reopened = replace(current, status="open", resolved_at=None, updated_at=at)
                self._current[service] = reopened
                self._reopens[service] = self._reopens.get(service, 0) + 1
                return [AlertChange("reopened", reopened, at, detection, complaint_share),
                        *self._grow(reopened, detection, evidence, complaint_share)]
            self._reopens[service] = 0
            self._held.pop(service, None)
            return [self._open(detection, evidence, complaint_share)]
        if not is_open:
            return []
        if detection.value > detection.upper:
            self._normal_since[service] = None
            return self._grow(current, detection, evidence, complaint_share)
        self._held.pop(service, None)  # back inside the band: the held escalation had no lasting evidence
        since = self._normal_since.get(service)
        if since is None:
            self._normal_since[service] = since = at
        if at - since >= self.resolve_after(service):
            resolved = replace(current, status="resolved", resolved_at=at, updated_at=at)
            self._current[service] = resolved
            self._normal_since[service] = None
            return [AlertChange("resolved", resolved, at, detection, complaint_share)]
        return []

    def resolve_after(self, service: str) -> timedelta:
        """How long the signal must stay normal before the service's incident resolves: longer after
        every reopening (flap suppression)."""
        reopens = self._reopens.get(service, 0)
        minutes = self.settings.resolve_after_minutes * (1 + self.settings.flap_resolve_factor * reopens)
        return timedelta(minutes=minutes)

    def acknowledge(self, alert_id: str, at: datetime) -> AlertChange | None:
        for service, alert in self._current.items():
            if alert.id == alert_id and alert.status == "open":
                acked = replace(alert, status="acknowledged", updated_at=at)
                self._current[service] = acked
                return AlertChange("acknowledged", acked, at)
        return None

    def _open(
        self, detection: Detection, evidence: Callable[[], tuple[str, ...]], complaint_share: float | None
    ) -> AlertChange:
        ratio = ratio_of(detection)
        alert = Alert(
            id=incident_id(detection.service, detection.at),
            service=detection.service,
            opened_at=detection.at,
            status="open",
            severity=severity_of(ratio, self.settings, complaint_share),
            peak_ratio=ratio,
            peak_value=detection.value,
            expected=detection.expected,
            reason=detection.reason,
            evidence=evidence(),
            updated_at=detection.at,
            suppressed=detection.suppressed,
        )
        self._current[detection.service] = alert
        return AlertChange("opened", alert, detection.at, detection, complaint_share)

    def _grow(
        self, alert: Alert, detection: Detection, evidence: Callable[[], tuple[str, ...]],
        complaint_share: float | None,
    ) -> list[AlertChange]:
        ratio = ratio_of(detection)
        if alert.suppressed and not detection.suppressed:
            # The maintenance window is over and the incident is still there: from now on it is news.
            surfaced = replace(alert, suppressed=False, updated_at=detection.at, evidence=evidence() or alert.evidence)
            self._current[alert.service] = surfaced
            return [AlertChange("unsuppressed", surfaced, detection.at, detection, complaint_share)]
        held = self._held.get(alert.service)
        new_peak = ratio > alert.peak_ratio or detection.value > alert.peak_value
        if not new_peak and (held is None or not self._may_escalate(alert, detection.at)):
            return []
        earned = severity_of(max(ratio, alert.peak_ratio), self.settings, complaint_share) if new_peak else held
        severity = _worse(alert.severity, _worse(earned, held or alert.severity))
        if _rank(severity) > _rank(alert.severity) and not self._may_escalate(alert, detection.at):
            self._held[alert.service] = severity  # earned, announced once the wait is over
            severity = alert.severity
        elif _rank(severity) > _rank(alert.severity):
            self._held.pop(alert.service, None)
        grown = replace(
            alert,
            peak_ratio=max(ratio, alert.peak_ratio),
            peak_value=max(detection.value, alert.peak_value),
            severity=severity,
            evidence=(evidence() or alert.evidence) if new_peak else alert.evidence,
            updated_at=detection.at,
        )
        self._current[alert.service] = grown
        kind = "escalated" if _rank(severity) > _rank(alert.severity) else "updated"
        return [AlertChange(kind, grown, detection.at, detection, complaint_share)]

    def _may_escalate(self, alert: Alert, at: datetime) -> bool:
        """Whether enough time has passed since the incident's last notification to announce a new severity."""
        last = self._notified.get(alert.service)
        if last is None or last[0].id != alert.id:
            return True
        return at - last[1] >= timedelta(minutes=self.settings.escalation_min_minutes)
