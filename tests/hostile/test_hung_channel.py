"""A channel that hangs costs its timeout once per rest, not once per notification (issue 18, item 7)."""

from __future__ import annotations

from detector.alerting.channels.webhook import WebhookChannel
from detector.alerting.delivery import Sender
from detector.store.deliveries import outbox_rows
from detector.store.store import Store
from tests.servers.receiver import Receiver
from tests.test_alert_delivery import save


def test_a_hanging_webhook_is_not_tried_again_as_soon_as_it_gives_up(tmp_path):
    with Store(tmp_path / "o.db") as store:
        for n in range(3):
            save(store, "opened", n, alert_id=f"acme-{n}")
        with Receiver() as receiver:
            receiver.answer("hang", "hang", "hang")
            # a retry due 10 ms after a failure: shorter than the channel's own timeout
            sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url(), timeout=0.3)}, base_delay=0.01,
                            max_delay=0.01)
            for _ in range(3):
                sender.deliver_due()
            tried = len(receiver.requests)
        assert tried == 1, f"the hung channel was tried {tried} times in a row"
        assert sum(1 for row in outbox_rows(store) if row["last_error"]) == 1


def test_a_redirecting_webhook_is_refused_once_with_the_fix_not_retried_forever(tmp_path):
    from tests.servers.receiver import Answer

    with Store(tmp_path / "o.db") as store:
        save(store, "opened", 0)
        with Receiver() as receiver:
            receiver.answer(Answer(307, body="moved"))
            sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url())})
            assert sender.deliver_due().dead == 1
        [row] = outbox_rows(store, "dead")
        assert "redirected" in row["last_error"] and "new address" in row["last_error"]
