"""Hostile files through the real `detector replay`: every row is stored or quarantined with its raw form and a
reason, and one bad row costs only itself (issue 18, "Lost data" and "Refused or mis-stored")."""

from __future__ import annotations

import csv
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from detector.cli.main import cli

try:
    from tests.test_postgres import fresh_database
except ImportError:  # tests/ run as a plain folder of modules
    from test_postgres import fresh_database


def replay(path, db, *extra: str) -> str:
    args = ["replay", str(path), "--service", "Acme", "--time-column", "ts", "--text-column", "text",
            "--db", str(db), "--classifier", "keywords", "-q", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def rows(db, table: str) -> list[dict]:
    engine = sa.create_engine(db if "://" in str(db) else f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def write_csv(path, count: int, *, bad_row: int | None = None, bom: bool = False) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "ts", "text"])
        for i in range(1, count + 1):
            writer.writerow([i, f"2024-05-01T12:{i % 60:02d}:{i // 60 % 60:02d}Z", f"acme post number {i}"])
    if bad_row is not None:
        lines = path.read_text(encoding="utf-8-sig" if bom else "utf-8").splitlines(keepends=True)
        lines[bad_row] = lines[bad_row].replace(",acme", ',"acme', 1)  # a quote opened and never closed
        path.write_text("".join(lines), encoding="utf-8")


