"""The incident lifecycle as a pure state machine over hand-made detections: one incident per outage,
notified on open, escalation and resolve only; cool-down reopen; flap suppression; maintenance."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from detector.alerting.manager import AlertManager, severity_of
from detector.alerting.settings import AlertSettings
from detector.records import Detection

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
# No escalation wait here: these tests are about every rise; the wait has tests of its own.
SETTINGS = AlertSettings(resolve_after_minutes=10, cooldown_minutes=30, escalation_min_minutes=0)


def detection(minute: float, value: float, *, alert: bool = False, expected: float = 1.0, upper: float = 3.0,
              suppressed: bool = False, service: str = "Acme") -> Detection:
    at = T0 + timedelta(minutes=minute)
    return Detection(service, at.replace(second=0), at, value, expected, upper, 1.0 if alert else 0.1, alert,
                     reason=f"{value:g} people", suppressed=suppressed)


def run(manager: AlertManager, series, share: float | None = 0.5):
    changes = []
    for d in series:
        changes += manager.observe(d, lambda: ("replay:1",), share)
    return changes


def kinds(changes, notified_only: bool = False):
    return [c.kind for c in changes if c.notify or not notified_only]


def test_open_escalate_resolve_and_only_escalations_renotify():
    manager = AlertManager(SETTINGS)
    series = [detection(0, 4, alert=True), detection(1, 4.5), detection(2, 6), detection(3, 7), detection(4, 25),
              detection(5, 22), *(detection(6 + m, 1) for m in range(12))]
    changes = run(manager, series)
    assert kinds(changes) == ["opened", "updated", "escalated", "updated", "escalated", "resolved"]
    assert kinds(changes, notified_only=True) == ["opened", "escalated", "escalated", "resolved"]
    assert [c.alert.severity for c in changes if c.kind == "escalated"] == ["major", "critical"]
    assert {c.alert.id for c in changes} == {"acme-20260302T100000Z"}
    resolved = changes[-1]
    assert resolved.at == T0 + timedelta(minutes=16)  # normal from minute 6, resolved 10 minutes later


def test_resolve_waits_for_the_configured_normal_time():
    manager = AlertManager(AlertSettings(resolve_after_minutes=45))
    changes = run(manager, [detection(0, 4, alert=True), *(detection(1 + m, 0) for m in range(44))])
    assert kinds(changes) == ["opened"]
    assert kinds(run(manager, [detection(46, 0)])) == ["resolved"]


def test_a_blip_above_the_band_restarts_the_resolve_clock():
    manager = AlertManager(SETTINGS)
    series = [detection(0, 4, alert=True), *(detection(1 + m, 0) for m in range(8)), detection(9, 3.5),
              *(detection(10 + m, 0) for m in range(9))]
    assert kinds(run(manager, series)) == ["opened"]


@pytest.mark.parametrize("ratio, share, severity", [
    (3, 0.9, "minor"), (6, 0.5, "major"), (6, 0.9, "critical"), (25, 0.5, "critical"),
    (25, 0.1, "major"), (6, 0.1, "minor"), (6, None, "major"),
])
def test_severity_from_ratio_and_complaint_share(ratio, share, severity):
    assert severity_of(ratio, SETTINGS, share) == severity


def test_severity_never_goes_down_during_an_incident():
    manager = AlertManager(SETTINGS)
    changes = run(manager, [detection(0, 8, alert=True)], share=0.5)
    assert changes[0].alert.severity == "major"
    changes = run(manager, [detection(1, 9)], share=0.05)  # a bigger peak, but mostly not complaints
    assert changes[0].kind == "updated" and changes[0].alert.severity == "major"


def test_a_flapping_series_is_one_incident_with_ever_longer_quiet_before_resolving():
    manager = AlertManager(SETTINGS)
    changes, minute = [], 0.0
    for _ in range(4):  # fire, then just long enough normal to resolve, then fire again
        changes += run(manager, [detection(minute, 5, alert=True)])
        quiet = manager.resolve_after("Acme") / timedelta(minutes=1)
        changes += run(manager, [detection(minute + 1 + m, 0) for m in range(int(quiet) + 1)])
        minute += quiet + 3
    assert len({c.alert.id for c in changes}) == 1
    assert kinds(changes).count("opened") == 1
    assert kinds(changes).count("reopened") == 3
    assert manager.resolve_after("Acme") == timedelta(minutes=40)  # 10 x (1 + 3 reopenings)


def test_a_refire_after_the_cooldown_is_a_new_incident():
    manager = AlertManager(SETTINGS)
    first = run(manager, [detection(0, 5, alert=True), *(detection(1 + m, 0) for m in range(11))])
    second = run(manager, [detection(60, 5, alert=True)])
    assert kinds(second) == ["opened"] and second[0].alert.id != first[0].alert.id
    assert manager.resolve_after("Acme") == timedelta(minutes=10)


def test_maintenance_keeps_the_record_and_silences_notifications():
    manager = AlertManager(SETTINGS)
    changes = run(manager, [detection(0, 5, alert=True, suppressed=True), detection(1, 25, suppressed=True),
                            *(detection(2 + m, 0, suppressed=True) for m in range(11))])
    assert kinds(changes) == ["opened", "escalated", "resolved"]
    assert all(c.alert.suppressed and not c.notify for c in changes)


def test_an_incident_still_growing_after_maintenance_surfaces():
    manager = AlertManager(SETTINGS)
    changes = run(manager, [detection(0, 5, alert=True, suppressed=True), detection(1, 6, suppressed=False),
                            detection(2, 30), *(detection(3 + m, 0) for m in range(11))])
    assert kinds(changes, notified_only=True) == ["unsuppressed", "escalated", "resolved"]


def test_services_are_independent():
    manager = AlertManager(SETTINGS)
    changes = run(manager, [detection(0, 5, alert=True), detection(0.5, 5, alert=True, service="Other"),
                            *(detection(1 + m, 0) for m in range(11))])
    assert kinds(changes) == ["opened", "opened", "resolved"]
    assert [a.service for a in manager.open_alerts()] == ["Other"]


def test_severity_ratio_follows_the_deciding_window_not_an_empty_last_minute():
    from datetime import datetime, timezone

    from detector.alerting.manager import ratio_of
    from detector.records import Detection

    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    minute_only = Detection("S", t, t, value=0.0, expected=0.02, upper=3.0, score=1.0, alert=True)
    windowed = Detection("S", t, t, value=0.0, expected=0.02, upper=3.0, score=1.0, alert=True,
                         window_value=10.0, window_expected=1.25)
    assert ratio_of(minute_only) == 0.0
    assert ratio_of(windowed) == 8.0


WAITING = AlertSettings(resolve_after_minutes=10, cooldown_minutes=30, escalation_min_minutes=5)


def test_escalation_waits_and_then_jumps_to_the_severity_earned_meanwhile():
    """minor, major and critical within a minute: one 'opened (minor)', then after five minutes one
    'escalated (critical)' that knows what it was before."""
    manager = AlertManager(WAITING)
    changes = run(manager, [detection(0, 4, alert=True), detection(0.3, 8), detection(0.6, 25),
                            *(detection(1 + m, 22) for m in range(6))])
    notified = [c for c in changes if c.notify]
    assert [(c.kind, c.alert.severity) for c in notified] == [("opened", "minor"), ("escalated", "critical")]
    escalated = notified[1]
    assert escalated.at - notified[0].at >= timedelta(minutes=5)
    assert escalated.previous.severity == "minor" and escalated.previous_at == notified[0].at
    assert all(c.alert.severity == "minor" for c in changes if c.at < escalated.at)


def test_a_held_escalation_is_dropped_when_the_signal_is_back_in_the_band():
    manager = AlertManager(WAITING)
    changes = run(manager, [detection(0, 4, alert=True), detection(0.5, 25),
                            *(detection(1 + m, 1) for m in range(8))])
    assert kinds(changes, notified_only=True) == ["opened"]
    assert manager.open_alerts()[0].severity == "minor"


def test_without_a_wait_every_rise_is_announced_at_once():
    manager = AlertManager(AlertSettings(resolve_after_minutes=10, escalation_min_minutes=0))
    changes = run(manager, [detection(0, 4, alert=True), detection(0.3, 8), detection(0.6, 25)])
    assert kinds(changes, notified_only=True) == ["opened", "escalated", "escalated"]
