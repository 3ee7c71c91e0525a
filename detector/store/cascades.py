"""Persisting cascades: the group, its members, its events and its notifications (formed by
``detector.alerting.grouping``, routed by ``detector.alerting.routing``; this module only records and reads
them).

A cascade's notification goes through the same outbox as an incident's, with the cascade id where the
incident id goes, so delivery, ordering, retries and dead letters work unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.records import Cascade, Member
from detector.store import schema
from detector.store.alerts import alert_from_row, status_keeping_ack
from detector.store.database import insert
from detector.store.deliveries import enqueue
from detector.store.store import Store


def _cascade_row(c: Cascade) -> dict[str, Any]:
    return {"id": c.id, "likely_cause": c.likely_cause, "confidence": float(c.confidence), "status": c.status,
            "severity": c.severity, "opened_at": c.opened_at, "recognised_at": c.recognised_at,
            "updated_at": c.updated_at, "resolved_at": c.resolved_at, "evidence": dict(c.evidence)}


def cascade_status(conn: Connection, cascade_id: str) -> str | None:
    """The cascade's stored status (None: not stored yet), read inside the caller's transaction."""
    c = schema.cascades
    return conn.execute(sa.select(c.c.status).where(c.c.id == cascade_id)).scalar()


def record_cascade_change(
    conn: Connection, cascade: Cascade, kind: str, at: datetime, detail: dict[str, Any],
    routed: Sequence[tuple[str, dict[str, Any]]], now: datetime,
) -> None:
    """Write the cascade and its members as they are after a change of ``kind``, its event with ``detail`` and
    the (channel, payload) notifications routed for it (in the caller's transaction, after the member
    incidents were written). A running grouper does not know that on-call acknowledged: the ack is kept."""
    c, m = schema.cascades, schema.cascade_members
    row = _cascade_row(cascade)
    stmt = insert(conn.dialect.name, c).values(**row)
    keep = ("id", "recognised_at", "status")
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={**{k: stmt.excluded[k] for k in row if k not in keep}, "status": status_keeping_ack(c, stmt)}))
    for member in cascade.members:
        values = {"alert_id": member.alert_id, "cascade_id": cascade.id, "service": member.service,
                  "onset": member.onset, "declares": member.declares, "naming_share": member.naming_share,
                  "paged": member.paged}
        ins = insert(conn.dialect.name, m).values(**values)
        conn.execute(ins.on_conflict_do_update(
            index_elements=["alert_id"], set_={k: ins.excluded[k] for k in values if k != "alert_id"}))
    event_id = conn.execute(schema.cascade_events.insert().values(
        cascade_id=cascade.id, at=at, kind=kind, detail=detail)).inserted_primary_key[0]
    enqueue(conn, cascade.id, event_id, routed, now)


def latest_event_id(conn: Connection, alert_id: str, kind: str) -> int | None:
    """The id of the incident's latest event of ``kind`` (None: there is none)."""
    e = schema.alert_events
    return conn.execute(
        sa.select(e.c.id).where(e.c.alert_id == alert_id, e.c.kind == kind).order_by(e.c.id.desc()).limit(1)
    ).scalar()


# -- reading ---------------------------------------------------------------------------------------
def load_cascades(store: Store, *, status: str | None = None, open_only: bool = False) -> list[Cascade]:
    """Cascades with their members, oldest first."""
    c, m, a = schema.cascades, schema.cascade_members, schema.alerts
    query = sa.select(c).order_by(c.c.opened_at)
    if status:
        query = query.where(c.c.status == status)
    if open_only:
        query = query.where(c.c.status != "resolved")
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        members = conn.execute(
            sa.select(m, a.c.severity, a.c.status).select_from(m.join(a, a.c.id == m.c.alert_id))
            .where(m.c.cascade_id.in_([r.id for r in rows])).order_by(m.c.onset)
        ).all() if rows else []
    by_cascade: dict[str, list[Member]] = {}
    for r in members:
        by_cascade.setdefault(r.cascade_id, []).append(
            Member(r.alert_id, r.service, r.onset, r.severity, r.status, bool(r.declares), float(r.naming_share),
                   bool(r.paged)))
    return [Cascade(r.id, r.likely_cause, float(r.confidence), r.opened_at, r.recognised_at, r.updated_at, r.status,
                    tuple(by_cascade.get(r.id, ())), r.evidence or {}, r.resolved_at) for r in rows]


def cascade_of(store: Store, alert_id: str) -> str | None:
    """The cascade an incident belongs to, if any."""
    m = schema.cascade_members
    with store.engine.connect() as conn:
        return conn.execute(sa.select(m.c.cascade_id).where(m.c.alert_id == alert_id)).scalar()


def groups_by_incident(store: Store) -> dict[str, str]:
    """Every grouped incident's cascade id."""
    m = schema.cascade_members
    with store.engine.connect() as conn:
        return {r.alert_id: r.cascade_id for r in conn.execute(sa.select(m.c.alert_id, m.c.cascade_id))}


def cascade_events(store: Store, cascade_id: str) -> list[dict[str, Any]]:
    e = schema.cascade_events
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(e).where(e.c.cascade_id == cascade_id).order_by(e.c.id))]


def mark_cascade(store: Store, cascade_id: str, status: str, at: datetime, actor: str) -> int:
    """Record on-call's acknowledge or resolve of the cascade itself (its members are incidents, marked one
    by one); return the event's id, for the notification ``detector.alerting.cascade_actions`` queues."""
    kind = "acknowledged" if status == "acknowledged" else "resolved"
    c = schema.cascades
    values: dict[str, Any] = {"status": status, "updated_at": at}
    values["acknowledged_at" if kind == "acknowledged" else "resolved_at"] = at
    with store.engine.begin() as conn:
        conn.execute(sa.update(c).where(c.c.id == cascade_id).values(**values))
        return conn.execute(schema.cascade_events.insert().values(
            cascade_id=cascade_id, at=at, kind=kind, detail={"by": actor, "manual": True})).inserted_primary_key[0]


def interrupted(store: Store, open_cascades: Sequence[str], linked_services: Iterable[str]) -> tuple[list[str], list]:
    """What a restart may have interrupted: the open cascades with no ``opened`` event yet (not announced),
    and the open, unsuppressed incidents of ``linked_services`` that are in no cascade and have no outbox row
    (held for their group wait when the process stopped)."""
    e, a, m, o = schema.cascade_events, schema.alerts, schema.cascade_members, schema.outbox
    linked = list(linked_services)
    with store.engine.connect() as conn:
        announced = {r[0] for r in conn.execute(
            sa.select(e.c.cascade_id).where(e.c.kind == "opened", e.c.cascade_id.in_(list(open_cascades))))}
        rows = conn.execute(
            sa.select(a).where(a.c.status == "open", a.c.suppressed.is_(False), a.c.service.in_(linked))
            .where(~sa.exists().where(m.c.alert_id == a.c.id))
            .where(~sa.exists().where(o.c.alert_id == a.c.id))
        ).all() if linked else []
    return [c for c in open_cascades if c not in announced], [alert_from_row(r) for r in rows]
