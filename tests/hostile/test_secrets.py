"""Secrets stay out of what people and programs can read (issue 18, item 8)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from detector.cli.main import cli

CONFIG = '''
[[services]]
name = "Acme"
match = ["acme"]

[[alerts.channels]]
name = "ops"
url = "{url}"
'''


@pytest.mark.parametrize("url, what", [
    ("http://admin:hunter2pw@127.0.0.1:9/hook", "a password"),
    ("https://hooks.example/outage?apikey=abc123secret", "'apikey' parameter"),
    ("smtp://me:mailpass99@mail.example:587?to=ops@example.org", "a password"),
])
def test_config_check_refuses_inline_credentials_with_the_fix(tmp_path, url, what):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(url=url))
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert "alerts.channels[0].url" in result.output and what in result.output
    assert "${NAME}" in result.output
    for secret in ("hunter2pw", "abc123secret", "mailpass99"):
        assert secret not in result.output


def test_references_to_secrets_are_fine(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.format(url="https://admin:${HOOK_PASSWORD}@hooks.example/outage?token=${HOOK_TOKEN}"))
    result = CliRunner().invoke(cli, ["config", "check", str(path)], env={"DETECTOR_HOOK_PASSWORD": "p" * 12,
                                                                         "DETECTOR_HOOK_TOKEN": "t" * 12})
    assert result.exit_code == 0, result.output


@pytest.mark.postgres
def test_a_database_password_comes_from_the_environment_and_is_never_printed(tmp_path, monkeypatch):
    from tests.test_postgres import SERVER, fresh_database

    url, drop = fresh_database()
    try:
        monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", "hostile-test-key")
        monkeypatch.setenv("DETECTOR_PG_PASSWORD", "s3cret-pg-pw")
        name = url.rsplit("/", 1)[1]
        # the local server trusts every password, so this one is accepted and must not be shown
        config = tmp_path / "c.toml"
        config.write_text(f'db = "postgresql+psycopg://postgres:${{PG_PASSWORD}}@127.0.0.1:5432/{name}"\n'
                          '[[services]]\nname = "Acme"\nmatch = ["acme"]\n')
        posts = tmp_path / "p.csv"
        posts.write_text("ts,text\n2024-05-01T12:00:00Z,acme down\n")
        result = CliRunner().invoke(cli, ["replay", str(posts), "-c", str(config), "--service", "Acme",
                                          "--time-column", "ts", "--classifier", "keywords"])
        assert result.exit_code == 0, result.output
        assert "stored 1" in result.output and "s3cret-pg-pw" not in result.output
        shown = CliRunner().invoke(cli, ["replay", str(posts), "--db", f"{SERVER.replace('postgres@', 'postgres:s3cret-pg-pw@')}/{name}",
                                         "--service", "Acme", "--time-column", "ts", "--classifier", "keywords"])
        assert shown.exit_code == 0, shown.output
        assert "s3cret-pg-pw" not in shown.output and "postgres:***@" in shown.output
    finally:
        drop()


def test_alerts_test_masks_a_secret_the_receiver_quotes_back(tmp_path):
    from tests.servers.receiver import Answer, Receiver

    secret = "path-secret-7f3a9c"
    with Receiver() as receiver:
        receiver.answer(Answer(403, body=f"no route for /hook/{secret}"))
        config = tmp_path / "c.toml"
        config.write_text('[[alerts.channels]]\nname = "ops"\n'
                          f'url = "http://127.0.0.1:{receiver.port}/hook/${{HOOK_PATH}}"\n')
        result = CliRunner().invoke(cli, ["alerts", "test", "-c", str(config)], env={"DETECTOR_HOOK_PATH": secret})
    assert result.exit_code == 1 and "refused" in result.output, result.output
    assert secret not in result.output and "***" in result.output
