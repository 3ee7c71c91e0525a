"""`detector config check` finds what would fail at run time, all at once, each at its own line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.classify.settings import ClassifierSettings
from detector.cli.main import cli
from detector.config import ConfigError, parse_settings

GOOD = """
db = "x.db"
[[services]]
name = "Acme"

[classifier]
kind = "keywords"
"""


def _check(tmp_path: Path, text: str, env: dict | None = None) -> tuple[int, list[str]]:
    config = tmp_path / "c.toml"
    config.write_text(text)
    result = CliRunner().invoke(cli, ["config", "check", str(config)], env={"DETECTOR_SECRETS_FILE": None, **(env or {})})
    assert "Traceback" not in result.output
    return result.exit_code, [line.strip() for line in result.output.splitlines()[1:]]


def test_a_good_config_is_ok(tmp_path: Path) -> None:
    code, _ = _check(tmp_path, GOOD)
    assert code == 0


def test_missing_replay_file(tmp_path: Path) -> None:
    code, problems = _check(tmp_path, GOOD + '[[sources]]\ntype = "replay"\npath = "posts.csv"\n')
    assert code == 1
    assert problems == [f"sources[0].path (line 10): replay file {tmp_path / 'posts.csv'} does not exist — "
                        "check the path (relative paths are taken from the config's folder)"]
    (tmp_path / "posts.csv").write_text("created_at,text\n")
    assert _check(tmp_path, GOOD + '[[sources]]\ntype = "replay"\npath = "posts.csv"\n')[0] == 0


def test_missing_claims_file_without_make_models(tmp_path: Path) -> None:
    code, problems = _check(tmp_path, GOOD + 'claims = "claims.toml"\n')
    assert code == 1
    (problem,) = problems
    assert problem.startswith("classifier.claims (line 8): claims file") and "does not exist" in problem
    assert "make models" not in problem


def test_missing_claims_file_at_run_time_does_not_say_make_models(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(GOOD + 'claims = "claims.toml"\n')
    posts = tmp_path / "p.csv"
    posts.write_text("created_at,text\n2026-03-05T14:00:00Z,acme down\n")
    result = CliRunner().invoke(cli, ["replay", str(posts), "-c", str(config), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 1
    assert "claims.toml" in result.output and "make models" not in result.output
    assert "--debug" not in result.output  # a known error: one line, no traceback hint


@pytest.mark.slow
def test_model_classifier_with_a_missing_claims_file_names_the_claims_file(tmp_path: Path) -> None:
    from detector.runtime.assembly import ClassifierUnavailable, build_classifier

    with pytest.raises(ClassifierUnavailable) as caught:
        build_classifier(ClassifierSettings(kind="model", claims=tmp_path / "claims.toml"))
    assert "claims file" in str(caught.value) and "make models" not in str(caught.value)


def test_unsupported_channel_scheme(tmp_path: Path) -> None:
    code, problems = _check(tmp_path, GOOD + '[[alerts.channels]]\nname = "f"\nurl = "ftp://example.org/x"\n')
    assert code == 1
    (problem,) = problems
    assert problem.startswith("alerts.channels[0].url (line 10): channel 'f' has an unsupported URL scheme ftp://")
    assert "https://" in problem


def test_unset_secret_reference(tmp_path: Path) -> None:
    text = GOOD + '[[alerts.channels]]\nname = "hook"\nurl = "https://hooks.example.org/${HOOK_TOKEN}"\n'
    code, problems = _check(tmp_path, text, env={"DETECTOR_HOOK_TOKEN": None, "HOOK_TOKEN": None})
    assert code == 1
    assert problems == ["alerts.channels[0].url (line 10): ${HOOK_TOKEN} is not set — set DETECTOR_HOOK_TOKEN "
                        "(or HOOK_TOKEN) in the environment, or HOOK_TOKEN = \"...\" in the secrets file"]
    assert _check(tmp_path, text, env={"DETECTOR_HOOK_TOKEN": "t0ken"})[0] == 0


def test_maintenance_window_for_an_unknown_service_at_its_own_line(tmp_path: Path) -> None:
    text = GOOD + """
[detection]
bucket_seconds = 60

[[detection.maintenance]]
service = "Acmee"
cron = "0 2 * * 2"
duration_minutes = 30
"""
    code, problems = _check(tmp_path, text)
    assert code == 1
    (problem,) = problems
    assert problem.startswith("detection.maintenance[0].service (line 13): maintenance window for 'Acmee'")
    assert "use one of: Acme" in problem


def test_nested_table_error_points_at_its_own_header(tmp_path: Path) -> None:
    text = GOOD + """
[detection]
bucket_seconds = 60

[[detection.maintenance]]
cron = "0 2 * * 2"
"""
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    (problem,) = caught.value.problems
    assert problem.place == "detection.maintenance[0]" and problem.line == 12


def test_every_cross_field_error_at_once(tmp_path: Path) -> None:
    text = GOOD + """
[[services]]
name = "Acme"

[[sources]]
type = "replay"
name = "r"
path = "a.csv"
service = "Nope"

[[sources]]
type = "replay"
name = "r"
path = "b.csv"

[[alerts.channels]]
name = "pager"
url = "log://"
services = ["Slack"]
"""
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("created_at,text\n")
    code, problems = _check(tmp_path, text)
    assert code == 1
    places = [p.split(":")[0] for p in problems]
    assert places == ["services[1].name (line 10)", "alerts.channels[0].services (line 26)",
                      "sources[0].service (line 16)", "sources[1].name (line 20)"]


def test_status_pages_and_api_addresses_must_be_http(tmp_path: Path) -> None:
    text = GOOD.replace('name = "Acme"', 'name = "Acme"\nstatus_page = "ftp://status.acme.example"') + """
[[sources]]
type = "hackernews"
name = "hn"
base_url = "hn.algolia.com/api"
"""
    code, problems = _check(tmp_path, text)
    assert code == 1
    assert [p.split(":")[0] for p in problems] == ["services[0].status_page (line 5)", "sources[0].base_url (line 13)"]
    assert all("is not an http(s) address" in p for p in problems)
    fixed = text.replace("ftp://", "https://").replace('"hn.algolia', '"https://hn.algolia')
    assert _check(tmp_path, fixed)[0] == 0
