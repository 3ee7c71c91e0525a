"""Classifying a batch while the one before it is stored (``Pipeline.process_all``, issue 17) must store,
count and judge exactly what processing one batch at a time does, raise the same errors in the same batch
order, and leave no thread behind."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace

import pytest

from detector.alerting.settings import AlertSettings
from detector.classify.keywords import KeywordClassifier
from detector.pipeline import Pipeline, RunReport
from detector.records import Post
from detector.sources.base import SourceBatch
from detector.sources.matching import ServiceRule
from detector.store.store import Store
from detector.volume.settings import VolumeSettings

try:
    from tests.test_pipeline import write_posts
except ImportError:  # tests/ run as a plain folder of modules
    from test_pipeline import write_posts

SIZE = 20  # posts per batch


class Recording(KeywordClassifier):
    """The keyword classifier, noting each batch it is given and on which thread; raises on batch ``fail``."""

    def __init__(self, fail: int | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()

    def classify(self, posts):
        self.batches.append([p.source_id for p in posts])
        self.threads.add(threading.current_thread().name)
        if self.fail is not None and len(self.batches) == self.fail:
            raise RuntimeError(f"encoder failed on batch {self.fail}")
        return super().classify(posts)


def _batches(tmp_path) -> list[SourceBatch]:
    """A day with a burst, in batches of SIZE; batch 3 repeats two posts of batch 2 (one with another text:
    a conflict) so deduplication across the batch being classified is exercised."""
    rows = write_posts(tmp_path / "posts.csv", burst=True)
    posts = [Post("replay", str(i), moment, text, author=user) for i, (moment, text, user) in enumerate(rows)]
    batches = [list(posts[i : i + SIZE]) for i in range(0, len(posts), SIZE)]
    batches[3] = [*batches[3], batches[2][0], replace(batches[2][1], text="xfinity edited text")]
    return [SourceBatch(posts=tuple(b), cursor=str(n), read=len(b)) for n, b in enumerate(batches)]


def _pipeline(db, classifier) -> Pipeline:
    return Pipeline(Store(str(db)), rules=[ServiceRule("Xfinity", ("xfinity",))], classifier=classifier,
                    detection=VolumeSettings(warmup_minutes=60), alerts=AlertSettings(resolve_after_minutes=20))


def _stored(db) -> dict[str, list]:
    queries = {
        "posts": "SELECT source_id, created_at, lang FROM posts",
        "verdicts": "SELECT p.source_id, v.complaint, v.complaint_p FROM verdicts v JOIN posts p ON p.id = v.post_id",
        "buckets": "SELECT service, start, mentions, complaints, expected, upper, score FROM buckets",
        "alerts": "SELECT service, opened_at, resolved_at, severity FROM alerts",
        "quarantine": "SELECT ref, reason FROM quarantine",
        "cursor": "SELECT source, cursor FROM source_cursors",
    }
    with sqlite3.connect(db) as conn:
        return {name: sorted(conn.execute(query).fetchall()) for name, query in queries.items()}


def _counts(report: RunReport) -> tuple:
    return (report.read, report.stored, report.duplicates, report.quarantined, report.conflicts,
            report.unmatched, report.late, [(c.kind, c.alert.service, c.at) for c in report.changes])


def _one_at_a_time(db, batches, classifier) -> tuple[RunReport, list[str]]:
    pipeline, report, after = _pipeline(db, classifier), RunReport(), []
    try:
        for batch in batches:
            pipeline.process(batch, source="replay", assigned="Xfinity", report=report)
            after.append(batch.cursor)
    finally:
        pipeline.store.close()
    return report, after


def _overlapped(db, batches, classifier) -> tuple[RunReport, list[str]]:
    pipeline, report, after = _pipeline(db, classifier), RunReport(), []
    try:
        pipeline.process_all(batches, source="replay", assigned="Xfinity", report=report,
                             after=lambda batch: after.append(batch.cursor))
    finally:
        pipeline.store.close()
    return report, after


def _classify_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("classify")]


def test_overlapped_batches_store_and_judge_exactly_what_one_at_a_time_does(tmp_path):
    batches = _batches(tmp_path)
    alone, together = Recording(), Recording()
    report_a, after_a = _one_at_a_time(tmp_path / "a.db", batches, alone)
    report_b, after_b = _overlapped(tmp_path / "b.db", batches, together)
    assert report_a.duplicates == 1 and report_a.conflicts == 1 and report_a.opened == 1  # the test sees them
    assert _counts(report_b) == _counts(report_a)
    assert _stored(tmp_path / "b.db") == _stored(tmp_path / "a.db")
    assert after_b == after_a == [b.cursor for b in batches]  # each batch once, in order
    assert together.batches == alone.batches  # the same posts classified, in the same order
    assert together.threads == {n for n in together.threads if n.startswith("classify")} != set()
    assert not _classify_threads()


@pytest.mark.parametrize("fail", [1, 4])
def test_a_failed_classification_raises_its_error_with_the_batches_before_it_stored(tmp_path, fail):
    batches = _batches(tmp_path)
    with pytest.raises(RuntimeError, match=f"encoder failed on batch {fail}") as alone_error:
        _one_at_a_time(tmp_path / "a.db", batches, Recording(fail=fail))
    together = Recording(fail=fail)
    with pytest.raises(RuntimeError, match=f"encoder failed on batch {fail}") as together_error:
        _overlapped(tmp_path / "b.db", batches, together)
    assert str(together_error.value) == str(alone_error.value)
    stored = _stored(tmp_path / "b.db")
    assert stored == _stored(tmp_path / "a.db")  # nothing of the failed batch or after it; all before it
    assert stored["cursor"] == ([("replay", str(fail - 2))] if fail > 1 else [])
    assert len(together.batches) == fail  # nothing classified after the failure
    assert not _classify_threads()


def test_a_source_that_fails_midway_has_the_batches_it_gave_stored_first(tmp_path):
    batches = _batches(tmp_path)

    def failing():
        yield from batches[:3]
        raise OSError("the file went away")

    with pytest.raises(OSError, match="the file went away"):
        _one_at_a_time(tmp_path / "a.db", failing(), Recording())
    with pytest.raises(OSError, match="the file went away"):
        _overlapped(tmp_path / "b.db", failing(), Recording())
    stored = _stored(tmp_path / "b.db")
    assert stored == _stored(tmp_path / "a.db") and stored["cursor"] == [("replay", "2")]
    assert not _classify_threads()


def test_the_next_batch_is_classified_while_the_one_before_is_stored(tmp_path):
    """The point of it: the classify thread works on batch n+1 while this thread stores batch n."""
    batches = _batches(tmp_path)[:3]
    started = [threading.Event() for _ in batches]

    class Signalling(KeywordClassifier):
        def classify(self, posts):
            started[next(i for i, b in enumerate(batches) if b.posts[0].source_id == posts[0].source_id)].set()
            return super().classify(posts)

    seen = []

    def after(batch):
        n = int(batch.cursor)
        if n + 1 < len(batches):  # the following batch's classification began before this one's turn ended
            seen.append(started[n + 1].wait(timeout=30))

    pipeline = _pipeline(tmp_path / "c.db", Signalling())
    try:
        pipeline.process_all(batches, source="replay", assigned="Xfinity", report=RunReport(), after=after)
    finally:
        pipeline.store.close()
    assert seen == [True, True]


def test_an_interrupt_drops_only_the_batch_being_classified_which_its_cursor_brings_back(tmp_path):
    """Ctrl-C while the next batch is read: the batch being classified is not stored and its cursor not
    saved, so a resumed run reads it again; the batches before it are stored once, the thread is gone."""
    batches = _batches(tmp_path)

    def interrupted():
        yield from batches[:3]
        raise KeyboardInterrupt

    classifier = Recording()
    with pytest.raises(KeyboardInterrupt):
        _overlapped(tmp_path / "b.db", interrupted(), classifier)
    assert len(classifier.batches) == 3  # batch 2 was classified, then dropped
    stored = _stored(tmp_path / "b.db")
    assert stored["cursor"] == [("replay", "1")]
    assert {row[0] for row in stored["posts"]} == {p.source_id for b in batches[:2] for p in b.posts}
    assert not _classify_threads()
    _overlapped(tmp_path / "b.db", batches[2:], Recording())  # resumed from the cursor: the rest, once each
    _one_at_a_time(tmp_path / "a.db", batches, Recording())
    resumed, straight = _stored(tmp_path / "b.db"), _stored(tmp_path / "a.db")
    for table in ("posts", "verdicts", "quarantine", "cursor"):  # (scores after a restart are not the subject here)
        assert resumed[table] == straight[table], table
