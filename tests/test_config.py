from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli.main import cli
from detector.config import ConfigError, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def test_shipped_examples_are_valid():
    for name in ("chatgpt.toml", "xfinity.toml"):
        settings = load_settings(REPO / "examples" / name)
        assert settings.services


def test_errors_name_the_field_line_and_fix():
    text = """
db = "x.db"

[[services]]
name = "ChatGPT"
match = ["chatgpt"]

[[services]]
name = "OpenAI"
mtach = ["openai"]

[[sources]]
type = "replay"
time_column = "ts"

[detection]
bucket_seconds = -5
"""
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    problems = {p.place: p for p in caught.value.problems}
    assert "services[1].mtach" in problems
    assert problems["services[1].mtach"].line == 10
    assert "spelling" in problems["services[1].mtach"].fix
    assert "sources[0].path" in problems
    assert problems["sources[0].path"].fix == "add this field"
    assert "detection.bucket_seconds" in problems
    assert problems["detection.bucket_seconds"].line == 17


def test_unknown_service_reference_says_how_to_fix():
    text = """
[[services]]
name = "ChatGPT"

[[alerts.channels]]
name = "pager"
url = "log://"
services = ["Slack"]
"""
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    (problem,) = caught.value.problems
    assert "Slack" in problem.message
    assert "ChatGPT" in problem.fix


def test_invalid_toml_gives_the_line():
    with pytest.raises(ConfigError) as caught:
        parse_settings('db = "x.db"\n[[services]\nname = 1\n')
    assert caught.value.problems[0].line == 2


def test_config_check_cli_prints_every_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[services]]\nnmae = "x"\n\n[classifier]\nkind = "magic"\n')
    result = CliRunner().invoke(cli, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert "services[0].nmae (line 2)" in result.output
    assert "services[0].name" in result.output
    assert "classifier.kind (line 5)" in result.output
    assert "Traceback" not in result.output


def test_config_check_cli_accepts_a_good_file():
    result = CliRunner().invoke(cli, ["config", "check", str(REPO / "examples" / "xfinity.toml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    # the ChatGPT example names a recorded file of the user's own, which the checkout does not have
    result = CliRunner().invoke(cli, ["config", "check", str(REPO / "examples" / "chatgpt.toml")])
    assert result.exit_code == 1 and "1 problem(s)" in result.output
    assert "chatgpt-posts.jsonl does not exist" in result.output


def test_relative_paths_are_taken_from_the_config_folder(tmp_path):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "c.toml"
    path.write_text('db = "x.db"\n[[services]]\nname = "S"\n[[sources]]\ntype = "replay"\npath = "posts.csv"\n')
    settings = load_settings(path)
    assert settings.db == str(tmp_path / "conf" / "x.db")
    assert settings.sources[0].path == tmp_path / "conf" / "posts.csv"
