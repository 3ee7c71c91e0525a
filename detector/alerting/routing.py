"""Who hears of an incident change: routes, silences and the resolve rule, decided here; the store writes.

- A change is routed to the channels whose services and minimum severity match it (``routes_for``).
- A silence keeps the record and drops the page: an opening or escalating change during one is stored with
  the silence in its event, and no channel hears of it.
- Resolves and acknowledgements close the loop: they go to the channels that heard of the incident, silenced
  or not, and to no other (a channel never gets the end of a story it was not told).
- A manual resolve wins: once on-call resolved an incident, the detector's own later resolve is old news and
  is not recorded again. On-call's acknowledge or resolve is told like the detector's (``manual_routes``),
  except an acknowledgement of an incident already resolved, which is recorded and told to no one.

Maintenance windows are not here: an incident opened in one is marked suppressed by detection, and a
suppressed change is routed nowhere in the first place (``AlertChange.notify``).

A cascade (``detector.alerting.grouping``) follows the same rules: its opening is silenced when every member
service is, its resolve goes to the channels that heard of it, and a manual resolve wins; a member's change
held for a cascade that did not form is paged late, unless its service is silenced by then.

The rules read what is already recorded through a ``Ledger`` (``detector.store.ledger.Ledger``, bound to the
batch's transaction, so a change sees the ones written before it in the same batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol, Sequence

from detector.alerting.grouping import CascadeChange
from detector.alerting.manager import AlertChange
from detector.alerting.settings import ChannelSettings
from detector.records import SEVERITIES, Alert
from detector.store.alerts import record_change
from detector.store.cascades import latest_event_id, record_cascade_change
from detector.store.deliveries import enqueue
from detector.store.ledger import Ledger as StoredLedger
from detector.store.store import Store, Transaction

# Kinds that close the loop: they go to channels that already heard of the incident, silenced or not.
CLOSING_KINDS = ("resolved", "acknowledged")

Routes = list[tuple[str, dict[str, Any]]]  # (channel name, payload)


class Ledger(Protocol):
    """What routing needs to know of what is already recorded."""

    def status(self, alert_id: str) -> str | None: ...

    def cascade_status(self, cascade_id: str) -> str | None: ...

    def heard(self, alert_id: str) -> set[str]: ...

    def silence(self, service: str, at: datetime) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Routed:
    """A change as it is to be recorded: its event's detail and the notifications it sends."""

    change: AlertChange
    detail: dict[str, Any] | None
    routes: Routes


def routes_for(change: AlertChange, channels: Sequence[ChannelSettings]) -> list[str]:
    """Names of the channels that should hear about ``change``."""
    rank = SEVERITIES.index(change.alert.severity)
    return [
        c.name for c in channels
        if (not c.services or change.alert.service in c.services) and rank >= SEVERITIES.index(c.min_severity)
    ]


def closing_routes(heard: Iterable[str], payload: dict[str, Any]) -> Routes:
    """A resolve or acknowledgement goes to every channel that heard of the incident (or cascade), in name order."""
    return [(channel, payload) for channel in sorted(heard)]


def manual_routes(kind: str, alert: Alert, heard: Iterable[str],
                  payload_of: Callable[[Alert], dict[str, Any]]) -> Routes:
    """On-call's acknowledge or resolve (``kind``) of ``alert``, now changed, goes to every channel that heard
    of it; acknowledging an incident already resolved tells no one (they were told of the resolution, and
    PagerDuty cannot acknowledge a resolved event)."""
    if kind == "acknowledged" and alert.status == "resolved":
        return []
    return closing_routes(heard, payload_of(alert))


