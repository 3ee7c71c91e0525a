"""Persisting incidents and their events, and reading them back as ``Alert`` records.

An incident change, its event and its outbox rows (``detector.store.deliveries``) are written in one
transaction: either the world learns about a change and it is recorded, or neither happens. Delivery happens
later, from the outbox.
Who hears of a change (routes, silences, the resolve rule) is decided by ``detector.alerting.routing``;
this module writes what it decided (``detector.store.ledger`` answers the questions it asks).
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.records import Alert
from detector.store import schema
from detector.store.database import insert
from detector.store.deliveries import enqueue, notified_channels
from detector.store.store import Store


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


def record_change(
    conn: Connection, alert: Alert, kind: str, at: datetime, detail: dict[str, Any] | None = None,
    routed: Sequence[tuple[str, dict[str, Any]]] = (), now: datetime | None = None,
) -> None:
    """Write the incident as it is after a change of ``kind``; unless the change is a mere ``updated``, its
    event with ``detail`` and the (channel, payload) notifications routed for it, in ``conn``'s transaction."""
    _upsert_alert(conn, alert)
    if kind == "updated":
        return
    event_id = _insert_event(conn, alert.id, at, kind, detail)
    enqueue(conn, alert.id, event_id, routed, now or datetime.now(timezone.utc))


def incident_status(conn: Connection, alert_id: str) -> str | None:
    """The incident's stored status (None: not stored yet), read inside the caller's transaction."""
    a = schema.alerts
    return conn.execute(sa.select(a.c.status).where(a.c.id == alert_id)).scalar()


def _insert_event(conn: Connection, alert_id: str, at: datetime, kind: str, detail: dict[str, Any] | None) -> int:
    row = {"alert_id": alert_id, "at": at, "kind": kind, "detail": detail}  # bound, not built into the statement
    return conn.execute(schema.alert_events.insert(), row).inserted_primary_key[0]


def _upsert_alert(conn: Connection, alert: Alert) -> None:
    row = _alert_row(alert)
    conn.execute(_alert_upsert(conn.dialect.name, tuple(row)), row)


@lru_cache(maxsize=4)
def _alert_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """The upsert of one incident row with ``columns`` (``_alert_row``'s keys; its values bound at execution),
    built once per backend: building it took longer than running it (~5 ms a change), and a replay writes one
    per incident change."""
    a = schema.alerts
    stmt = insert(dialect, a)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={**{k: stmt.excluded[k] for k in columns if k not in ("id", "status")},
              "status": status_keeping_ack(a, stmt)},
    )


def status_keeping_ack(table: sa.Table, stmt: Any) -> Any:
    """The status an upsert ``stmt`` of ``table`` (incidents or cascades) writes: the new one, except that an
    acknowledged row stays acknowledged when the detector, which does not know on-call acknowledged it,
    writes it as open again (it grew)."""
    return sa.case((sa.and_(table.c.status == "acknowledged", stmt.excluded.status == "open"), "acknowledged"),
                   else_=stmt.excluded.status)


def load_alerts(store: Store, *, service: str | None = None, status: str | None = None) -> list[Alert]:
    query = sa.select(schema.alerts).order_by(schema.alerts.c.opened_at)
    if service:
        query = query.where(schema.alerts.c.service == service)
    if status:
        query = query.where(schema.alerts.c.status == status)
    with store.engine.connect() as conn:
        return [alert_from_row(row) for row in conn.execute(query)]


def open_counts(store: Store) -> dict[str, int]:
    """How many incidents each service has open (acknowledged ones included); services with none are absent."""
    a = schema.alerts
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(a.c.service, sa.func.count()).where(a.c.status.in_(("open", "acknowledged")))
            .group_by(a.c.service)
        ).all()
    return {service: int(count) for service, count in rows}


def latest_alerts(store: Store) -> list[Alert]:
    """The most recent incident of each service (what the alert manager resumes from)."""
    latest: dict[str, Alert] = {}
    for alert in load_alerts(store):
        latest[alert.service] = alert
    return list(latest.values())


def set_status(
    store: Store, alert_id: str, status: str, at: datetime, actor: str = "cli",
    route: Callable[[Alert, set[str]], Sequence[tuple[str, dict[str, Any]]]] | None = None,
) -> Alert:
    """Acknowledge or resolve an incident by hand and record the event; ``route`` (given the changed incident
    and the channels that heard of it) names the notifications to queue, in the same transaction.
    Acknowledging a resolved incident only records who reviewed it: it stays resolved. Raise KeyError for an
    unknown id, ValueError when it is already in that state (or resolving a resolved one).
    ``detector.alerting.actions.set_status`` is what on-call's commands call."""
    kind = "acknowledged" if status == "acknowledged" else "resolved"
    a = schema.alerts
    with store.engine.begin() as conn:
        row = conn.execute(sa.select(a).where(a.c.id == alert_id)).first()
        if row is None:
            raise KeyError(alert_id)
        if row.status == status or (status == "acknowledged" and row.acknowledged_at is not None):
            raise ValueError(f"incident {alert_id} is already {status}")
        detail: dict[str, Any] = {"by": actor, "manual": True}
        if row.status == "resolved":
            if status != "acknowledged":
                raise ValueError(f"incident {alert_id} is already resolved")
            values: dict[str, Any] = {"acknowledged_at": at}
            detail["after_resolve"] = True
        else:
            values = {"status": status, "updated_at": at, f"{kind}_at": at}
        conn.execute(sa.update(a).where(a.c.id == alert_id).values(**values))
        event_id = _insert_event(conn, alert_id, at, kind, detail)
        alert = alert_from_row(conn.execute(sa.select(a).where(a.c.id == alert_id)).first())
        if route is not None:
            enqueue(conn, alert_id, event_id, route(alert, notified_channels(conn, alert_id)), at)
    return alert


def alert_events(store: Store, alert_id: str) -> list[dict[str, Any]]:
    e = schema.alert_events
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(e).where(e.c.alert_id == alert_id).order_by(e.c.id))]
