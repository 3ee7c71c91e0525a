"""A typo does not page people: typed service names must be known (config or database), ignoring case,
and an unknown one is refused with a one-line error that suggests the close name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli.main import cli
from detector.service_names import UnknownService, resolve_service
from tests.servers.posts import write_burst_csv


def run(*args, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"DETECTOR_CONFIG": "", "DETECTOR_DB": ""})
    if ok:
        assert result.exit_code == 0, result.output
    return result


def bank_config(tmp_path: Path) -> Path:
    config = tmp_path / "bank.toml"
    config.write_text('[[services]]\nname = "Lumen Bank"\nmatch = ["acme cloud"]\n[classifier]\nkind = "keywords"\n')
    return config


def replay(tmp_path: Path, *extra, ok: bool = True):
    csv = write_burst_csv(tmp_path / "posts.csv")
    return run("replay", csv, "--id-column", "id", "--author-column", "author", "--db", tmp_path / "b.db", "-q",
               *extra, ok=ok)


def test_a_misspelt_service_is_refused_with_the_close_name(tmp_path):
    result = replay(tmp_path, "-c", bank_config(tmp_path), "--service", "Lumen Bnak", ok=False)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "'Lumen Bnak'" in line and "did you mean 'Lumen Bank'?" in line
    assert not (tmp_path / "b.db").exists() or json.loads(
        run("alerts", "--db", tmp_path / "b.db", "--format", "json").output) == []


def test_a_case_variant_means_the_configured_service_and_counts_posts_once(tmp_path):
    replay(tmp_path, "-c", bank_config(tmp_path), "--service", "lumen BANK")
    listed = json.loads(run("alerts", "--db", tmp_path / "b.db", "--format", "json").output)
    assert {i["service"] for i in listed} == {"Lumen Bank"} and len(listed) == 1


def test_a_new_service_with_match_terms_is_allowed_but_not_one_typo_from_a_known_one(tmp_path):
    config = bank_config(tmp_path)
    assert replay(tmp_path, "-c", config, "--service", "Acme", "--match", "acme cloud").exit_code == 0
    result = replay(tmp_path, "-c", config, "--service", "Lumen Bnak", "--match", "lumen", ok=False)
    assert result.exit_code == 1 and "looks like 'Lumen Bank'" in result.output


def test_alerts_silence_and_listing_refuse_unknown_services_and_accept_any_case(tmp_path):
    replay(tmp_path, "--service", "Acme", "--match", "acme cloud", "--classifier", "keywords")
    db = tmp_path / "b.db"
    result = run("alerts", "silence", "Acme clod", "--for", "2h", "--db", db, ok=False)
    assert result.exit_code == 1 and "did you mean 'Acme'?" in result.output
    assert "no silences" in run("alerts", "silences", "--all", "--db", db).output
    assert run("alerts", "silence", "acme", "--for", "2h", "--db", db).output.startswith("silence 1: Acme until")
    listed = run("alerts", "--service", "ACME", "--db", db, "--format", "json").output
    assert len(json.loads(listed)) == 1
    result = run("alerts", "--service", "Acne", "--db", db, ok=False)
    assert result.exit_code == 1 and "did you mean 'Acme'?" in result.output


@pytest.mark.parametrize("typed, known, new, expected", [
    ("lumen bank", {"Lumen Bank"}, False, "Lumen Bank"),
    ("Anything", set(), False, "Anything"),  # nothing known yet (a fresh database): nothing to check against
    ("Spotify", {"Lumen Bank"}, True, "Spotify"),  # clearly new, with terms that define it
])
def test_resolve_service_rule(typed, known, new, expected):
    assert resolve_service(typed, known, allow_new=new) == expected


def test_an_unknown_name_without_a_close_one_lists_the_known_names():
    with pytest.raises(UnknownService, match="known: 'Lumen Bank'"):
        resolve_service("Spotify", {"Lumen Bank"})
