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


def _times_file(path, minutes, extra=b""):
    rows = b"created_at,text\n" + b"".join(
        f"2024-05-01T12:{m:02d}:00Z,post {i} at {m}\n".encode() for i, m in enumerate(minutes)
    )
    path.write_bytes(rows + extra)
    return path


def test_a_file_in_time_order_is_streamed_without_sorting(tmp_path, monkeypatch):
    import detector.sources.replay as replay

    path = _times_file(tmp_path / "posts.csv", [1, 2, 2, 3, 5, 8], extra=b"not a time,bad row\n")
    monkeypatch.setattr(replay.ReplaySource, "_spill", lambda *a: pytest.fail("an ordered file was sorted"))
    monkeypatch.setattr(replay, "RUN_POSTS", 2)
    source = ReplaySource(ReplaySettings(path=path), PSEUDO, batch_size=4)
    batches = list(source.batches(None))
    assert [[p.text for p in b.posts] for b in batches] == [
        ["post 0 at 1", "post 1 at 2", "post 2 at 2", "post 3 at 3"], ["post 4 at 5", "post 5 at 8"]]
    assert [b.cursor for b in batches] == ["4", "6"]
    assert [len(b.rejected) for b in batches] == [0, 1] and sum(b.read for b in batches) == 7
    resumed = list(source.batches("4"))  # the cursor counts posts handed over
    assert [p.text for b in resumed for p in b.posts] == ["post 4 at 5", "post 5 at 8"]


def test_a_file_out_of_time_order_is_sorted_in_spilled_runs_like_one_stable_sort(tmp_path, monkeypatch):
    import detector.sources.replay as replay

    minutes = [9, 3, 3, 7, 1, 3, 8, 0, 5, 3, 2]
    path = _times_file(tmp_path / "posts.csv", minutes)
    spilled = []
    spill = replay.ReplaySource._spill
    monkeypatch.setattr(replay.ReplaySource, "_spill", lambda self, run: spilled.append(len(run)) or spill(self, run))
    monkeypatch.setattr(replay, "RUN_POSTS", 3)
    posts = [p for b in ReplaySource(ReplaySettings(path=path), PSEUDO, batch_size=4).batches(None) for p in b.posts]
    expected = sorted(range(len(minutes)), key=lambda i: minutes[i])  # stable: ties keep file order
    assert [p.text for p in posts] == [f"post {i} at {minutes[i]}" for i in expected]
    assert spilled == [3, 3, 3, 2]
    assert all(p.source == "replay" and p.source_id for p in posts)


def test_the_order_check_ignores_rows_that_cannot_be_posts(tmp_path, monkeypatch):
    import detector.sources.replay as replay

    # a future-dated row and a bad time are rejected, not posts: they do not make the file look unordered
    path = tmp_path / "posts.csv"
    path.write_text("created_at,text\n2024-05-01T12:00:00Z,a\n2099-01-01T00:00:00Z,future\n"
                    "nonsense,bad\n2024-05-01T12:05:00Z,b\n")
    monkeypatch.setattr(replay.ReplaySource, "_spill", lambda *a: pytest.fail("an ordered file was sorted"))
    monkeypatch.setattr(replay, "RUN_POSTS", 1)
    batches = list(ReplaySource(ReplaySettings(path=path), PSEUDO).batches(None))
    assert [p.text for b in batches for p in b.posts] == ["a", "b"]
    assert len([r for b in batches for r in b.rejected]) == 2


def test_invalid_unicode_is_found_at_every_edge_of_its_ranges():
    """The checks search with a regex (issue 17: a Python step per character was a third of reading a file);
    they must agree with the ranges they stand for, surrogateescape's bytes (U+DC80-U+DCFF) and any lone
    surrogate (U+D800-U+DFFF), on both sides of every edge."""
    import random

    from detector.sources.replay import _has_bad_utf8, _has_lone_surrogate

    edges = ["\ud7ff", "\ud800", "\udbff", "\udc00", "\udc7f", "\udc80", "\udcff", "\udd00", "\udfff", "\ue000"]
    rng = random.Random(11)
    texts = ["", "plain", "é’😡"] + ["".join(rng.choice(["a", "é", *edges]) for _ in range(rng.randint(1, 6)))
                                       for _ in range(3000)]
    bad = lone = 0
    for text in texts:
        expected_bad = any("\udc80" <= ch <= "\udcff" for ch in text)
        expected_lone = any("\ud800" <= ch <= "\udfff" for ch in text)
        assert (_has_bad_utf8(text), _has_lone_surrogate(text)) == (expected_bad, expected_lone), ascii(text)
        bad += expected_bad
        lone += expected_lone and not expected_bad
    assert bad > 100 and lone > 100
