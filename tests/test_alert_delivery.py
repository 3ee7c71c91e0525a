"""Delivery that loses nothing: the outbox, retries with backoff, order per incident, idempotency keys,
dead letters, silences; against a real local HTTP receiver, with an injected clock (no sleeping)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from detector.alerting.channels.jsonl import JsonlChannel
from detector.alerting.channels.webhook import WebhookChannel
from detector.alerting.delivery import Sender
from detector.alerting.manager import AlertChange
from detector.alerting.notification import build_payload
from detector.alerting.settings import AlertSettings, ChannelSettings
from detector.classify.settings import ClassifierSettings
from detector.config import ServiceSettings, Settings
from detector.records import Alert, Detection
from detector.runtime.assembly import build_system, run_source
from detector.sources.replay import ReplaySettings, ReplaySource
from detector.store import schema
from detector.alerting.actions import set_status
from detector.alerting.routing import save_changes
from detector.store.alerts import alert_events
from detector.store.deliveries import outbox_rows, requeue
from detector.store.silences import add_silence
from detector.store.store import Store
from tests.servers.posts import write_burst_csv
from tests.servers.receiver import Answer, Receiver

SECRET = "whsec-3c2b1a0f9e8d7c6b"


class Clock:
    """Time that moves only when a test says so. It starts a few minutes after the wall clock, because
    outbox rows are written with the wall clock: a replay that takes more than a second (a loaded machine)
    would otherwise write rows not yet due at the test's "now", and nothing would be attempted."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc) + timedelta(minutes=3)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    monkeypatch.setenv("DETECTOR_WEBHOOK_SECRET", SECRET)
    return Clock()


def replay_with(tmp_path: Path, notify: list[str], clock: Clock, alerts: AlertSettings | None = None):
    """Replay the burst file through the real pipeline; deliveries use ``clock``. Returns the system."""
    settings = Settings(db=str(tmp_path / "d.db"), services=[ServiceSettings(name="Acme", match=["acme cloud"])],
                        classifier=ClassifierSettings(kind="keywords"), alerts=alerts or AlertSettings())
    system = build_system(settings, notify=notify)
    system.sender = Sender(system.store, system.channels, secrets=system.secrets, settings=settings.alerts,
                           clock=clock, seed=1)
    path = write_burst_csv(tmp_path / "posts.csv")
    source = ReplaySource(ReplaySettings(path=path, service="Acme", id_column="id", author_column="author",
                                         url_column="url"), system.pseudonymiser)
    run_source(system, source, assigned="Acme")
    return system


def events_of(system) -> list[str]:
    with system.store.engine.connect() as conn:
        return [r.kind for r in conn.execute(sa.select(schema.alert_events.c.kind).order_by(schema.alert_events.c.id))]


def test_receiver_down_for_the_whole_incident_then_back(tmp_path, clock):
    receiver = Receiver(secret=SECRET)  # not started: nothing listens on its port
    jsonl = tmp_path / "alerts.jsonl"
    system = replay_with(tmp_path, [receiver.url(), f"jsonl://{jsonl}"], clock)
    try:
        kinds = events_of(system)
        assert kinds == ["opened", "escalated", "resolved"]
        rows = outbox_rows(system.store)
        hook = [r for r in rows if r["channel"] == "notify-1"]
        assert [r["status"] for r in hook] == ["pending"] * 3
        assert hook[0]["attempts"] >= 1 and "ConnectError" in hook[0]["last_error"]
        assert all(r["attempts"] == 0 for r in hook[1:])  # queued behind the first: no attempts burnt
        assert [r["status"] for r in rows if r["channel"] == "notify-2"] == ["sent"] * 3  # the file channel was up

        clock.advance(hours=1)
        with receiver:
            report = system.sender.deliver_due()
            assert report.sent == 3 and report.dead == 0
            assert system.sender.deliver_due().sent == 0
        assert receiver.problems == []
        got = receiver.delivered()
        assert [r.json["event"] for r in got] == ["opened", "escalated", "resolved"]
        assert len(receiver.requests) == 3  # once each
        assert len({r.key for r in got}) == 3
        assert all("x-detector-signature" in r.headers for r in got)
        assert {r.json["alert"]["id"] for r in got} == {kinds and rows[0]["alert_id"]}
    finally:
        system.close()


