"""Alerting as a user drives it: `detector replay --notify`, `detector alerts ack|resolve|silence|
deliveries|retry|send`, against local receivers; and no secret in the output, the logs or the database."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.alerting.channels.webhook import verify_signature
from detector.cli.main import cli
from tests.servers.posts import write_burst_csv
from tests.servers.receiver import Answer, Receiver

HOOK_SECRET = "whsec-77e1d2c3b4a59687"
PD_KEY = "R0UT1NGKEY-4f8e2d1c9b7a"
SLACK_TOKEN = "xoxSLACKTOKEN-8c7b6a5f4e"


def run(*args: str, env: dict[str, str] | None = None, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env or {})
    if ok:
        assert result.exit_code == 0, result.output
    return result


def replay(csv: Path, db: Path, *extra: str, env: dict[str, str] | None = None):
    return run("replay", csv, "--service", "Acme", "--match", "acme cloud", "--id-column", "id",
               "--author-column", "author", "--url-column", "url", "--classifier", "keywords", "--db", db, "-q",
               *extra, env=env)


def incidents(db: Path) -> list[dict]:
    return json.loads(run("alerts", "--db", db, "--format", "json").output)


def test_replay_delivers_a_signed_notification_for_open_escalation_and_resolve(tmp_path):
    csv = write_burst_csv(tmp_path / "posts.csv")
    with Receiver(secret=HOOK_SECRET) as receiver:
        result = replay(csv, tmp_path / "d.db", "--notify", receiver.url("/hook"),
                        env={"DETECTOR_WEBHOOK_SECRET": HOOK_SECRET})
    assert "unsigned" not in result.output
    assert receiver.problems == []
    got = receiver.delivered()
    assert [r.json["event"] for r in got] == ["opened", "escalated", "resolved"]
    assert len(receiver.requests) == 3
    (incident,) = incidents(tmp_path / "d.db")
    assert {r.json["alert"]["id"] for r in got} == {incident["id"]}
    for r in got:
        assert verify_signature(HOOK_SECRET, r.headers["x-detector-timestamp"], r.body,
                                r.headers["x-detector-signature"])
        assert r.headers["x-detector-event"] == r.json["event"] and r.key.startswith(incident["id"])
    assert got[1].json["alert"]["severity"] in ("major", "critical") and got[0].json["alert"]["severity"] == "minor"
    assert HOOK_SECRET not in (tmp_path / "d.db").read_bytes().decode("latin-1")

    listed = run("alerts", "deliveries", "--db", tmp_path / "d.db").output
    assert listed.count("sent") == 3


def test_without_a_secret_the_webhook_goes_unsigned_and_the_cli_says_so_once(tmp_path):
    csv = write_burst_csv(tmp_path / "posts.csv")
    with Receiver() as receiver:
        result = replay(csv, tmp_path / "d.db", "--notify", receiver.url("/a"), "--notify", receiver.url("/b"))
    assert result.output.count("go unsigned") == 1 and "notify-1, notify-2" in result.output
    assert len(receiver.delivered()) == 6
    assert all("x-detector-signature" not in r.headers for r in receiver.requests)


def write_config(tmp_path: Path, receiver: Receiver, extra: str = "") -> Path:
    config = tmp_path / "detector.toml"
    config.write_text(f"""
[alerts]
dashboard_url = "http://dash.example:8501"

[[alerts.channels]]
name = "comms"
url = "slack+http://127.0.0.1:{receiver.port}/slack/T000/B000/${{SLACK_TOKEN}}"

