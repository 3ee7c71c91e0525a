"""Delivering the outbox: in order per incident and channel, retried with backoff, never twice.

A notification is marked sent only after its channel confirmed it, and the next one of the same incident
and channel waits until then, so a channel that is down for an hour gets everything, in order, when it is
back. Each notification carries its outbox key (``Idempotency-Key`` on HTTP, the Message-ID in e-mail,
PagerDuty's dedup key per incident), so a receiver can drop the copy a timed-out attempt may have left.
A channel that fails is left alone until the failed notification's retry time (a 429's Retry-After
holds for the whole channel, not just that notification): no hammering, and no attempts burnt on the
notifications queued behind it. A sender claims a notification before sending it, so two senders (a CLI `alerts send` next to a running
detector) never send the same one; a sender that dies mid-send leaves it due again when the claim ends.
A notification is dead after a permanent refusal, or after
``max_attempts`` failures once it is ``max_age`` old, with the reason, for a human to look at
(`detector alerts deliveries --dead`, `detector alerts retry`).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping

from detector.alerting.channels.base import Channel, Delivery
from detector.alerting.settings import AlertSettings
from detector.backoff import backoff_delay
from detector.secrets import Secrets
from detector.store.deliveries import OutboxItem, claim_delivery, due_notifications, mark_delivery
from detector.store.store import Store

log = logging.getLogger("detector.delivery")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0


class NoDelivery:
    """The sender of a process that never delivers (in a distributed deployment the alert workers do)."""

    def deliver_due(self) -> DeliveryReport:
        return DeliveryReport()


class Sender:
    """Sends due outbox notifications through their channels."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        *,
        secrets: Secrets | None = None,
        settings: AlertSettings | None = None,
        max_attempts: int | None = None,
        max_age: timedelta | None = None,
        base_delay: float | None = None,
        max_delay: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        seed: int | None = None,
        claim_for: timedelta = timedelta(minutes=5),
    ) -> None:
        defaults = settings or AlertSettings()
        self.store = store
        self.channels = dict(channels)
        self.secrets = secrets or Secrets(environ={})
        self.max_attempts = max_attempts if max_attempts is not None else defaults.max_attempts
        self.max_age = max_age if max_age is not None else timedelta(hours=defaults.max_age_hours)
        self.base_delay = base_delay if base_delay is not None else defaults.retry_base_seconds
        self.max_delay = max_delay if max_delay is not None else defaults.retry_max_seconds
        self.clock = clock
        self._rng = random.Random(seed)
        self._resting: dict[str, datetime] = {}  # channel -> not before (after a failure)
        self._failed_now: set[str] = set()  # channels that failed in this call (a Retry-After of 0 included)
        self.claim_for = claim_for  # longer than any channel's timeout

    def deliver_due(self) -> DeliveryReport:
        """Send everything that is due, lane by lane in order, until nothing more can go now."""
        sent = retrying = dead = 0
        now = self.clock()
        while True:
            progressed = False
            for item in due_notifications(self.store, now, channels=self.channels):
                if self._resting.get(item.channel, now) > now or item.channel in self._failed_now:
                    continue
                outcome = self._attempt(item, now)
                if outcome == "sent":
                    sent += 1
                    progressed = True
                elif outcome == "dead":
                    dead += 1
                    progressed = True
                elif outcome == "retrying":
                    retrying += 1
            if not progressed:
                self._failed_now.clear()
                return DeliveryReport(sent, retrying, dead)

    def _attempt(self, item: OutboxItem, now: datetime) -> str:
        channel = self.channels[item.channel]
        if not claim_delivery(self.store, item, now + self.claim_for):
            return "taken"  # another sender (a CLI `alerts send` next to a running detector) has it
        started = time.monotonic()
        try:
            result = channel.send({**item.payload, "key": item.key})
        except Exception as error:  # a channel must not raise; if one does, treat it as a failure
            result = Delivery(ok=False, error=f"{type(error).__name__}: {error}")
        took = time.monotonic() - started
        if result.ok:
            self._resting.pop(item.channel, None)
            mark_delivery(self.store, item, ok=True, now=now)
            log.info("notification %s sent to %s", item.key, item.channel)
            return "sent"
        error = self.secrets.mask(result.error or "failed")
        attempts = item.attempts + 1
        old_enough = item.created_at is None or now - item.created_at >= self.max_age
        if result.permanent or (attempts >= self.max_attempts and old_enough):
            mark_delivery(self.store, item, ok=False, now=now, error=error, dead=True)
            log.error("notification %s to %s is dead after %d attempts: %s", item.key, item.channel, attempts, error)
            return "dead"
        delay = result.retry_after if result.retry_after is not None else backoff_delay(
            attempts, self.base_delay, self.max_delay, self._rng
        )
        delay = min(max(delay, 0.0), max(self.max_delay, 3600.0))
        # counted from the end of the attempt, and at least as long as it took: a channel that hangs for its
        # whole timeout was otherwise due again the moment it returned, and a replay waited that timeout for
        # every notification it made
        retry_at = max(now, self.clock()) + timedelta(seconds=max(delay, took))
        mark_delivery(self.store, item, ok=False, now=now, error=error, retry_at=retry_at)
        self._resting[item.channel] = retry_at
        self._failed_now.add(item.channel)
        log.warning("notification %s to %s failed (attempt %d), retrying in %.0fs: %s",
                    item.key, item.channel, attempts, delay, error)
        return "retrying"
