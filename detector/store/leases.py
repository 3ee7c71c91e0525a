"""Leases with fencing tokens and checkpoints, in the shared database, for roles that must have one active
worker at a time (the aggregate, which owns detection order, and the alert sender).

A lease is a row per role: its holder, a token that grows at every change of holder, and an expiry. A
worker acquires it when it is free or expired, and renews it *inside* each transaction that writes its
effects (``fence``): the renewal matches only its own token, so a worker that stalled past its expiry and
was replaced cannot commit anything afterwards, even if it does not know yet that it was replaced.

The two tables are part of the store's versioned schema (``detector.store.schema``, version 4), so they
exist as soon as the database is opened, created under the schema's advisory lock like every other table.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from detector.store.database import upsert
from detector.store.schema import worker_checkpoints, worker_leases
from detector.store.store import Store


class LeaseLost(Exception):
    """Another worker holds the role now; this worker's pending effects were not committed."""


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Lease:
    """The right to act as the one active worker of ``role``, while it is renewed within ``seconds``."""

    def __init__(self, store: Store, role: str, holder: str, seconds: float,
                 clock: Callable[[], datetime] = _utcnow) -> None:
        self.store = store
        self.role = role
        self.holder = holder
        self.ttl = timedelta(seconds=seconds)
        self.clock = clock
        self.token: int | None = None
        self._valid_until: datetime | None = None

    @property
    def held(self) -> bool:
        """True while this worker's last renewal is still within its term (by this worker's clock)."""
        return self.token is not None and self._valid_until is not None and self.clock() < self._valid_until

    def renewal_due(self) -> bool:
        """True once a third of the term has passed since the last renewal."""
        if self._valid_until is None:
            return True
        return self._valid_until - self.clock() < self.ttl * 2 / 3

    def try_acquire(self) -> bool:
        """Take the role when it is free or its holder stopped renewing; True when this worker holds it."""
        lease = worker_leases
        now = self.clock()
        try:
            with self.store.transaction() as conn:
                row = conn.execute(sa.select(lease).where(lease.c.role == self.role).with_for_update()).first()
                if row is None:
                    token = 1
                    conn.execute(lease.insert().values(role=self.role, holder=self.holder, token=token,
                                                       expires_at=now + self.ttl, acquired_at=now))
                elif row.holder == self.holder and row.token == self.token:
                    token = row.token
                    conn.execute(sa.update(lease).where(lease.c.role == self.role).values(expires_at=now + self.ttl))
                elif row.expires_at <= now or row.holder == self.holder:
                    # Expired, or held by an earlier run of this very worker (same name): take it over
                    # with a new token, so anything the earlier run still tries to commit is refused.
                    token = row.token + 1
                    conn.execute(sa.update(lease).where(lease.c.role == self.role, lease.c.token == row.token)
                                 .values(holder=self.holder, token=token, expires_at=now + self.ttl, acquired_at=now))
                else:
                    return False
        except sa.exc.IntegrityError:  # another worker inserted the first row at the same moment
            return False
        self.token, self._valid_until = token, now + self.ttl
        return True

    def fence(self, conn: Connection) -> None:
        """Renew the lease inside ``conn``'s transaction; raise LeaseLost (and roll it back) when another
        worker took the role."""
        if self.token is None:
            raise LeaseLost(f"{self.holder} does not hold the {self.role} role")
        now = self.clock()
        lease = worker_leases
        result = conn.execute(
            sa.update(lease).where(lease.c.role == self.role, lease.c.token == self.token,
                                   lease.c.holder == self.holder)
            .values(expires_at=now + self.ttl)
        )
        if result.rowcount != 1:
            self.token = self._valid_until = None
            raise LeaseLost(f"{self.holder} lost the {self.role} role to another worker")
        self._valid_until = now + self.ttl

    def renew(self) -> bool:
        """Renew in a transaction of its own; False when the role was lost."""
        try:
            with self.store.transaction() as conn:
                self.fence(conn)
        except LeaseLost:
            return False
        return True

    @contextmanager
    def kept_alive(self) -> Iterator[None]:
        """Renew the lease from a background thread while the block runs (a long apply must not let it
        lapse and hand the role to a standby that would then redo the same long apply)."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl.total_seconds() / 3):
                try:
                    if not self.renew():
                        return
                except Exception:  # the database is away: the commit will find out, and fence
                    return

        thread = threading.Thread(target=renew, name=f"lease-{self.role}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def release(self) -> None:
        """Give the role up now (on a clean stop), so a standby takes over without waiting for the expiry."""
        if self.token is None:
            return
        with self.store.transaction() as conn:
            conn.execute(sa.update(worker_leases).where(
                worker_leases.c.role == self.role, worker_leases.c.token == self.token
            ).values(expires_at=self.clock() - timedelta(seconds=1)))
        self.token = self._valid_until = None


def load_checkpoint(store: Store, name: str) -> tuple[int, bytes | None]:
    """The last applied sequence number and the state saved with it; (0, None) before the first."""
    c = worker_checkpoints
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(c.c.position, c.c.state).where(c.c.name == name)).first()
    return (0, None) if row is None else (int(row.position), bytes(row.state))


def save_checkpoint(conn: Connection, name: str, position: int, state: bytes, token: int) -> None:
    """Record ``position`` and ``state`` in the caller's (fenced) transaction."""
    stmt = upsert(conn.dialect.name, worker_checkpoints, ("name",), ("position", "state", "token", "updated_at"))
    conn.execute(stmt, [{"name": name, "position": position, "state": state, "token": token, "updated_at": _utcnow()}])