def route(change: AlertChange, routes: Routes, ledger: Ledger) -> Routed | None:
    """``change`` with the notifications it may send out of ``routes`` (those ``routes_for`` chose, with their
    payloads); None when it is not to be recorded at all (the detector resolving what on-call resolved)."""
    if change.kind == "resolved" and ledger.status(change.alert.id) == "resolved":
        return None  # resolved by hand already: the detector's own resolve is old news
    if change.kind == "updated":
        return Routed(change, None, [])
    detail: dict[str, Any] | None = None
    if change.detection is not None:
        d = change.detection
        detail = {"value": d.value, "expected": d.expected, "upper": d.upper, "score": d.score,
                  "reason": d.reason, "suppressed": d.suppressed}
    if change.kind in CLOSING_KINDS:
        heard = ledger.heard(change.alert.id)
        routes = [(channel, payload) for channel, payload in routes if channel in heard]
    elif routes:
        silence = ledger.silence(change.alert.service, change.at)
        if silence is not None:
            detail = {**(detail or {}), "silenced": silence}
            routes = []
    return Routed(change, detail, list(routes))


def save_changes(
    store: Store,
    changes: Sequence[AlertChange],
    notifications: Iterable[tuple[AlertChange, str, dict[str, Any]]] = (),
    conn: Transaction | None = None,
    now: datetime | None = None,
) -> None:
    """Route each change (in order, each seeing the ones before it) and record it with its event and its
    notifications, atomically: in ``conn``'s transaction, or in one of its own."""
    if not changes:
        return
    notifications = list(notifications)
    if conn is None:
        with store.transaction() as own:
            return save_changes(store, changes, notifications, own, now)
    pending: dict[int, Routes] = {}
    for change, channel, payload in notifications:
        pending.setdefault(id(change), []).append((channel, payload))
    now = now or datetime.now(timezone.utc)
    ledger = StoredLedger(conn)
    for change in changes:
        routed = route(change, pending.get(id(change), []), ledger)
        if routed is not None:
            record_change(conn, change.alert, change.kind, change.at, routed.detail, routed.routes, now)


def route_cascade(change: CascadeChange, routes: Routes, ledger: Ledger) -> tuple[dict[str, Any], Routes] | None:
    """The cascade change's event detail and the notifications it may send out of ``routes``; None when it is
    not to be recorded (the grouper resolving or closing what on-call resolved)."""
    if change.kind in ("resolved", "closed") and ledger.cascade_status(change.cascade.id) == "resolved":
        return None  # resolved by hand already: the detector's own resolve is old news
    if change.kind == "resolved":
        heard = ledger.heard(change.cascade.id)
        routes = [(channel, payload) for channel, payload in routes if channel in heard]
    detail: dict[str, Any] = {"services": list(change.cascade.services), "confidence": change.cascade.confidence}
    if routes and change.kind == "opened":
        silenced = [ledger.silence(service, change.at) for service in change.cascade.services]
        if all(silenced):
            detail["silenced"] = silenced[0]
            routes = []
    return detail, list(routes)


def save_cascade_changes(
    conn: Transaction, changes: Sequence[CascadeChange],
    notifications: Iterable[tuple[CascadeChange, str, dict[str, Any]]], now: datetime,
) -> None:
    """Route and record cascade changes with their members, events and notifications (in the caller's
    transaction, after the member incidents were written)."""
    pending: dict[int, Routes] = {}
    for change, channel, payload in notifications:
        pending.setdefault(id(change), []).append((channel, payload))
    ledger = StoredLedger(conn)
    for change in changes:
        routed = route_cascade(change, pending.get(id(change), []), ledger)
        if routed is not None:
            record_cascade_change(conn, change.cascade, change.kind, change.at, *routed, now)


def enqueue_released(conn: Transaction, released: Iterable[tuple[AlertChange, str, dict[str, Any]]],
                     now: datetime) -> None:
    """Queue the notifications of incident changes that were held for a cascade that did not form: their
    events were recorded when they happened; the notification goes out now, under that event, unless the
    service is silenced at the change's time."""
    ledger = StoredLedger(conn)
    for change, channel, payload in released:
        event_id = latest_event_id(conn, change.alert.id, change.kind)
        if event_id is None or ledger.silence(change.alert.service, change.at) is not None:
            continue
        enqueue(conn, change.alert.id, event_id, [(channel, payload)], now)
