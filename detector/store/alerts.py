"""Persisting incidents, their events, the notification outbox and on-call silences.

An incident change, its event and its outbox rows are written in one transaction: either the world
learns about a change and it is recorded, or neither happens. Delivery happens later, from the outbox.
Who hears of a change (routes, silences, the resolve rule) is decided by ``detector.alerting.routing``;
this module writes what it decided (``detector.store.ledger`` answers the questions it asks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

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
    created_at: datetime | None = None



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
    return conn.execute(
        schema.alert_events.insert().values(alert_id=alert_id, at=at, kind=kind, detail=detail)
    ).inserted_primary_key[0]


def enqueue(conn: Connection, alert_id: str, event_id: int, routed: Sequence[tuple[str, dict[str, Any]]],
             now: datetime) -> None:
    rows = [
        {
            "key": outbox_key(alert_id, event_id, channel),
            "alert_id": alert_id,
            "event_id": event_id,
            "channel": channel,
            "payload": {**payload, "event_id": event_id},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel, payload in routed
    ]
    if rows:
        conn.execute(schema.outbox.insert(), rows)


def outbox_key(alert_id: str, event_id: int, channel: str) -> str:
    """The idempotency key of one notification to one channel: the same on every retry."""
    return f"{alert_id}:{event_id}:{channel}"


def notified_channels(conn: Connection, alert_id: str) -> set[str]:
    """Channels that were given (or are being given) news of this incident."""
    o = schema.outbox
    return {r[0] for r in conn.execute(sa.select(o.c.channel).where(o.c.alert_id == alert_id).distinct())}


def _upsert_alert(conn: Connection, alert: Alert) -> None:
    row = _alert_row(alert)
    a = schema.alerts
    stmt = (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(a).values(**row)
    # A running detector does not know that on-call acknowledged the incident: growing it keeps the ack.
    status = sa.case((sa.and_(a.c.status == "acknowledged", stmt.excluded.status == "open"), "acknowledged"),
                     else_=stmt.excluded.status)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={**{k: stmt.excluded[k] for k in row if k not in ("id", "status")}, "status": status},
    ))


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


def due_notifications(
    store: Store, now: datetime, limit: int = 200, channels: Iterable[str] | None = None
) -> list[OutboxItem]:
    """Pending notifications in order; for each (incident, channel) only the oldest, so order holds.
    With ``channels``, only notifications for those channels (others wait for a sender that has them)."""
    o = schema.outbox
    query = sa.select(o).where(o.c.status == "pending").order_by(o.c.id)
    if channels is not None:
        query = query.where(o.c.channel.in_(list(channels)))
    with store.engine.connect() as conn:
        rows = conn.execute(query.limit(limit * 20)).all()
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
                                  m["attempts"], m["next_attempt_at"], m["last_error"], m["created_at"]))
        if len(due) >= limit:
            break
    return due


def claim_delivery(store: Store, item: OutboxItem, until: datetime) -> bool:
    """Take ``item`` for sending until ``until``; False when another sender took it (or it is done) since
    it was read. A sender that dies after claiming leaves it pending: it is due again at ``until``."""
    o = schema.outbox
    with store.engine.begin() as conn:
        return conn.execute(
            sa.update(o)
            .where(o.c.id == item.id, o.c.status == "pending", o.c.attempts == item.attempts,
                   o.c.next_attempt_at == item.next_attempt_at)
            .values(next_attempt_at=until)
        ).rowcount == 1


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


def outbox_counts(store: Store) -> dict[str, int]:
    """How many notifications the outbox holds in each status (pending, sent, dead)."""
    o = schema.outbox
    with store.engine.connect() as conn:
        return {status: int(count) for status, count in
                conn.execute(sa.select(o.c.status, sa.func.count()).group_by(o.c.status))}


def requeue(store: Store, keys: Sequence[str] = (), *, dead: bool = False, now: datetime | None = None) -> int:
    """Give dead notifications (these keys, or all with ``dead``) a fresh set of attempts; return how many."""
    o = schema.outbox
    query = sa.update(o).where(o.c.status == "dead")
    if keys:
        query = query.where(o.c.key.in_(list(keys)))
    elif not dead:
        return 0
    with store.engine.begin() as conn:
        return conn.execute(query.values(status="pending", attempts=0,
                                         next_attempt_at=now or datetime.now(timezone.utc))).rowcount


# -- silences ------------------------------------------------------------------------------------
def add_silence(
    store: Store, service: str, starts_at: datetime, ends_at: datetime, reason: str | None = None,
    created_by: str | None = None, now: datetime | None = None,
) -> int:
    """Silence ``service``'s notifications over [starts_at, ends_at); return the silence id."""
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    with store.engine.begin() as conn:
        return conn.execute(schema.silences.insert().values(
            service=service, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=created_by,
            created_at=now or datetime.now(timezone.utc),
        )).inserted_primary_key[0]


def active_silence(conn: Connection, service: str, at: datetime) -> str | None:
    """The reason of a silence covering ``service`` at ``at`` ('*' silences every service), else None."""
    s = schema.silences
    row = conn.execute(
        sa.select(s.c.id, s.c.reason)
        .where(s.c.service.in_([service, "*"]), s.c.starts_at <= at, s.c.ends_at > at)
        .order_by(s.c.id).limit(1)
    ).first()
    if row is None:
        return None
    return f"silence {row.id}" + (f": {row.reason}" if row.reason else "")


def list_silences(store: Store, *, active_at: datetime | None = None) -> list[dict[str, Any]]:
    """Silences, newest first; with ``active_at``, only those not yet over then."""
    s = schema.silences
    query = sa.select(s).order_by(s.c.id.desc())
    if active_at is not None:
        query = query.where(s.c.ends_at > active_at)
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def end_silence(store: Store, silence_id: int, at: datetime) -> bool:
    """End a silence now; False when there is no such silence or it is already over."""
    s = schema.silences
    with store.engine.begin() as conn:
        return conn.execute(
            sa.update(s).where(s.c.id == silence_id, s.c.ends_at > at).values(ends_at=at)
        ).rowcount > 0
