"""The alert role: deliver the outbox, by exactly one active worker, so an incident is notified once.

Any number of alert workers may run; one holds the ``alert`` lease and sends, the others stand by and
take over within ``lease_seconds`` when it stops renewing. Every send is preceded by a check that the
lease is still held (renewing it when a third of its term has passed), so a worker that was paused past
its term and replaced sends nothing more: its channels answer "not the active alert worker" and the
notification stays pending for the new holder (``mark_delivery`` only touches pending rows, so a late
stale mark cannot undo a delivery).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from detector.alerting.channels.base import Channel, Delivery
from detector.alerting.delivery import DeliveryReport, Sender
from detector.classify.keywords import KeywordClassifier
from detector.runtime.assembly import build_system
from detector.workers.base import Worker
from detector.store.leases import Lease

log = logging.getLogger("detector.workers.alert")


class FencedChannel(Channel):
    """A channel that sends only while this worker holds the alert lease."""

    def __init__(self, inner: Channel, lease: Lease) -> None:
        self.inner = inner
        self.name = inner.name
        self.lease = lease

    def send(self, notification: Mapping[str, Any]) -> Delivery:
        if self.lease.renewal_due() and not self.lease.renew():
            return Delivery(ok=False, error="not the active alert worker any more", retry_after=0)
        if not self.lease.held:
            return Delivery(ok=False, error="not the active alert worker", retry_after=0)
        return self.inner.send(notification)

    def describe(self) -> str:
        return self.inner.describe()


class NoDelivery:
    """The sender of a process that never delivers (the alert workers do)."""

    def deliver_due(self) -> DeliveryReport:
        return DeliveryReport()


class LeasedSender:
    """A ``Sender`` that delivers only while its process holds the alert lease (standing by otherwise)."""

    def __init__(self, sender: Sender, lease: Lease) -> None:
        self.sender = sender
        self.lease = lease
        sender.channels = {name: FencedChannel(channel, lease) for name, channel in sender.channels.items()}

    def deliver_due(self) -> DeliveryReport:
        if not self.lease.held and not self.lease.try_acquire():
            return DeliveryReport()
        if self.lease.renewal_due() and not self.lease.renew():
            return DeliveryReport()
        return self.sender.deliver_due()

    def close(self) -> None:
        self.lease.release()


class AlertWorker(Worker):
    """Sends due notifications from the outbox while it holds the alert lease."""

    role = "alert"

    def __init__(self, conn, *, name: str | None = None, poll_seconds: float = 0.5, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        # The same channels and sender a single process builds (the classifier is not used here). The
        # channels are the config's: the aggregate routes outbox rows to exactly those names.
        self.system = build_system(conn.settings, classifier=KeywordClassifier())
        self.lease = Lease(self.store.engine, "alert", self.name, self.bus_settings.lease_seconds)
        self.sender = LeasedSender(self.system.sender, self.lease)
        self.poll_seconds = poll_seconds
        self.sent = 0

    def step(self) -> bool:
        report = self.sender.deliver_due()
        if not self.lease.held:
            self.sleep(self.bus_settings.lease_seconds / 3)  # standby
            return False
        self.sent += report.sent
        if not (report.sent or report.retrying or report.dead):
            self.sleep(self.poll_seconds)
        return bool(report.sent)

    def close(self) -> None:
        self.lease.release()
        self.system.close()
