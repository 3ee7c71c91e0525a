"""Delivery fenced by the alert lease: what makes exactly one process send the outbox.

Any number of processes may be ready to deliver; one holds the ``alert`` lease and sends, the others
stand by and take over within ``lease_seconds`` when it stops renewing. Every send is preceded by a check
that the lease is still held (renewing it when a third of its term has passed), so a worker that was
paused past its term and replaced sends nothing more: its channels answer "not the active alert worker"
and the notification stays pending for the new holder (``mark_delivery`` only touches pending rows, so a
late stale mark cannot undo a delivery). `build_system` wires them for the alert role.
"""

from __future__ import annotations

from typing import Any, Mapping

from detector.alerting.channels.base import Channel, Delivery
from detector.alerting.delivery import DeliveryReport, Sender
from detector.store.leases import Lease


class FencedChannel(Channel):
    """A channel that sends only while this process holds the alert lease."""

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


class LeasedSender:
    """A ``Sender`` (over fenced channels) that delivers only while its process holds the alert lease,
    standing by otherwise."""

    def __init__(self, sender: Sender, lease: Lease) -> None:
        self.sender = sender
        self.lease = lease

    def deliver_due(self) -> DeliveryReport:
        if not self.lease.held and not self.lease.try_acquire():
            return DeliveryReport()
        if self.lease.renewal_due() and not self.lease.renew():
            return DeliveryReport()
        return self.sender.deliver_due()

    def close(self) -> None:
        self.lease.release()