def test_every_notification_carries_the_evidence(tmp_path, clock):
    with Receiver(secret=SECRET) as receiver:
        system = replay_with(tmp_path, [receiver.url()], clock,
                             AlertSettings(dashboard_url="http://dash.example:8501"))
        system.close()
    opened = receiver.delivered()[0].json
    assert opened["alert"]["service"] == "Acme" and opened["alert"]["opened_at"].startswith("2026-03-02T10:0")
    assert opened["signal"]["value"] >= 3 and "expected" in opened["signal"] and opened["signal"]["ratio"] >= 3
    assert opened["complaint_share"] > 0.5 and opened["top_symptoms"] == ["login"]
    assert 3 <= len(opened["evidence"]) <= 5
    post = opened["evidence"][0]
    assert post["text"].startswith("acme cloud is down") and post["url"].startswith("https://social.example/")
    assert post["author"] and not post["author"].startswith("user")  # pseudonymised
    assert opened["dashboard_url"] == f"http://dash.example:8501/?incident={opened['alert']['id']}"
    assert opened["claims"] == [] and opened["official_status"] is None


def save(store: Store, kind: str, minute: int, channels=("hook",), alert_id="acme-1", severity="major") -> None:
    at = datetime(2026, 3, 2, 10, minute, tzinfo=timezone.utc)
    alert = Alert(alert_id, "Acme", datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc),
                  "resolved" if kind == "resolved" else "open", severity, 6.0, 6.0, 1.0, "6 people", updated_at=at,
                  resolved_at=at if kind == "resolved" else None)
    detection = Detection("Acme", at, at, 6.0, 1.0, 3.0, 1.0, kind == "opened")
    change = AlertChange(kind, alert, at, detection, 0.9)
    payload = build_payload(store, change, AlertSettings())
    save_changes(store, [change], [(change, name, payload) for name in channels])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """The same outbox on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        with Store(tmp_path / "o.db") as store:
            yield store
        return
    from tests.test_postgres import fresh_database

    url, drop = fresh_database()
    try:
        with Store(url) as store:
            yield store
    finally:
        drop()


def test_429_retry_after_is_honoured(store, clock):
    save(store, "opened", 0)
    with Receiver() as receiver:
        receiver.answer(Answer(429, retry_after="120"))
        sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url())}, clock=clock)
        assert sender.deliver_due().retrying == 1
        row = outbox_rows(store)[0]
        assert row["next_attempt_at"] == clock.now + timedelta(seconds=120)
        clock.advance(seconds=60)
        assert sender.deliver_due() == type(sender.deliver_due())(0, 0, 0)
        clock.advance(seconds=61)
        assert sender.deliver_due().sent == 1
    assert len(receiver.requests) == 2


def test_a_rate_limited_channel_rests_for_every_incident(store, clock):
    save(store, "opened", 0)
    save(store, "opened", 1, alert_id="other-1")
    with Receiver() as receiver:
        receiver.answer(Answer(429, retry_after="120"))
        sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url())}, clock=clock)
        assert sender.deliver_due().retrying == 1
        clock.advance(seconds=119)
        assert sender.deliver_due().sent == 0
        assert len(receiver.requests) == 1  # the other incident's notification did not hit the limit either
        clock.advance(seconds=2)
        assert sender.deliver_due().sent == 2


def test_in_order_per_incident_the_next_waits_for_the_first(store, clock):
    for kind, minute in (("opened", 0), ("escalated", 2), ("resolved", 30)):
        save(store, kind, minute)
    save(store, "opened", 5, alert_id="other-1")
    with Receiver() as receiver:
        receiver.answer(500)
        sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url())}, clock=clock, seed=3)
        report = sender.deliver_due()
        assert (report.sent, report.retrying) == (0, 1)  # the channel failed: nothing else tried this pass
        clock.advance(minutes=10)
        assert sender.deliver_due().sent == 4
    events = [(r.json["alert"]["id"], r.json["event"]) for r in receiver.delivered()]
    assert [e for i, e in events if i == "acme-1"] == ["opened", "escalated", "resolved"]


def test_a_hanging_receiver_gets_a_retry_with_the_same_key(store, clock):
    save(store, "opened", 0)
    with Receiver() as receiver:
        receiver.answer("hang")
        sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url(), timeout=0.05)}, clock=clock)
        assert sender.deliver_due().retrying == 1
        assert "no answer" in outbox_rows(store)[0]["last_error"]
        clock.advance(minutes=5)
        assert sender.deliver_due().sent == 1
    assert len(receiver.requests) == 2 and receiver.requests[0].key == receiver.requests[1].key
    assert len(receiver.delivered()) == 1  # a receiver that honours Idempotency-Key keeps one


def test_a_permanent_refusal_is_dead_with_its_reason_and_can_be_retried(store, clock):
    save(store, "opened", 0)
    with Receiver() as receiver:
        receiver.answer(Answer(410, body="webhook deleted"))
        sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url())}, clock=clock)
        assert sender.deliver_due().dead == 1
        dead = outbox_rows(store, "dead")
        assert dead[0]["last_error"] == "HTTP 410: webhook deleted"
        assert requeue(store, dead=True, now=clock.now) == 1
        assert sender.deliver_due().sent == 1


def test_dead_only_after_many_attempts_and_a_long_time(store, clock):
    save(store, "opened", 0)
    with Receiver() as receiver:
        sender = Sender(store, {"hook": WebhookChannel("hook", receiver.url())}, clock=clock, max_attempts=3,
                        max_age=timedelta(hours=2), base_delay=60, max_delay=600, seed=1)
        for _ in range(5):
            receiver.answer(503)
            sender.deliver_due()
            clock.advance(minutes=11)
        assert outbox_rows(store)[0]["status"] == "pending" and outbox_rows(store)[0]["attempts"] == 5
        clock.advance(hours=2)
        receiver.answer(503)
        assert sender.deliver_due().dead == 1


def test_two_senders_never_send_the_same_notification(store, clock):
    from detector.store.deliveries import claim_delivery, due_notifications

    save(store, "opened", 0)
    save(store, "escalated", 2)
    with Receiver() as receiver:
        channels = {"hook": WebhookChannel("hook", receiver.url())}
        first, second = Sender(store, channels, clock=clock), Sender(store, channels, clock=clock)
        (head,) = due_notifications(store, clock.now)
        assert claim_delivery(store, head, clock.now + timedelta(minutes=5))  # the first sender is mid-send
        assert second.deliver_due().sent == 0  # the second sees it taken, and the next one waits behind it
        clock.advance(minutes=6)  # the first died mid-send: the claim ran out
        assert first.deliver_due().sent == 2 and second.deliver_due().sent == 0
    assert [r.json["event"] for r in receiver.requests] == ["opened", "escalated"]


def test_notifications_for_a_channel_this_sender_lacks_wait_untouched(store, clock):
    save(store, "opened", 0, channels=("pagerduty",))
    assert Sender(store, {}, clock=clock).deliver_due().sent == 0
    row = outbox_rows(store)[0]
    assert (row["status"], row["attempts"]) == ("pending", 0)


def test_a_silence_records_without_notifying_but_resolves_still_close_the_loop(store, clock, tmp_path):
    save(store, "opened", 0)
    add_silence(store, "Acme", datetime(2026, 3, 2, 10, 1, tzinfo=timezone.utc),
                datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc), "known issue", "alice")
    save(store, "escalated", 5)
    save(store, "resolved", 40)
    save(store, "opened", 50, alert_id="acme-2")  # a new incident inside the silence: recorded only
    rows = outbox_rows(store)
    assert [(r["alert_id"], r["payload"]["event"]) for r in rows] == [("acme-1", "opened"), ("acme-1", "resolved")]
    events = alert_events(store, "acme-1")
    assert [e["kind"] for e in events] == ["opened", "escalated", "resolved"]
    assert events[1]["detail"]["silenced"] == "silence 1: known issue"
    assert [e["kind"] for e in alert_events(store, "acme-2")] == ["opened"]


def test_a_silence_for_every_service(store):
    add_silence(store, "*", datetime(2026, 3, 2, 9, tzinfo=timezone.utc), datetime(2026, 3, 2, 11, tzinfo=timezone.utc))
    save(store, "opened", 0)
    assert outbox_rows(store) == []


def test_manual_ack_goes_to_the_channels_that_heard_of_the_incident(store, clock):
    save(store, "opened", 0, channels=("pd", "hook"))
    save(store, "opened", 1, channels=("hook",), alert_id="other-1")
    set_status(store, "acme-1", "acknowledged", clock.now, actor="alice")
    acks = [r for r in outbox_rows(store) if r["payload"]["event"] == "acknowledged"]
    assert sorted(r["channel"] for r in acks) == ["hook", "pd"]
    assert acks[0]["payload"]["by"] == "alice" and acks[0]["payload"]["alert"]["status"] == "acknowledged"
    with pytest.raises(ValueError):
        set_status(store, "acme-1", "acknowledged", clock.now)


def test_growing_an_acknowledged_incident_keeps_the_ack(store, clock):
    save(store, "opened", 0)
    set_status(store, "acme-1", "acknowledged", clock.now)
    save(store, "escalated", 3, severity="critical")
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(schema.alerts)).one()
    assert (row.status, row.severity) == ("acknowledged", "critical")


def test_the_detectors_resolve_after_a_manual_one_is_not_announced_twice(store, clock):
    save(store, "opened", 0)
    set_status(store, "acme-1", "resolved", clock.now, actor="alice")
    save(store, "resolved", 40)  # the running detector resolves it too, later
    assert [e["kind"] for e in alert_events(store, "acme-1")] == ["opened", "resolved"]
    assert [r["payload"]["event"] for r in outbox_rows(store)] == ["opened", "resolved"]


@pytest.mark.parametrize("metric", [None, "complaint_people"])
def test_a_hand_resolve_counts_with_the_detectors_metric(store, clock, metric):
    save(store, "opened", 0)
    set_status(store, "acme-1", "resolved", clock.now, actor="alice", **({"metric": metric} if metric else {}))
    resolved = next(r["payload"] for r in outbox_rows(store) if r["payload"]["event"] == "resolved")
    assert resolved["figures"]["metric"] == (metric or "outage_people")


def test_claims_symptoms_and_the_official_status_are_counted_over_the_incident(store, clock):
    from detector.records import Post, Verdict

    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    posts, verdicts = [], []
    for i, (symptom, claim) in enumerate([("login", None), ("login", "acme-hacked"), ("app", None),
                                          (None, "acme-hacked"), ("login", None)]):
        post = Post("replay", f"p{i}", at - timedelta(minutes=5 - i), f"post {i}", ("Acme",), author=f"a{i}")
        posts.append(post)
        verdicts.append(Verdict("replay", f"p{i}", symptom is not None, 0.9, claim is not None, 0.8, symptom,
                                claim=claim, outage_report=symptom is not None))
    posts.append(Post("replay", "old", at - timedelta(hours=2), "old news", ("Acme",)))
    verdicts.append(Verdict("replay", "old", True, 0.9, symptom="payments"))
    store.add_posts(posts, verdicts)
    with store.engine.begin() as conn:
        conn.execute(schema.official_incidents.insert().values(
            service="Acme", source="statuspage", external_id="inc1", title="Degraded login", status="investigating",
            url="https://status.acme.example/incidents/inc1", started_at=at + timedelta(minutes=4), updated_at=at))
    alert = Alert("acme-1", "Acme", at, "open", "major", 6.0, 6.0, 1.0, "r", evidence=("replay:p1", "replay:p0"))
    from detector.classify.claims import Claim

    known = {"acme-hacked": Claim("acme-hacked", "Acme was hacked", "false", "https://acme.example/answer")}
    payload = build_payload(store, AlertChange("escalated", alert, at + timedelta(minutes=5)), AlertSettings(),
                            claims=known)
    assert payload["symptoms"] == {"login": 3, "app": 1} and payload["top_symptoms"] == ["login", "app"]
    (claim,) = payload["claims"]  # with the claims file's text, verdict and the answer to link
    assert claim["claim"] == "acme-hacked" and claim["posts"] == 2 and claim["text"] == "Acme was hacked"
    assert claim["verdict"] == "false" and claim["reference"] == "https://acme.example/answer"
    assert claim["example"] in ("post 1", "post 3")
    assert payload["official_status"]["status"] == "investigating"
    assert [p["id"] for p in payload["evidence"]] == ["p1", "p0"]
    early = build_payload(store, AlertChange("opened", alert, at), AlertSettings())
    assert early["official_status"] is None  # the provider said nothing yet when we opened


def test_routes_by_service_and_severity():
    from detector.alerting.routing import routes_for

    channels = [ChannelSettings(name="comms", url="log://"),
                ChannelSettings(name="pager", url="log://", min_severity="major"),
                ChannelSettings(name="other-team", url="log://", services=["Other"])]
    at = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    for severity, expected in (("minor", ["comms"]), ("major", ["comms", "pager"]), ("critical", ["comms", "pager"])):
        alert = Alert("acme-1", "Acme", at, "open", severity, 6.0, 6.0, 1.0, "r")
        assert routes_for(AlertChange("opened", alert, at), channels) == expected


def test_a_failed_transaction_writes_no_outbox_row(store):
    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    alert = Alert("acme-1", "Acme", at, "open", "major", 6.0, 6.0, 1.0, "r", updated_at=at)
    change = AlertChange("opened", alert, at)
    with pytest.raises(RuntimeError):
        with store.engine.begin() as conn:
            save_changes(store, [change], [(change, "hook", {"event": "opened"})], conn)
            raise RuntimeError("crash before commit")
    assert outbox_rows(store) == [] and alert_events(store, "acme-1") == []


def test_jsonl_channel_is_a_channel_too(tmp_path, store, clock):
    save(store, "opened", 0, channels=("file",))
    Sender(store, {"file": JsonlChannel(tmp_path / "a.jsonl", "file")}, clock=clock).deliver_due()
    assert '"key": "acme-1:1:file"' in (tmp_path / "a.jsonl").read_text()


def test_evidence_shows_a_copied_text_once(store):
    from detector.alerting.notification import evidence_posts
    from detector.records import Post, Verdict

    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    posts = [Post("replay", f"e{i}", at, "Lumen  bank is DOWN" if i < 4 else "cannot pay with lumen", ("Lumen",),
                  author=f"a{i}") for i in range(5)]
    store.add_posts(posts, [Verdict("replay", p.source_id, True, 0.9) for p in posts])
    shown = evidence_posts(store, [f"replay:e{i}" for i in (0, 1, 1, 2, 3, 4)])
    assert [p["id"] for p in shown] == ["e0", "e4"]


def test_the_pipelines_evidence_picks_distinct_texts():
    from detector.pipeline import Evidence
    from detector.records import Post, Verdict

    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    evidence = Evidence(limit=3)
    for i in range(6):  # five people paste the same words, one writes their own
        text = "LUMEN is down  again" if i < 5 else "lumen app crashed at login"
        post = Post("replay", f"p{i}", at + timedelta(seconds=i), text, ("Lumen",), author=f"a{i}")
        evidence.add("Lumen", post, Verdict("replay", f"p{i}", True, 0.9 - i / 100, outage_report=True,
                                            outage_report_p=0.9 - i / 100))
    assert evidence.for_service("Lumen", at + timedelta(minutes=1)) == ("replay:p0", "replay:p5")
