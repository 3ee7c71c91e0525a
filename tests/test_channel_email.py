"""E-mail over SMTP with STARTTLS, against a local aiosmtpd server with a self-signed certificate."""

from __future__ import annotations

import logging

import pytest

from detector.alerting.channels.email import EmailChannel, email_from_url
from tests.servers.smtp import SmtpServer

PASSWORD = "smtp-Pa55word-9f3c"


def notification(**alert) -> dict:
    return {
        "event": "opened", "at": "2026-03-02T10:00:05+00:00", "key": "acme-1:1:mail",
        "alert": {"id": "acme-1", "service": "Acme", "status": "open", "severity": "major",
                  "opened_at": "2026-03-02T10:00:05+00:00", "severity_ratio": 6.0, "reason": "6 people", **alert},
        "signal": {"value": 6.0, "expected": 0.5, "ratio": 6.0}, "complaint_share": 0.9,
        "symptoms": {"login": 4}, "claims": [{"claim": "hacked", "posts": 2}],
        "evidence": [{"text": "<script>alert(1)</script> acme is down", "author": "ab12cd34ef",
                      "url": "https://social.example/p1", "created_at": "2026-03-02T10:00:01+00:00"}],
        "dashboard_url": "http://dash.example/?incident=acme-1",
    }


@pytest.fixture(scope="module")
def smtp(tmp_path_factory):
    with SmtpServer(tmp_path_factory.mktemp("smtp"), "detector", PASSWORD) as server:
        yield server


def channel(smtp: SmtpServer, **kw) -> EmailChannel:
    url = (f"smtp://detector:{PASSWORD}@127.0.0.1:{smtp.port}?to=oncall@example.com,comms@example.com"
           f"&from=detector@example.com&cafile={smtp.cert}&timeout=5")
    return email_from_url("mail", url) if not kw else EmailChannel(
        "mail", "127.0.0.1", smtp.port, sender="detector@example.com", recipients=["oncall@example.com"],
        username="detector", password=PASSWORD, cafile=str(smtp.cert), timeout=5, **kw)


def test_starttls_login_and_escaped_evidence(smtp, caplog):
    caplog.set_level(logging.DEBUG)
    before = len(smtp.messages)
    result = channel(smtp).send(notification())
    assert result.ok, result.error
    message = smtp.messages[before]
    assert message["To"] == "oncall@example.com, comms@example.com"
    assert "Acme" in message["Subject"] and "major" in message["Subject"]
    assert message["X-Detector-Incident"] == "acme-1"
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "hacked (2 posts)" in text and "http://dash.example/?incident=acme-1" in text
    assert PASSWORD not in caplog.text


def test_same_notification_has_same_message_id_and_thread(smtp):
    before = len(smtp.messages)
    assert channel(smtp).send(notification()).ok
    assert channel(smtp).send({**notification(), "event": "resolved", "key": "acme-1:2:mail"}).ok
    assert channel(smtp).send(notification()).ok
    first, resolved, again = smtp.messages[before:before + 3]
    assert first["Message-ID"] == again["Message-ID"] != resolved["Message-ID"]
    assert first["References"] == resolved["References"]


def test_refused_recipient_is_permanent(smtp):
    smtp.handler.reject["gone@example.com"] = "550 5.1.1 no such mailbox"
    mail = EmailChannel("mail", "127.0.0.1", smtp.port, sender="d@example.com", recipients=["gone@example.com"],
                        username="detector", password=PASSWORD, cafile=str(smtp.cert), timeout=5)
    result = mail.send(notification())
    assert not result.ok and result.permanent


def test_wrong_password_is_permanent_and_masked(smtp):
    mail = EmailChannel("mail", "127.0.0.1", smtp.port, sender="d@example.com", recipients=["a@example.com"],
                        username="detector", password="wrong-Pa55-word", cafile=str(smtp.cert), timeout=5)
    result = mail.send(notification())
    assert not result.ok and result.permanent
    assert "wrong-Pa55-word" not in (result.error or "") and "wrong-Pa55-word" not in mail.describe()


def test_untrusted_certificate_is_retried_not_sent(smtp):
    mail = EmailChannel("mail", "127.0.0.1", smtp.port, sender="d@example.com", recipients=["a@example.com"],
                        username="detector", password=PASSWORD, timeout=5)  # system CAs only
    result = mail.send(notification())
    assert not result.ok and not result.permanent and "certificate" in result.error


def test_server_without_starttls_gets_no_password(tmp_path):
    with SmtpServer(tmp_path, "detector", PASSWORD, starttls=False) as plain:
        mail = EmailChannel("mail", "127.0.0.1", plain.port, sender="d@example.com", recipients=["a@example.com"],
                            username="detector", password=PASSWORD, timeout=5)
        result = mail.send(notification())
        assert not result.ok and result.permanent and "STARTTLS" in result.error
        assert plain.logins == []


def test_nobody_listening_is_retried():
    from tests.fakes.server import free_port

    mail = EmailChannel("mail", "127.0.0.1", free_port(), sender="d@example.com", recipients=["a@example.com"],
                        username="u", password=PASSWORD, timeout=1)
    result = mail.send(notification())
    assert not result.ok and not result.permanent and PASSWORD not in result.error
