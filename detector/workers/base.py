"""What every worker role shares: its connections, a stop flag, and a loop that survives outages.

A role implements ``step()`` (one read-process-acknowledge round, True when it did something) and
``recover()`` (forget in-memory progress after an error, so the next step starts again from what Redis and
the database say). The loop retries with exponential backoff and jitter while Redis or PostgreSQL is
unreachable (a restart, a failover) and resets the backoff as soon as a step succeeds.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import redis

from detector.backoff import Backoff
from detector.bus.settings import BusSettings
from detector.bus.streams import RedisBus
from detector.config import Settings
from detector.secrets import Secrets
from detector.store.database import UNREACHABLE
from detector.store.store import Store

log = logging.getLogger("detector.workers")

# What an outage of Redis or the database looks like from here: wait and retry, do not die.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, *UNREACHABLE)


class WorkerError(Exception):
    """A worker cannot start as configured (no [bus], a database it cannot use)."""


def default_name() -> str:
    """A consumer name unique on the machine and readable in `detector worker status`."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Connections:
    """The store and the bus a worker works through."""

    settings: Settings
    bus_settings: BusSettings
    store: Store
    bus: RedisBus
    secrets: Secrets

    def close(self) -> None:
        self.store.close()
        self.bus.redis.close()


def connect(settings: Settings, bus_settings: BusSettings | None) -> Connections:
    """Open the store (creating or upgrading its schema, the workers' leases and checkpoints included) and
    the bus."""
    if bus_settings is None:
        raise WorkerError("no bus configured: add a [bus] table with url = \"redis://...\" or pass --bus")
    secrets = Secrets(settings.secrets_file)
    bus_settings = bus_settings.model_copy(update={"url": secrets.expand(bus_settings.url)})
    store = Store(settings.db)
    bus = RedisBus(bus_settings)
    return Connections(settings, bus_settings, store, bus, secrets)


class Worker(ABC):
    """One process of one role."""

    role: str = "worker"

    def __init__(self, conn: Connections, *, name: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        self.conn = conn
        self.store = conn.store
        self.bus = conn.bus
        self.bus_settings = conn.bus_settings
        self.name = name or default_name()
        self.sleep = sleep
        self._stopping = False
        self._rng = random.Random(seed)

    def stop(self) -> None:
        """Finish the current step, then return from ``run`` (called from a SIGTERM handler)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    @abstractmethod
    def step(self) -> bool:
        """Do one round of work; True when there was something to do."""

    def recover(self) -> None:
        """Drop in-memory progress after a failed step (the next step re-reads what it holds)."""

    def finished(self) -> bool:
        """True when a finite role (ingest of recorded files) has nothing more to do."""
        return False

    def close(self) -> None:
        """Release what the role holds (leases, consumer names) on a clean stop."""

    def run(self) -> None:
        """Step until stopped (or finished), riding out Redis and database outages."""
        backoff = Backoff(base=0.2, cap=10.0, rng=self._rng)
        try:
            while not self._stopping and not self.finished():
                try:
                    self.step()
                    backoff.reset()
                except TRANSIENT as error:
                    wait = backoff.failed()
                    log.warning("%s %s: %s: %s; retrying in %.1fs", self.role, self.name, type(error).__name__,
                                str(error).splitlines()[0] if str(error) else "", wait)
                    self.recover()
                    self.sleep(wait)
        finally:
            try:
                self.close()
            except TRANSIENT as error:
                log.warning("%s %s: could not release cleanly: %s", self.role, self.name, error)
