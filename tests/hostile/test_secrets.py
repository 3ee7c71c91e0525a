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