def test_an_unbalanced_quote_costs_only_its_own_row(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    write_csv(path, 2000, bad_row=10)
    assert ',"acme post number 10\n' in path.read_text()
    output = replay(path, db, "--id-column", "id")
    assert "read 2000, stored 1999" in output and "quarantined 1" in output, output
    [kept] = rows(db, "quarantine")
    assert kept["ref"] == "posts.csv:11" and "unbalanced quote" in kept["reason"]
    assert kept["raw"].startswith('10,2024') and "acme" in kept["raw"]
    assert len(rows(db, "posts")) == 1999


def test_a_quote_inside_a_field_costs_only_its_own_row(tmp_path):
    path, db = tmp_path / "posts.csv", tmp_path / "x.db"
    write_csv(path, 30)
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",acme post", ',"acme" post', 1)
    path.write_text("".join(lines))
    output = replay(path, db, "--id-column", "id")
    assert "read 30, stored 29" in output and "quarantined 1" in output, output
    assert rows(db, "quarantine")[0]["reason"].startswith("malformed CSV")


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    path, db = tmp_path / "bom.csv", tmp_path / "x.db"
    write_csv(path, 5, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "stored 5" in replay(path, db, "--id-column", "id")


def test_two_files_without_an_id_column_do_not_collide(tmp_path):
    db = tmp_path / "x.db"
    for name, word in (("a.csv", "first"), ("b.csv", "second")):
        with open(tmp_path / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["ts", "text"])
            for i in range(20):
                writer.writerow([f"2024-05-01T12:{i:02d}:00Z", f"acme {word} file post {i}"])
        assert "stored 20" in replay(tmp_path / name, db)
    assert len(rows(db, "posts")) == 40
    assert "stored 0, duplicate 20" in replay(tmp_path / "a.csv", db)  # the same file again: nothing twice


def test_a_known_id_with_a_different_text_is_kept_as_a_conflict(tmp_path):
    path, db = tmp_path / "edit.jsonl", tmp_path / "x.db"
    path.write_text("\n".join(json.dumps(r) for r in (
        {"id": "7", "ts": "2024-05-01T12:00:00Z", "text": "acme is down"},
        {"id": "7", "ts": "2024-05-01T12:00:00Z", "text": "acme is down for everyone in Leeds"},
        {"id": "8", "ts": "2024-05-01T12:01:00Z", "text": "acme down here too"},
    )) + "\n")
    output = replay(path, db, "--id-column", "id")
    assert "stored 2, duplicate 0, quarantined 1" in output, output
    [conflict] = rows(db, "quarantine")
    assert conflict["reason"].startswith("conflict") and "Leeds" in conflict["raw"]


HOSTILE_LINES = [
    '{"ts": "2024-05-01T12:00:00Z", "text": "acme down \\ud800 here"}',  # a lone surrogate
    '{"ts": "2024-05-01T12:00:01Z", "text": ' + "[" * 100_000 + "]" * 100_000 + "}",  # nested 100,000 deep
    '{"ts": "2024-05-01T12:00:02Z", "text": {"nested": "acme down"}}',
    '{"ts": "2024-05-01T12:00:03Z", "text": true}',
    '{"ts": "2024-05-01T12:00:04Z"}',  # lacks an optional column and the text
]


def test_hostile_json_lines_cost_only_themselves(tmp_path):
    path, db = tmp_path / "bad.jsonl", tmp_path / "x.db"
    good = [json.dumps({"ts": f"2024-05-01T12:0{i}:30Z", "text": f"acme outage report {i}", "user": f"u{i}"})
            for i in range(5)]
    path.write_text("\n".join([good[0], *HOSTILE_LINES, *good[1:]]) + "\n")
    output = replay(path, db, "--author-column", "user")
    assert "stored 5" in output and "quarantined 5" in output, output
    reasons = sorted(r["reason"] for r in rows(db, "quarantine"))
    assert any("surrogate" in r for r in reasons) and any("nested too deep" in r for r in reasons)
    assert sum("not a string" in r for r in reasons) == 2 and "empty text" in reasons
    assert all(r["raw"] for r in rows(db, "quarantine"))


def test_an_over_long_line_is_quarantined_without_reading_it_whole(tmp_path):
    path, db = tmp_path / "long.csv", tmp_path / "x.db"
    with open(path, "w") as handle:
        handle.write("ts,text\n2024-05-01T12:00:00Z,acme down\n")
        handle.write("2024-05-01T12:01:00Z," + "x" * 3_000_000 + "\n")
        handle.write("2024-05-01T12:02:00Z,acme still down\n")
    output = replay(path, db)
    assert "stored 2" in output and "quarantined 1" in output, output
    [kept] = rows(db, "quarantine")
    assert "3000022 characters" in kept["reason"] and len(kept["raw"]) <= 64 * 1024


@pytest.mark.postgres
def test_a_nul_in_text_is_stored_on_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("DETECTOR_PSEUDONYM_KEY", "hostile-test-key")
    url, drop = fresh_database()
    try:
        path = tmp_path / "nul.jsonl"
        path.write_text(json.dumps({"ts": "2024-05-01T12:00:00Z", "text": "acme down\u0000 again"}) + "\n"
                        + json.dumps({"ts": "2024-05-01T12:00:05Z", "text": "acme down here"}) + "\n")
        assert "stored 2" in replay(path, url)
        assert sorted(r["text"] for r in rows(url, "posts")) == ["acme down again", "acme down here"]
    finally:
        drop()


def test_a_row_dated_after_this_machines_clock_is_quarantined(tmp_path):
    path, db = tmp_path / "years.csv", tmp_path / "x.db"
    path.write_text("ts,text\n2024-05-01T12:00:00Z,acme down\n2099-01-01T00:00:00Z,acme down in 2099\n")
    output = replay(path, db)
    assert "stored 1" in output and "quarantined 1" in output, output
    assert "after this machine's clock" in rows(db, "quarantine")[0]["reason"]


def test_a_row_decades_before_the_rest_costs_time_in_posts_not_minutes(tmp_path):
    import time

    path, db = tmp_path / "years.csv", tmp_path / "x.db"
    lines = ["ts,text,user", "1991-03-04T12:00:00Z,acme down,old"]
    lines += [f"2024-05-01T12:{i:02d}:00Z,acme post {i},u{i}" for i in range(30)]
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    output = replay(path, db, "--author-column", "user")
    assert "stored 31" in output, output
    assert time.monotonic() - started < 60  # walking 33 years of minutes took far longer than this
    engine_rows = rows(db, "buckets")
    assert len(engine_rows) < 1000  # the silence was not written out minute by minute
