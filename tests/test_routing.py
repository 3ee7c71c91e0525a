"""Who hears of a change, decided by alerting without a database: routes, silences, the resolve rule.

The rules run against a ledger made of plain dicts (the store's ``Ledger`` answers the same questions from
the batch's transaction); the delivery and CLI tests check the same rules end to end.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from detector.alerting.grouping import CascadeChange
from detector.alerting.manager import AlertChange
from detector.alerting.routing import manual_routes, route, route_cascade
from detector.records import Alert, Cascade, Detection, Member

AT = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


class FakeLedger:
    """What is recorded, as dicts: statuses by id, channels that heard by id, silences by service."""

    def __init__(self, status=None, cascade_status=None, heard=None, silences=None) -> None:
        self._status, self._cascade = status or {}, cascade_status or {}
        self._heard, self._silences = heard or {}, silences or {}

    def status(self, alert_id):
        return self._status.get(alert_id)

    def cascade_status(self, cascade_id):
        return self._cascade.get(cascade_id)

    def heard(self, alert_id):
        return set(self._heard.get(alert_id, ()))

    def silence(self, service, at):
        return self._silences.get(service) or self._silences.get("*")


def change(kind: str, status: str = "open", detection: bool = True) -> AlertChange:
    alert = Alert("acme-1", "Acme", AT, status, "major", 6.0, 6.0, 1.0, "r")
    found = Detection("Acme", AT, AT, 6.0, 1.0, 2.0, 0.99, True, "spike") if detection else None
    return AlertChange(kind, alert, AT + timedelta(minutes=5), found)


ROUTES = [("slack", {"event": "x"}), ("pager", {"event": "x"})]


@pytest.mark.parametrize("kind", ["opened", "escalated", "reopened", "unsuppressed"])
def test_news_goes_to_its_routes_unless_the_service_is_silenced(kind):
    heard = route(change(kind), ROUTES, FakeLedger())
    assert heard.routes == ROUTES and heard.detail["reason"] == "spike" and "silenced" not in heard.detail
    silenced = route(change(kind), ROUTES, FakeLedger(silences={"Acme": "silence 3: deploy"}))
    assert silenced.routes == [] and silenced.detail["silenced"] == "silence 3: deploy"
    everything = route(change(kind), ROUTES, FakeLedger(silences={"*": "silence 4"}))
    assert everything.routes == [] and everything.detail["silenced"] == "silence 4"


@pytest.mark.parametrize("kind", ["resolved", "acknowledged"])
def test_the_end_of_a_story_goes_only_to_the_channels_that_heard_it_silenced_or_not(kind):
    ledger = FakeLedger(heard={"acme-1": {"pager"}}, silences={"Acme": "silence 3"})
    closing = route(change(kind), ROUTES, ledger)
    assert closing.routes == [("pager", {"event": "x"})] and "silenced" not in (closing.detail or {})
    assert route(change(kind), ROUTES, FakeLedger()).routes == []  # nobody heard: nobody is told


def test_a_manual_resolve_wins_over_the_detectors_later_one():
    assert route(change("resolved"), ROUTES, FakeLedger(status={"acme-1": "resolved"})) is None
    assert route(change("resolved"), ROUTES, FakeLedger(status={"acme-1": "acknowledged"})) is not None
    assert route(change("escalated"), ROUTES, FakeLedger(status={"acme-1": "resolved"})) is not None


def test_an_update_is_recorded_without_an_event_or_a_page():
    updated = route(change("updated"), ROUTES, FakeLedger())
    assert updated.routes == [] and updated.detail is None


def test_on_calls_ack_and_resolve_go_to_who_heard_except_an_ack_after_the_resolve():
    built = []

    def payload_of(alert):
        built.append(alert.id)
        return {"by": "alice"}

    resolved = Alert("acme-1", "Acme", AT, "resolved", "major", 6.0, 6.0, 1.0, "r")
    acked = Alert("acme-1", "Acme", AT, "acknowledged", "major", 6.0, 6.0, 1.0, "r")
    assert manual_routes("resolved", resolved, {"slack", "pager"}, payload_of) == [
        ("pager", {"by": "alice"}), ("slack", {"by": "alice"})]
    assert manual_routes("acknowledged", acked, {"pager"}, payload_of) == [("pager", {"by": "alice"})]
    assert manual_routes("acknowledged", resolved, {"pager"}, payload_of) == [] and built == ["acme-1", "acme-1"]


def cascade_change(kind: str) -> CascadeChange:
    members = tuple(Member(f"{s.lower()}-1", s, AT, "major", "open", True, 0.5, False) for s in ("Acme", "Bolt"))
    return CascadeChange(kind, Cascade("c-1", "Cloudflare", 0.7, AT, AT, AT, "open", members, {}), AT)


def test_a_cascade_is_silenced_only_when_every_member_service_is():
    one = route_cascade(cascade_change("opened"), ROUTES, FakeLedger(silences={"Acme": "silence 1"}))
    assert one[1] == ROUTES and "silenced" not in one[0]
    both = route_cascade(cascade_change("opened"), ROUTES, FakeLedger(silences={"Acme": "silence 1", "Bolt": "s2"}))
    assert both[1] == [] and both[0]["silenced"] == "silence 1" and both[0]["services"] == ["Acme", "Bolt"]


def test_a_cascade_resolve_goes_to_who_heard_and_a_manual_resolve_wins():
    closing = route_cascade(cascade_change("resolved"), ROUTES, FakeLedger(heard={"c-1": {"slack"}}))
    assert closing[1] == [("slack", {"event": "x"})]
    for kind in ("resolved", "closed"):
        assert route_cascade(cascade_change(kind), ROUTES, FakeLedger(cascade_status={"c-1": "resolved"})) is None
