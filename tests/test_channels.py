"""Every alert channel against local servers: payload shapes, signatures, retry / permanent answers, and
secrets that never show (the shared conformance checks run over every scheme in the registry)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from detector.alerting.channels.base import Channel, Delivery
from detector.alerting.channels.http import delivery_from_response
from detector.timeparse import retry_after_seconds
from detector.alerting.channels.pagerduty import PagerDutyChannel
from detector.alerting.channels.registry import ChannelError, channel_from_url, kinds, schemes
from detector.alerting.channels.slack import SlackChannel
from detector.alerting.channels.teams import TeamsChannel
from detector.alerting.channels.webhook import WebhookChannel, verify_signature
from detector.secrets import Secrets
from tests.fakes.server import free_port
from tests.servers.receiver import Answer, Receiver

SECRET = "s3cr3t-TOKEN-0a9b8c7d6e5f"
HOOK_SECRET = "whsec-5b1f0c9e7d2a4c6e"


def notification(event: str = "opened", **extra) -> dict:
    return {
        "event": event, "at": "2026-03-02T10:00:05+00:00", "key": f"acme-1:{event}:chan",
        "alert": {"id": "acme-1", "service": "Acme", "status": "resolved" if event == "resolved" else "open",
                  "severity": "major", "opened_at": "2026-03-02T10:00:05+00:00", "severity_ratio": 6.0,
                  "reason": "6 complaint_people in 5 min vs 0.5 expected"},
        "signal": {"value": 6.0, "expected": 0.5, "ratio": 6.0}, "complaint_share": 0.9,
        "symptoms": {"login": 4, "app": 1}, "claims": [{"claim": "acme-hacked", "posts": 2}],
        "official_status": None,
        "evidence": [
            {"text": "<!channel> acme is *down* & <https://evil.example|click> [x](http://evil)", "author": "ab12cd34ef",
             "url": "https://social.example/p1", "created_at": "2026-03-02T10:00:01+00:00"},
            {"text": "can't log in to acme", "author": "99ff", "url": None, "created_at": "2026-03-02T10:00:02+00:00"},
        ],
        "dashboard_url": "http://dash.example/?incident=acme-1",
        **extra,
    }


# -- conformance: every scheme ------------------------------------------------------------------------
def example_url(scheme: str, tmp_path: Path) -> str | None:
    """A URL of ``scheme`` holding SECRET, pointing at a closed local port."""
    port = free_port()
    return {
        "log": "log://", "jsonl": f"jsonl://{tmp_path}/no/such/folder/{SECRET}.jsonl",
        "http": f"http://127.0.0.1:{port}/hooks/{SECRET}",
        "https": f"https://127.0.0.1:{port}/hooks/{SECRET}",
        "slack": f"slack://T000/B000/{SECRET}",
        "slack+http": f"slack+http://127.0.0.1:{port}/services/T/B/{SECRET}",
        "slack+https": f"slack+https://127.0.0.1:{port}/services/T/B/{SECRET}",
        "teams": f"teams://127.0.0.1:{port}/webhookb2/{SECRET}",
        "teams+http": f"teams+http://127.0.0.1:{port}/webhookb2/{SECRET}",
        "teams+https": f"teams+https://127.0.0.1:{port}/webhookb2/{SECRET}",
        "pagerduty": f"pagerduty://{SECRET}?events_url=http://127.0.0.1:{port}/v2/enqueue",
        "mailto": f"mailto://bob:{SECRET}@127.0.0.1:{port}?to=a@example.com&timeout=2",
        "smtp": f"smtp://bob:{SECRET}@127.0.0.1:{port}?to=a@example.com&timeout=2",
        "smtps": f"smtps://bob:{SECRET}@127.0.0.1:{port}?to=a@example.com&timeout=2",
        "cmd": f"cmd://{sys.executable} -c 'import sys; sys.exit(1)' --token {SECRET}",
    }[scheme]


@pytest.mark.parametrize("scheme", sorted(schemes()))
def test_every_channel_masks_its_secret_and_never_raises(scheme, tmp_path, caplog):
    url = example_url(scheme, tmp_path)
    caplog.set_level(logging.DEBUG)
    channel = channel_from_url("chan", url, Secrets(environ={}))
    assert isinstance(channel, Channel)
    if scheme != "jsonl":  # a file path is not a secret
        assert SECRET not in channel.describe()
    if scheme == "slack":
        return  # would go to hooks.slack.com: no internet here
    result = channel.send(notification())
    assert isinstance(result, Delivery) and result.ok is (scheme == "log")
    if scheme != "jsonl":
        assert SECRET not in (result.error or "")
        assert SECRET not in caplog.text


def test_secret_in_url_comes_from_the_environment_and_stays_masked():
    secrets = Secrets(environ={"DETECTOR_SLACK_HOOK": SECRET})
    channel = channel_from_url("comms", "slack://T000/B000/${SLACK_HOOK}", secrets)
    assert isinstance(channel, SlackChannel) and SECRET in channel.url and SECRET not in channel.describe()
    assert secrets.mask(f"failed {channel.url}") == "failed https://hooks.slack.com/services/T000/B000/***"


def test_unknown_scheme_names_the_known_ones_without_the_url():
    with pytest.raises(ChannelError) as raised:
        channel_from_url("x", f"nosuch://{SECRET}", Secrets(environ={}))
    assert SECRET not in str(raised.value) and "slack://" in str(raised.value)


@pytest.mark.parametrize("url, kind", [
    ("https://hooks.slack.com/services/T/B/XXXXXXXXXXXXXXXX", SlackChannel),
    ("https://acme.webhook.office.com/webhookb2/abc", TeamsChannel),
    ("https://prod-01.westeurope.logic.azure.com/workflows/abc?sig=x", TeamsChannel),
    ("https://example.com/hook", WebhookChannel),
    ("https://nothooks.slack.com/services/T/B/XXXXXXXXXXXXXXXX", WebhookChannel),  # a host is claimed whole
    ("pagerduty://R0UTINGKEY0000", PagerDutyChannel),
])
def test_https_urls_are_recognised_by_host(url, kind):
    assert isinstance(channel_from_url("c", url, Secrets(environ={})), kind)


def test_each_scheme_is_declared_by_one_channel_module():
    declared = [scheme for kind in kinds() for scheme in kind.schemes]
    assert len(declared) == len(set(declared)) == len(schemes())


def test_apprise_urls_are_accepted():
    channel = channel_from_url("c", f"discord://1234567/{SECRET}", Secrets(environ={}))
    assert SECRET not in channel.describe()


# -- HTTP answers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, ok, permanent, retry_after", [
    (Answer(200), True, False, None),
    (Answer(202), True, False, None),
    (Answer(429, retry_after="7"), False, False, 7.0),
    (Answer(503, retry_after="30"), False, False, 30.0),
    (Answer(500), False, False, None),
    (Answer(408), False, False, None),
    (Answer(400), False, True, None),
    (Answer(404), False, True, None),
    (Answer(410), False, True, None),
])
def test_http_answers(answer, ok, permanent, retry_after):
    with Receiver() as receiver:
        receiver.answer(answer)
        result = WebhookChannel("hook", receiver.url(), timeout=2).send(notification())
    assert (result.ok, result.permanent, result.retry_after) == (ok, permanent, retry_after)


def test_retry_after_as_http_date():
    from datetime import datetime, timezone

    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("Mon, 02 Mar 2026 10:01:00 GMT", now) == 60.0
    assert retry_after_seconds("soon", now) is None


def test_a_hanging_receiver_is_a_retryable_timeout():
    with Receiver() as receiver:
        receiver.answer("hang")
        result = WebhookChannel("hook", receiver.url(), timeout=0.05).send(notification())
    assert not result.ok and not result.permanent and "no answer" in result.error


def test_error_bodies_are_masked():
    import httpx

    response = httpx.Response(403, text=f"token {SECRET} is not allowed")
    assert SECRET not in delivery_from_response(response, [SECRET]).error


# -- payload shapes ------------------------------------------------------------------------------------
def test_webhook_is_signed_and_keyed():
    with Receiver(secret=HOOK_SECRET) as receiver:
        channel = WebhookChannel("hook", receiver.url(), secret=HOOK_SECRET)
        assert channel.send(notification()).ok
    assert receiver.problems == []
    got = receiver.requests[0]
    assert got.key == "acme-1:opened:chan" and got.headers["x-detector-event"] == "opened"
    assert verify_signature(HOOK_SECRET, got.headers["x-detector-timestamp"], got.body,
                            got.headers["x-detector-signature"])
    assert not verify_signature("other-secret", got.headers["x-detector-timestamp"], got.body,
                                got.headers["x-detector-signature"])
    assert got.json["alert"]["id"] == "acme-1" and got.json["evidence"][0]["author"] == "ab12cd34ef"


def test_unsigned_webhook_says_so():
    with Receiver() as receiver:
        channel = WebhookChannel("hook", receiver.url())
        assert channel.send(notification()).ok
    assert not channel.signed and "unsigned" in channel.describe()
    assert "x-detector-signature" not in receiver.requests[0].headers


def test_slack_block_kit_escapes_post_text():
    with Receiver() as receiver:
        assert SlackChannel("comms", receiver.url("/slack")).send(notification()).ok
    assert receiver.problems == []
    doc = receiver.requests[0].json
    text = json.dumps(doc)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example|click>" not in text
    assert "<https://social.example/p1|link>" in text
    fields = [f["text"] for b in doc["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert any("Complaint share" in f and "90%" in f for f in fields)
    assert any("acme-hacked (2 posts)" in f for f in fields)
    assert doc["blocks"][-1]["elements"][0]["url"] == "http://dash.example/?incident=acme-1"


def test_teams_adaptive_card():
    with Receiver() as receiver:
        assert TeamsChannel("teams", receiver.url("/teams")).send(notification()).ok
    assert receiver.problems == []
    card = receiver.requests[0].json["attachments"][0]["content"]
    lines = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert any("\\[x\\](http://evil)" in line for line in lines)  # a post cannot add a link
    assert card["actions"][0]["url"] == "http://dash.example/?incident=acme-1"


def test_pagerduty_trigger_acknowledge_resolve_share_the_dedup_key():
    with Receiver() as receiver:
        pd = channel_from_url("pd", f"pagerduty://{SECRET}?events_url={receiver.url('/v2/enqueue')}",
                              Secrets(environ={}))
        for event in ("opened", "escalated", "acknowledged", "resolved"):
            assert pd.send(notification(event)).ok
    assert receiver.problems == []
    docs = [r.json for r in receiver.requests]
    assert [d["event_action"] for d in docs] == ["trigger", "trigger", "acknowledge", "resolve"]
    assert {d["dedup_key"] for d in docs} == {"acme-1"}
    assert docs[0]["payload"]["severity"] == "error" and docs[0]["payload"]["component"] == "Acme"
    assert docs[0]["links"][0]["href"] == "http://dash.example/?incident=acme-1"


def test_pagerduty_bad_request_is_permanent():
    with Receiver() as receiver:
        receiver.answer(Answer(400, body='{"status":"invalid event","message":"Event object is invalid"}'))
        result = PagerDutyChannel("pd", SECRET, events_url=receiver.url("/v2/enqueue")).send(notification())
    assert result.permanent and "invalid" in result.error and SECRET not in result.error


def test_httpx_request_logs_do_not_show_webhook_urls(caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")  # the CLI quiets httpx; a library user may not
    with Receiver() as receiver:
        assert SlackChannel("comms", receiver.url(f"/slack/{SECRET}")).send(notification()).ok
    assert "HTTP Request" in caplog.text and SECRET not in caplog.text


# -- command hook ---------------------------------------------------------------------------------------
def test_command_hook_gets_none_of_our_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_WEBHOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("REDIS_PASSWORD", HOOK_SECRET)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    out = tmp_path / "env.txt"
    code = f"import os; open({str(out)!r}, 'w').write(' '.join(sorted(os.environ)))"
    assert channel_from_url("hook", f"cmd://{sys.executable} -c \"{code}\"", Secrets(environ={})).send(notification()).ok
    names = out.read_text().split()
    assert "DETECTOR_WEBHOOK_SECRET" not in names and "DETECTOR_INCIDENT" in names
    assert "REDIS_PASSWORD" not in names and {"PATH", "LC_ALL"} <= set(names)


def test_apprise_channel_delivers_through_apprise(tmp_path):
    with Receiver() as receiver:
        channel = channel_from_url("ntfy", f"json://127.0.0.1:{receiver.port}/apprise", Secrets(environ={}))
        assert type(channel).__name__ == "AppriseChannel"
        assert channel.send(notification()).ok
        receiver.answer(500)
        failed = channel.send(notification())
    assert not failed.ok and not failed.permanent
    doc = receiver.requests[0].json
    assert "Acme" in doc["title"] and "Complaint share" in doc["message"]


def test_command_hook_gets_json_and_environment(tmp_path):
    out = tmp_path / "got.json"
    script = tmp_path / "hook.py"
    script.write_text(
        "import json, os, sys\n"
        f"doc = json.load(sys.stdin)\nopen({str(out)!r}, 'w').write(json.dumps([doc['alert']['id'], "
        "os.environ['DETECTOR_EVENT'], os.environ['DETECTOR_KEY'], sys.argv[1:]]))\n"
    )
    channel = channel_from_url("hook", f"cmd://{sys.executable} {script} --token {SECRET}", Secrets(environ={}))
    assert channel.send(notification()).ok
    assert json.loads(out.read_text()) == ["acme-1", "opened", "acme-1:opened:chan", ["--token", SECRET]]
    assert SECRET not in channel.describe()


@pytest.mark.parametrize("code, permanent", [(75, False), (1, False), (64, True), (78, True)])
def test_command_hook_exit_codes(code, permanent):
    channel = channel_from_url("hook", f"cmd://{sys.executable} -c 'import sys; sys.exit({code})'", Secrets(environ={}))
    result = channel.send(notification())
    assert not result.ok and result.permanent is permanent


def test_missing_program_is_permanent():
    result = channel_from_url("hook", "cmd:///no/such/program", Secrets(environ={})).send(notification())
    assert result.permanent and "not found" in result.error
