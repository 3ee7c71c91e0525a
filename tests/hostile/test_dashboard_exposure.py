"""The dashboard is not opened wider than its passwords allow (issue 18, item 9)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from detector.cli.dashboard import dashboard_command, dashboard_env
from detector.cli.main import cli

PASSWORDS = ("DETECTOR_DASHBOARD_PASSWORD", "DETECTOR_DASHBOARD_ONCALL_PASSWORD",
             "DETECTOR_DASHBOARD_ANALYST_PASSWORD", "DETECTOR_SECRETS_FILE")


@pytest.fixture
def no_passwords(monkeypatch):
    for name in PASSWORDS:
        monkeypatch.delenv(name, raising=False)


def test_a_network_address_without_passwords_is_refused(no_passwords, tmp_path):
    with pytest.raises(Exception) as caught:
        dashboard_command("x.db", 8600, address="0.0.0.0")
    assert "on-call rights" in str(caught.value) and "DETECTOR_DASHBOARD_ONCALL_PASSWORD" in str(caught.value)
    assert dashboard_command("x.db", 8600, address="127.0.0.1")  # the local tool is fine
    db = tmp_path / "d.db"
    from detector.store.store import Store

    Store(db).close()
    result = CliRunner().invoke(cli, ["dashboard", "--db", str(db), "--address", "0.0.0.0", "--port", "8977"])
    assert result.exit_code == 1 and "on-call rights" in result.output and "http://" not in result.output


def test_with_a_password_the_network_address_is_allowed(no_passwords, monkeypatch):
    monkeypatch.setenv("DETECTOR_DASHBOARD_ONCALL_PASSWORD", "on-call-pw")
    command = dashboard_command("x.db", 8600, address="0.0.0.0")
    assert command[command.index("--server.address") + 1] == "0.0.0.0"


def test_forwarded_headers_are_trusted_only_from_a_configured_proxy(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert dashboard_env("x.db")["FORWARDED_ALLOW_IPS"] == ""  # uvicorn would trust loopback by default
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.1.2.3")
    assert dashboard_env("x.db")["FORWARDED_ALLOW_IPS"] == "10.1.2.3"
