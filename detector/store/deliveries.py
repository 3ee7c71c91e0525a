"""The notification outbox: what each channel is to be told, its delivery, retries and dead letters.

A notification is queued (``enqueue``) in the transaction that records its incident's (or cascade's) event,
so the world learns of a change exactly when it is recorded; the sender then takes the oldest due item of
each (incident, channel) lane (``due_notifications``), claims it against other senders (``claim_delivery``)
and marks the outcome (``mark_delivery``). Dead letters are given new attempts by hand (``requeue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.store import schema
from detector.store.frames import read_frame
from detector.store.store import Store

if TYPE_CHECKING:  # pandas is loaded where a frame is made: the sender and the pipeline do not pay for it
    import pandas as pd


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


def delivery_counts(store: Store, alert_id: str) -> pd.DataFrame:
    """Per (channel, status) of the incident's notifications: how many (``n``), the most attempts one took
    and the latest error text (channels mask their secrets before an error is stored)."""
    o = schema.outbox
    query = (
        sa.select(o.c.channel, o.c.status, sa.func.count().label("n"), sa.func.max(o.c.attempts).label("attempts"),
                  sa.func.max(o.c.last_error).label("last_error"))
        .where(o.c.alert_id == alert_id).group_by(o.c.channel, o.c.status)
    )
    return read_frame(store, query)
