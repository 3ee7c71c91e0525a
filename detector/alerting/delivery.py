"""Delivering the outbox: in order per incident and channel, retried with backoff, never twice.

A notification is marked sent only after its channel confirmed it, and the next one of the same incident
and channel waits until then, so a channel that is down for an hour gets everything, in order, when it is
back. After ``max_attempts`` failures (or a permanent refusal) a notification is marked dead with the
reason, for a human to look at.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from detector.alerting.channels.base import Channel, Delivery
from detector.secrets import Secrets
from detector.store.alerts import due_notifications, mark_delivery
from detector.store.store import Store

log = logging.getLogger("detector.delivery")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: attempt 1 waits up to base, then 2x, 4x, ... capped."""
    return rng.uniform(0.5, 1.0) * min(cap, base * 2 ** max(0, attempt - 1))


class Sender:
    """Sends due outbox notifications through their channels."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        secrets: Secrets | None = None,
        max_attempts: int = 10,
        base_delay: float = 5.0,
        max_delay: float = 900.0,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.secrets = secrets or Secrets(environ={})
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock
        self._rng = random.Random(seed)

    def deliver_due(self) -> DeliveryReport:
        sent = retrying = dead = 0
        now = self.clock()
        for item in due_notifications(self.store, now):
            channel = self.channels.get(item.channel)
            if channel is None:
                result = Delivery(ok=False, error=f"channel {item.channel!r} is not configured", permanent=False)
            else:
                try:
                    result = channel.send(item.payload)
                except Exception as error:  # a channel must not raise; if one does, treat it as a failure
                    result = Delivery(ok=False, error=f"{type(error).__name__}: {error}")
            error = self.secrets.mask(result.error) if result.error else None
            if result.ok:
                mark_delivery(self.store, item, ok=True, now=now)
                sent += 1
                continue
            attempts = item.attempts + 1
            if result.permanent or attempts >= self.max_attempts:
                mark_delivery(self.store, item, ok=False, now=now, error=error, dead=True)
                log.error("notification %s to %s is dead after %d attempts: %s", item.key, item.channel, attempts, error)
                dead += 1
                continue
            delay = result.retry_after if result.retry_after is not None else backoff(
                attempts, self.base_delay, self.max_delay, self._rng
            )
            mark_delivery(self.store, item, ok=False, now=now, error=error, retry_at=now + timedelta(seconds=delay))
            log.warning("notification %s to %s failed (attempt %d), retrying in %.0fs: %s",
                        item.key, item.channel, attempts, delay, error)
            retrying += 1
        return DeliveryReport(sent, retrying, dead)
