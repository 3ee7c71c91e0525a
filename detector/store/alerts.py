"""Persisting incidents, their events and the notification outbox.

An incident change, its event and its outbox rows are written in one transaction: either the world
learns about a change and it is recorded, or neither happens. Delivery happens later, from the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.alerting.manager import AlertChange
from detector.records import Alert
from detector.store import schema
from detector.store.store import Store


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification waiting for (or done with) delivery to one channel."""

    id: int
    key: str
    alert_id: str
    channel: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


def _alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "service": alert.service,
        "opened_at": alert.opened_at,
        "updated_at": alert.updated_at or alert.opened_at,
        "resolved_at": alert.resolved_at,
        "status": alert.status,
        "severity": alert.severity,
        "peak_ratio": float(alert.peak_ratio),
        "peak_value": float(alert.peak_value),
        "expected": float(alert.expected),
        "reason": alert.reason,
        "evidence": list(alert.evidence),
        "suppressed": alert.suppressed,
    }


def alert_from_row(row: Any) -> Alert:
    m = row._mapping
    return Alert(
        id=m["id"], service=m["service"], opened_at=m["opened_at"], status=m["status"], severity=m["severity"],
        peak_ratio=m["peak_ratio"], peak_value=m["peak_value"], expected=m["expected"], reason=m["reason"],
        evidence=tuple(m["evidence"] or ()), updated_at=m["updated_at"], resolved_at=m["resolved_at"],
        suppressed=bool(m["suppressed"]),
    )


def save_changes(
    store: Store,
    changes: Sequence[AlertChange],
    notifications: Iterable[tuple[AlertChange, str, dict[str, Any]]] = (),
    conn: Connection | None = None,
) -> None:
    """Record incident changes, their events, and the (change, channel, payload) notifications, atomically."""
    if not changes:
        return
    pending = {}
    for change, channel, payload in notifications:
        pending.setdefault(id(change), []).append((channel, payload))
    if conn is None:
        with store.engine.begin() as own:
            return save_changes(store, changes, notifications, own)
    for change in changes:
        _upsert_alert(store, conn, change.alert)
        if change.kind == "updated":
            continue
        detail = None
        if change.detection is not None:
            d = change.detection
            detail = {"value": d.value, "expected": d.expected, "upper": d.upper, "score": d.score,
                      "reason": d.reason, "suppressed": d.suppressed}
        event_id = conn.execute(
            schema.alert_events.insert().values(alert_id=change.alert.id, at=change.at, kind=change.kind, detail=detail)
        ).inserted_primary_key[0]
        rows = [
            {
                "key": f"{change.alert.id}:{event_id}:{channel}",
                "alert_id": change.alert.id,
                "event_id": event_id,
                "channel": channel,
                "payload": {**payload, "event_id": event_id},
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": datetime.now(timezone.utc),
                "created_at": datetime.now(timezone.utc),
            }
            for channel, payload in pending.get(id(change), [])
        ]
        if rows:
            conn.execute(schema.outbox.insert(), rows)


def _upsert_alert(store: Store, conn: Connection, alert: Alert) -> None:
    row = _alert_row(alert)
    stmt, rows = store._upsert(schema.alerts, ("id",), [row], [k for k in row if k != "id"])
    conn.execute(stmt, rows)


def load_alerts(store: Store, *, service: str | None = None, status: str | None = None) -> list[Alert]:
    query = sa.select(schema.alerts).order_by(schema.alerts.c.opened_at)
    if service:
        query = query.where(schema.alerts.c.service == service)
    if status:
        query = query.where(schema.alerts.c.status == status)
    with store.engine.connect() as conn:
        return [alert_from_row(row) for row in conn.execute(query)]


def latest_alerts(store: Store) -> list[Alert]:
    """The most recent incident of each service (what the alert manager resumes from)."""
    latest: dict[str, Alert] = {}
    for alert in load_alerts(store):
        latest[alert.service] = alert
    return list(latest.values())


def set_status(store: Store, alert_id: str, status: str, at: datetime, actor: str = "cli") -> Alert:
    """Acknowledge or resolve an incident by hand; record the event. Raise KeyError for an unknown id."""
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(schema.alerts).where(schema.alerts.c.id == alert_id)).first()
        if row is None:
            raise KeyError(alert_id)
        values: dict[str, Any] = {"status": status, "updated_at": at}
        if status == "acknowledged":
            values["acknowledged_at"] = at
        if status == "resolved":
            values["resolved_at"] = at
        conn.execute(sa.update(schema.alerts).where(schema.alerts.c.id == alert_id).values(**values))
        conn.execute(
            schema.alert_events.insert().values(
                alert_id=alert_id, at=at, kind="acknowledged" if status == "acknowledged" else "resolved",
                detail={"by": actor, "manual": True},
            )
        )
        row = conn.execute(sa.select(schema.alerts).where(schema.alerts.c.id == alert_id)).first()
    return alert_from_row(row)


def alert_events(store: Store, alert_id: str) -> list[dict[str, Any]]:
    e = schema.alert_events
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(e).where(e.c.alert_id == alert_id).order_by(e.c.id))]


def due_notifications(store: Store, now: datetime, limit: int = 200) -> list[OutboxItem]:
    """Pending notifications in order; for each (incident, channel) only the oldest, so order holds."""
    o = schema.outbox
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(o).where(o.c.status == "pending").order_by(o.c.id).limit(limit * 5)).all()
    seen: set[tuple[str, str]] = set()
    due: list[OutboxItem] = []
    for row in rows:
        m = row._mapping
        lane = (m["alert_id"], m["channel"])
        if lane in seen:
            continue
        seen.add(lane)
        if m["next_attempt_at"] <= now:
            due.append(OutboxItem(m["id"], m["key"], m["alert_id"], m["channel"], m["payload"], m["status"],
                                  m["attempts"], m["next_attempt_at"], m["last_error"]))
        if len(due) >= limit:
            break
    return due


def mark_delivery(
    store: Store, item: OutboxItem, *, ok: bool, now: datetime, error: str | None = None,
    retry_at: datetime | None = None, dead: bool = False,
) -> None:
    o = schema.outbox
    if ok:
        values: dict[str, Any] = {"status": "sent", "sent_at": now, "attempts": item.attempts + 1, "last_error": None}
    else:
        values = {"attempts": item.attempts + 1, "last_error": (error or "failed")[:1000],
                  "status": "dead" if dead else "pending", "next_attempt_at": retry_at or now}
    with store.engine.begin() as conn:
        conn.execute(sa.update(o).where(o.c.id == item.id, o.c.status == "pending").values(**values))


def outbox_rows(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    o = schema.outbox
    query = sa.select(o).order_by(o.c.id)
    if status:
        query = query.where(o.c.status == status)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