[[alerts.channels]]
name = "pagerduty"
url = "pagerduty://${{PD_KEY}}?events_url={receiver.url('/v2/enqueue')}"
min_severity = "major"
{extra}
""")
    return config


ENV = {"DETECTOR_SLACK_TOKEN": SLACK_TOKEN, "DETECTOR_PD_KEY": PD_KEY}


def test_on_call_ack_and_resolve_reach_pagerduty_with_the_same_dedup_key(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    csv = write_burst_csv(tmp_path / "posts.csv", quiet_after_minutes=0)  # still going when the file ends
    db = tmp_path / "d.db"
    with Receiver() as receiver:
        config = write_config(tmp_path, receiver)
        receiver.answer(Answer(403, body=f"token {SLACK_TOKEN} is revoked"))  # the first Slack message is refused
        output = replay(csv, db, "-c", config, env=ENV).output
        (incident,) = incidents(db)
        assert incident["status"] == "open"
        ack = run("alerts", "ack", incident["id"], "--by", "alice", "-c", config, "--db", db, env=ENV).output
        assert "acknowledged (by alice)" in ack and "pagerduty" in ack
        resolve = run("alerts", "resolve", incident["id"], "-c", config, "--db", db, env=ENV).output
        again = run("alerts", "resolve", incident["id"], "-c", config, "--db", db, env=ENV, ok=False)
        assert again.exit_code == 1 and "already resolved" in again.output

        dead = run("alerts", "deliveries", "--dead", "--format", "json", "--db", db).output
        (dead_row,) = json.loads(dead)
        assert "1 notification(s) could not be delivered" in run("alerts", "--db", db).output
        assert dead_row["channel"] == "comms" and dead_row["event"] == "opened"
        assert dead_row["last_error"] == "HTTP 403: token *** is revoked"
        assert "1 notification(s) queued again" in run("alerts", "retry", "--dead", "--db", db).output
        sent = run("alerts", "send", "-c", config, "--db", db, env=ENV).output
        assert "delivered 1" in sent
    assert receiver.problems == []
    pd = [r.json for r in receiver.requests if r.path == "/v2/enqueue"]
    assert [d["event_action"] for d in pd] == ["trigger", "acknowledge", "resolve"]
    assert {d["dedup_key"] for d in pd} == {incident["id"]}
    assert pd[0]["payload"]["severity"] in ("error", "critical")
    slack = [r.json for r in receiver.requests if r.path.startswith("/slack") and r.status == 200]
    assert [m["text"].split(":")[1].strip().split(" (")[0] for m in slack] == [
        "outage escalated", "incident acknowledged", "resolved", "outage suspected"]  # the retried one last

    everything = output + ack + resolve + dead + sent + caplog.text
    for secret in (SLACK_TOKEN, PD_KEY):
        assert secret not in everything
        for path in db.parent.glob("d.db*"):
            assert secret.encode() not in path.read_bytes(), path.name


def test_a_silence_records_the_incident_and_pages_nobody(tmp_path):
    from detector.store.alerts import alert_events
    from detector.store.store import Store

    csv = write_burst_csv(tmp_path / "posts.csv")
    db = tmp_path / "d.db"
    Store(db).close()  # an empty database, as `detector run` leaves it before anything happened
    out = run("alerts", "silence", "Acme", "--for", "3h", "--start", "2026-03-02T09:00:00Z", "--reason",
              "provider maintenance", "--by", "bob", "--db", db).output
    assert out.startswith("silence 1: Acme until 2026-03-02T12:00:00")
    assert "provider maintenance" in run("alerts", "silences", "--all", "--db", db).output
    with Receiver() as receiver:
        replay(csv, db, "--notify", receiver.url())
    (incident,) = incidents(db)
    with Store(db) as store:
        events = alert_events(store, incident["id"])
    assert [e["kind"] for e in events] == ["opened", "escalated", "resolved"]
    assert events[0]["detail"]["silenced"] == "silence 1: provider maintenance"
    assert receiver.requests == []
    assert run("alerts", "deliveries", "--db", db).output.strip() == "no notifications"
    assert "no active silence 1" in run("alerts", "unsilence", "1", "--db", db, ok=False).output  # over by now


@pytest.mark.parametrize("window", [
    'start = 2026-03-02T09:55:00Z\nend = 2026-03-02T11:00:00Z',
    'cron = "55 9 * * 1"\nduration_minutes = 65',  # Mondays 09:55-11:00; 2026-03-02 is a Monday
])
def test_a_maintenance_window_keeps_the_record_and_silences_notifications(tmp_path, window):
    csv = write_burst_csv(tmp_path / "posts.csv")
    with Receiver() as receiver:
        config = write_config(tmp_path, receiver, f"""
[[detection.maintenance]]
service = "Acme"
{window}
reason = "planned upgrade"
""")
        replay(csv, tmp_path / "d.db", "-c", config, env=ENV)
    (incident,) = incidents(tmp_path / "d.db")
    assert incident["suppressed"] is True
    assert receiver.requests == []
    assert "(suppressed)" in run("alerts", "--db", tmp_path / "d.db").output


@pytest.mark.parametrize("text", ["2h", "90m", "1h30m", "1d"])
def test_silence_durations(text, tmp_path):
    from detector.cli.alerts import parse_duration

    assert parse_duration(text).total_seconds() in (7200, 5400, 86400)


def test_bad_silence_duration_is_a_usage_error(tmp_path):
    csv = write_burst_csv(tmp_path / "posts.csv")
    replay(csv, tmp_path / "d.db")
    result = run("alerts", "silence", "Acme", "--for", "soon", "--db", tmp_path / "d.db", ok=False)
    assert result.exit_code == 2 and "not a duration" in result.output


def test_alerts_test_sends_a_sample_to_every_channel(tmp_path):
    with Receiver() as receiver:
        config = write_config(tmp_path, receiver)
        receiver.answer(200, Answer(400, body="bad routing key"))
        result = run("alerts", "test", "-c", config, "--notify", "log://", env=ENV, ok=False)
    assert result.exit_code == 1
    assert "comms (http://127.0.0.1" in result.output and ": ok" in result.output
    assert "refused: HTTP 400: bad routing key" in result.output and "1 of 3 channel(s)" in result.output
    assert SLACK_TOKEN not in result.output and PD_KEY not in result.output


def test_acknowledging_a_resolved_incident_records_it_and_keeps_it_resolved(tmp_path):
    from datetime import datetime, timezone

    from detector.alerting.manager import AlertChange
    from detector.records import Alert
    from detector.alerting.actions import set_status
    from detector.alerting.routing import save_changes
    from detector.store.alerts import alert_events, load_alerts
    from detector.store.store import Store

    store = Store(tmp_path / "d.db")
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    alert = Alert("s-1", "S", t, "resolved", "minor", 3.0, 3.0, 1.0, "test", resolved_at=t, updated_at=t)
    save_changes(store, [AlertChange("resolved", alert, t)])
    acked = set_status(store, "s-1", "acknowledged", t, actor="alice")
    assert acked.status == "resolved"
    assert [e["kind"] for e in alert_events(store, "s-1")][-1] == "acknowledged"
    import pytest

    with pytest.raises(ValueError, match="already acknowledged"):
        set_status(store, "s-1", "acknowledged", t, actor="bob")
    assert load_alerts(store)[0].status == "resolved"
