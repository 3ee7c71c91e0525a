"""Small things a user trips over: replay takes the file its config names; the README's quick start keeps
authors; Streamlit's developer toolbar is hidden."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from detector.cli.main import cli
from detector.store.store import Store

REPO = Path(__file__).resolve().parents[1]


def test_replay_with_a_config_takes_the_file_the_config_names(tmp_path: Path) -> None:
    (tmp_path / "bank.csv").write_text("when,body,who\n2026-03-05T14:00:00Z,lumen bank down,p1\n"
                                       "2026-03-05T14:01:00Z,lumen bank app broken,p2\n")
    config = tmp_path / "bank.toml"
    config.write_text("""
db = "bank.db"
[[services]]
name = "Lumen Bank"
match = ["lumen bank"]
[[sources]]
type = "replay"
path = "bank.csv"
time_column = "when"
text_column = "body"
author_column = "who"
[classifier]
kind = "keywords"
""")
    result = CliRunner().invoke(cli, ["replay", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "replayed bank.csv" in result.output and "stored 2" in result.output
    with Store(tmp_path / "bank.db") as store:
        assert {r["author"] is not None for r in store.engine.connect().execute(
            __import__("sqlalchemy").text("select author from posts")).mappings()} == {True}


def test_replay_without_file_or_config_file_says_what_to_give(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[services]]\nname = "Acme"\n[classifier]\nkind = "keywords"\n')
    result = CliRunner().invoke(cli, ["replay", "-c", str(config), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "give the FILE to replay" in result.output


def test_the_quick_start_names_the_author_column() -> None:
    readme = (REPO / "README.md").read_text()
    quick = readme[readme.index("## Use it on your own data"):readme.index("## With a config file")]
    assert "--author-column user" in quick
    result = CliRunner().invoke(cli, ["--help"])
    assert "--author-column user" in result.output
