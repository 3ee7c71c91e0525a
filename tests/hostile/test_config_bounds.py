"""Numbers in the config that would overflow at run time are refused by `config check` (issue 18)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from detector.cli.main import cli


@pytest.mark.parametrize("line, words", [
    ("windows_minutes = [1e308]", "at most a week"),
    ("windows_minutes = [5.0, inf]", "not a finite number"),
    ("min_ratio = inf", "not a finite number"),
])
def test_config_check_refuses_numbers_that_overflow_later(tmp_path, line, words):
    path = tmp_path / "c.toml"
    path.write_text(f'[[services]]\nname = "Acme"\nmatch = ["acme"]\n\n[detection]\n{line}\n')
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert "detection." in result.output and words in result.output
