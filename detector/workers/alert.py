"""The alert role: deliver the outbox, by exactly one active worker, so an incident is notified once.

Any number of alert workers may run; one holds the ``alert`` lease and sends, the others stand by and
take over within ``lease_seconds`` when it stops renewing (the fencing is ``alerting/leased.py``'s,
wired by `build_system(role="alert")`).
"""

from __future__ import annotations

import logging

from detector.runtime.assembly import build_system
from detector.workers.base import Worker

log = logging.getLogger("detector.workers.alert")


class AlertWorker(Worker):
    """Sends due notifications from the outbox while it holds the alert lease."""

    role = "alert"

    def __init__(self, conn, *, name: str | None = None, poll_seconds: float = 0.5, **kwargs) -> None:
        super().__init__(conn, name=name, **kwargs)
        # The config's channels, fenced by the alert lease: the aggregate routes outbox rows to their names.
        self.system = build_system(conn.settings, role="alert", bus=conn, name=self.name)
        self.sender = self.system.sender
        self.lease = self.sender.lease
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
        self.system.close()  # releases the lease
