"""Quarantine made visible: a replay whose every row is quarantined says why and fails; `detector quarantine`
lists and exports the rows with their reason and raw form; a re-run does not add the same rows again."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.cli.main import cli
from detector.records import Rejected
from detector.store.store import Store

ROWS = ["created_at,text,author"] + [f"2026-03-05T14:{i:02d}:00Z,acme is down {i},user{i}" for i in range(20)]


def _csv(tmp_path: Path, extra: list[str] = ()) -> Path:
    path = tmp_path / "bank.csv"
    path.write_text("\n".join([*ROWS, *extra]) + "\n")
    return path


def _replay(path: Path, db: Path, *args: str):
    return CliRunner().invoke(cli, ["replay", str(path), "--service", "Acme", "--match", "acme", "--db", str(db),
                                    "--classifier", "keywords", *args])


def _count(db: Path) -> int:
    with Store(db) as store:
        return store.count("quarantine")


def test_a_csv_read_as_jsonl_fails_and_says_why(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    result = _replay(_csv(tmp_path), db, "--format", "jsonl")
    assert result.exit_code == 1
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: every row of bank.csv was quarantined (21: ")
    assert "malformed JSON" in error and "check --format" in error and "detector quarantine" in error
    assert _count(db) == 21


def test_some_rows_quarantined_are_summarised_by_reason(tmp_path: Path) -> None:
    result = _replay(_csv(tmp_path, ["not-a-time,acme down,x", "also-not,acme down,y"]), tmp_path / "q.db")
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if line.startswith("note: 2 row(s) quarantined"))
    assert "list them with `detector quarantine --db" in note


def test_a_rerun_does_not_quarantine_the_same_rows_again(tmp_path: Path) -> None:
    db, path = tmp_path / "q.db", _csv(tmp_path, ["not-a-time,acme down,x"])
    assert _replay(path, db).exit_code == 0
    assert _count(db) == 1
    assert _replay(path, db).exit_code == 0
    assert _count(db) == 1
    path.write_text(path.read_text() + "later-not-a-time,acme down,z\n")
    assert _replay(path, db).exit_code == 0
    assert _count(db) == 2


def test_quarantine_lists_and_exports_rows_with_reason_and_raw(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    _replay(_csv(tmp_path, ['not-a-time,"acme, down",x']), db)
    table = CliRunner().invoke(cli, ["quarantine", "--db", str(db)])
    assert table.exit_code == 0, table.output
    assert table.output.startswith("1 row(s) in quarantine:")
    assert "bank.csv:22" in table.output and 'not-a-time,"acme, down",x' in table.output
    rows = json.loads(CliRunner().invoke(cli, ["quarantine", "--db", str(db), "--format", "json"]).output)
    assert [(r["source"], r["ref"], r["raw"].strip()) for r in rows] == [("replay", "bank.csv:22",
                                                                         'not-a-time,"acme, down",x')]
    assert rows[0]["reason"]
    out = tmp_path / "q.csv"
    result = CliRunner().invoke(cli, ["quarantine", "--db", str(db), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert row["raw"].strip() == 'not-a-time,"acme, down",x' and row["reason"] == rows[0]["reason"]
    assert CliRunner().invoke(cli, ["quarantine", "--db", str(db), "--source", "reddit"]).output == \
        "nothing in quarantine\n"


def test_rows_without_a_raw_form_are_kept_once_by_place_and_reason(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        rows = [Rejected("api", "https://x/1", "malformed response"), Rejected("api", "https://x/1", "malformed response"),
                Rejected("api", "https://x/2", "malformed response")]
        assert store.quarantine(rows) == 3
        assert store.quarantine(rows[:1]) == 1
        assert store.count("quarantine") == 2


@pytest.mark.postgres
def test_a_rerun_into_postgresql_adds_nothing(tmp_path: Path) -> None:
    from tests.test_postgres import fresh_database

    url, drop = fresh_database()
    try:
        path = _csv(tmp_path, ["not-a-time,acme down,x"])
        for _ in range(2):
            result = CliRunner().invoke(cli, ["replay", str(path), "--service", "Acme", "--match", "acme", "--db", url,
                                              "--classifier", "keywords"], env={"DETECTOR_PSEUDONYM_KEY": "k" * 32})
            assert result.exit_code == 0, result.output
        with Store(url) as store:
            assert store.count("quarantine") == 1
    finally:
        drop()
