import json
from datetime import timezone

import pandas as pd
import pytest

from detector.pseudonym import Pseudonymiser
from detector.sources.replay import ReplayError, ReplaySettings, ReplaySource

PSEUDO = Pseudonymiser(b"k" * 32)


def _source(path, **kw):
    return ReplaySource(ReplaySettings(path=path, **kw), PSEUDO)


def test_csv_rows_are_sorted_and_bad_rows_rejected_with_reasons(tmp_path):
    path = tmp_path / "posts.csv"
    rows = (
        b"id,ts,text,user\n"
        b"1,2024-05-01T12:00:05Z,second post is down,alice\n"
        b"2,2024-05-01T12:00:01Z,first post,bob\n"
        b"3,not a time,bad time,carol\n"
        b"4,2024-05-01T12:00:09Z,,dave\n"
        b"5,2024-05-01T12:00:09Z,bad \xff\xfe bytes,erin\n"
        b"6,2024-05-01T12:00:09Z," + b"x" * 50_000 + b",frank\n"
        b"7,2024-05-01 14:00:07,naive time read in the given zone,gina\n"
    )
    path.write_bytes(rows)
    source = _source(path, time_column="ts", text_column="text", id_column="id", author_column="user",
                     timezone="Europe/Paris")
    posts, rejected, read = source.read()
    assert read == 7
    assert [p.source_id for p in posts] == ["2", "1", "7"]
    assert posts[2].created_at.hour == 12 and posts[2].created_at.tzinfo == timezone.utc
    reasons = {r.ref: r.reason for r in rejected}
    assert "unparseable time" in reasons["posts.csv:4"]
    assert reasons["posts.csv:5"] == "empty text"
    assert reasons["posts.csv:6"] == "invalid UTF-8 in text"
    assert reasons["posts.csv:7"].startswith("absurd size")
    assert posts[0].author == PSEUDO.author("replay", "bob") and "bob" not in posts[0].author


def test_jsonl_malformed_lines_are_rejected(tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_text(
        json.dumps({"created_at": "2024-05-01T12:00:00Z", "text": "ok"}) + "\n"
        + "{not json\n"
        + "[1, 2]\n"
        + json.dumps({"created_at": 1714564800, "text": "epoch seconds"}) + "\n"
    )
    posts, rejected, read = _source(path).read()
    assert read == 4 and len(posts) == 2
    assert [r.reason.split(" (")[0] for r in rejected] == ["malformed JSON", "a JSON line must be an object"]


def test_parquet_is_read(tmp_path):
    path = tmp_path / "posts.parquet"
    pd.DataFrame({"when": pd.to_datetime(["2024-05-01 12:00", "2024-05-01 11:00"], utc=True),
                  "body": ["b", "a"], "pid": [10, 11]}).to_parquet(path)
    posts, rejected, read = _source(path, time_column="when", text_column="body", id_column="pid").read()
    assert [p.text for p in posts] == ["a", "b"] and [p.source_id for p in posts] == ["11", "10"]
    assert not rejected


def test_a_missing_column_is_a_clear_error(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("when,body\n2024-05-01T12:00:00Z,hi\n")
    with pytest.raises(ReplayError, match=r"column 'created_at' is not in posts.csv \(columns: when, body\); set --time-column"):
        _source(path)


def test_paced_replay_sleeps_in_proportion_to_event_time(tmp_path):
    path = tmp_path / "posts.csv"
    path.write_text("created_at,text\n2024-05-01T12:00:00Z,a\n2024-05-01T12:10:00Z,b\n2024-05-01T13:00:00Z,c\n")
    slept = []
    source = ReplaySource(ReplaySettings(path=path, speed=60), PSEUDO, sleep=slept.append)
    batches = list(source.batches(None))
    assert [len(b.posts) for b in batches] == [1, 1, 1]
    assert slept == [10.0, 50.0]  # 10 and 50 minutes of event time at 60x
