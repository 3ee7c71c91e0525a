"""The analysts' interface as an analyst uses it: string times, naive times as UTC, one-line errors, no
database made by a typo, buckets as a regular series."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import detector
from detector.cli.main import cli


@pytest.fixture(scope="module")
def bank_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bank")
    rows = ["created_at,text,author"]
    rows += [f"2026-03-05T13:{m:02d}:10Z,lumen bank is fine {m},p{m}" for m in range(0, 60, 7)]
    rows += [f"2026-03-05T14:{m:02d}:20Z,lumen bank app down {m},q{m}" for m in range(0, 30, 3)]
    (folder / "bank.csv").write_text("\n".join(rows) + "\n")
    db = folder / "bank.db"
    result = CliRunner().invoke(cli, ["replay", str(folder / "bank.csv"), "--service", "Lumen Bank", "--match",
                                      "lumen bank", "--author-column", "author", "--db", str(db),
                                      "--classifier", "keywords", "-q"])
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("since", ["2026-03-05T14:00", "2026-03-05T14:00Z", "2026-03-05T15:00+01:00",
                                   datetime(2026, 3, 5, 14, 0), datetime(2026, 3, 5, 14, 0, tzinfo=timezone.utc),
                                   pd.Timestamp("2026-03-05 14:00")])
def test_since_takes_strings_and_naive_times_as_utc(bank_db: Path, since) -> None:
    posts = detector.load_posts(str(bank_db), since=since)
    assert len(posts) == 10
    assert posts["created_at"].min() == pd.Timestamp("2026-03-05T14:00:20Z")


def test_a_date_and_until_work_too(bank_db: Path) -> None:
    assert len(detector.load_posts(bank_db, since=date(2026, 3, 5), until="2026-03-05T14:00")) == 9
    assert len(detector.load_alerts(bank_db, since="2026-03-06")) == 0


def test_a_bad_time_is_one_clear_line_not_an_sql_dump(bank_db: Path) -> None:
    with pytest.raises(ValueError) as caught:
        detector.load_posts(bank_db, since="yesterday-ish")
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert message.startswith("since='yesterday-ish' is not a time") and "SELECT" not in message
    with pytest.raises(ValueError, match="until must be a datetime"):
        detector.load_buckets(bank_db, until=12.5)


def test_a_mistyped_path_raises_and_creates_nothing(tmp_path: Path) -> None:
    typo = tmp_path / "bnak.db"
    for load in (detector.load_posts, detector.load_buckets, detector.load_alerts):
        with pytest.raises(FileNotFoundError, match="bnak.db does not exist"):
            load(typo)
    assert not typo.exists()


def test_load_buckets_fills_empty_minutes_and_says_which(bank_db: Path) -> None:
    filled = detector.load_buckets(bank_db)
    stored = detector.load_buckets(bank_db, fill=False)
    assert len(stored) == 19 and "filled" not in stored
    starts = filled["start"]
    assert (starts.diff().dropna() == pd.Timedelta(minutes=1)).all()
    assert starts.iloc[0] == stored["start"].min() and starts.iloc[-1] == stored["start"].max()
    assert len(filled) == int((stored["start"].max() - stored["start"].min()) / pd.Timedelta(minutes=1)) + 1
    assert filled["filled"].sum() == len(filled) - len(stored)
    empty = filled[filled["filled"]]
    assert (empty["mentions"] == 0).all() and empty["expected"].isna().all()
    assert filled["mentions"].sum() == stored["mentions"].sum() == 19
    real = filled[~filled["filled"]].drop(columns="filled").reset_index(drop=True)
    pd.testing.assert_frame_equal(real, stored.reset_index(drop=True), check_dtype=False)


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    posts = tmp_path / "posts.csv"
    posts.write_text("created_at,text\n2026-03-05T14:00:00Z,acme down\n" * 50)
    with pytest.raises(ValueError) as caught:
        detector.load_posts(posts)
    assert str(caught.value) == f"{posts} cannot be read as a detector database (file is not a database)"
