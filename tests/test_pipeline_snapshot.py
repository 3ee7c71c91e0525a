"""The pipeline's snapshot: a plain record with a format version that resumes detection exactly where it
was taken (what the aggregate worker's checkpoint holds), and refuses a format it does not know."""

from __future__ import annotations

import json
import pickle
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.alerting.settings import AlertSettings
from detector.classify.keywords import KeywordClassifier
from detector.cli.main import cli
from detector.pipeline import Observation, Pipeline, RunReport, classify_posts
from detector.records import Post
from detector.snapshot import SNAPSHOT_VERSION, PipelineSnapshot, SnapshotError
from detector.sources.matching import ServiceRule
from detector.store.leases import save_checkpoint
from detector.store.store import Store
from detector.volume.settings import VolumeSettings

try:
    from tests.conftest import require_service
    from tests.test_pipeline import BURST, write_posts
    from tests.test_postgres import fresh_database
except ImportError:  # tests/ run as a plain folder of modules
    from conftest import require_service
    from test_pipeline import BURST, write_posts
    from test_postgres import fresh_database

CHUNK = 25  # posts per observation, as the aggregate applies runs


def _pipeline(store: Store) -> Pipeline:
    return Pipeline(store, rules=[ServiceRule("Xfinity", ("xfinity",))], classifier=None,
                    detection=VolumeSettings(warmup_minutes=60), alerts=AlertSettings(resolve_after_minutes=20))


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """A quiet morning, a burst of 40 people at BURST, and quiet again: classified posts in time order."""
    path = tmp_path_factory.mktemp("snapshot") / "posts.csv"
    rows = write_posts(path, burst=True)
    posts = [Post("replay", str(i), moment, text, ("Xfinity",), author=user)
             for i, (moment, text, user) in enumerate(rows)]
    return classify_posts(KeywordClassifier(), posts)


def _observe(pipeline: Pipeline, posts, verdicts) -> Observation:
    observed = Observation()
    report = RunReport()
    for i in range(0, len(posts), CHUNK):
        observed.extend(pipeline.observe(posts[i:i + CHUNK], verdicts[i:i + CHUNK], report))
    observed.extend(pipeline.observe_flush(posts[-1].created_at + timedelta(hours=2)))
    return observed


def _what_it_decided(observed: Observation) -> list:
    return [
        [(c.kind, c.alert, c.at, c.previous, c.previous_at) for c in observed.changes],
        [(d.service, d.bucket_start, d.value, d.expected, d.upper, d.score, d.alert) for d in observed.scored],
        [(change.alert.id, channel, payload) for change, channel, payload in observed.notifications],
    ]


def _split(stream, at):
    posts, verdicts = stream
    cut = next(i for i, p in enumerate(posts) if p.created_at >= at)
    return (posts[:cut], verdicts[:cut]), (posts[cut:], verdicts[cut:])


def test_a_restored_pipeline_decides_exactly_what_the_original_decides(stream, tmp_path):
    store = Store(tmp_path / "x.db")
    before, after = _split(stream, BURST + timedelta(minutes=6))  # mid-burst: an incident is open
    original = _pipeline(store)
    original.observe(*before, RunReport())
    assert original.manager.open_alerts(), "the snapshot must be taken while an incident is open"
    saved = original.snapshot().to_bytes()

    restored = _pipeline(store)
    restored.restore(PipelineSnapshot.from_bytes(saved))
    expected = _observe(original, *after)
    assert any(c.kind == "resolved" for c in expected.changes)
    assert _what_it_decided(_observe(restored, *after)) == _what_it_decided(expected)
    # the plain parts are equal too (a detector's pickle may differ by a cache it carries, not by its state)
    ours, theirs = restored.snapshot(), original.snapshot()
    assert (ours.buckets, ours.evidence, ours.incidents) == (theirs.buckets, theirs.evidence, theirs.incidents)

    # and the comparison can fail: a pipeline that starts afresh at the same point decides otherwise
    assert _what_it_decided(_observe(_pipeline(store), *after)) != _what_it_decided(expected)


def test_the_snapshot_is_plain_json_with_its_format_version_first(stream, tmp_path):
    pipeline = _pipeline(Store(tmp_path / "x.db"))
    before, _ = _split(stream, BURST + timedelta(minutes=6))
    pipeline.observe(*before, RunReport())
    document = json.loads(pipeline.snapshot().to_bytes())
    assert list(document)[0] == "version" and document["version"] == SNAPSHOT_VERSION
    assert set(document) == {"version", "detectors", "buckets", "evidence", "incidents"}
    incident = next(iter(document["incidents"]["current"].values()))
    assert incident["status"] == "open" and incident["opened_at"].startswith(BURST.date().isoformat())
    assert document["buckets"]["Xfinity"]["open"]["start"].endswith("+00:00")


def test_a_checkpoint_pickled_by_an_earlier_release_resumes_the_same(stream, tmp_path):
    store = Store(tmp_path / "x.db")
    before, after = _split(stream, BURST + timedelta(minutes=6))
    original = _pipeline(store)
    original.observe(*before, RunReport())
    old = pickle.dumps((original.detectors, original.buckets, original.evidence, original.manager),
                       protocol=pickle.HIGHEST_PROTOCOL)  # what the aggregate saved before version 1
    restored = _pipeline(store)
    restored.restore(PipelineSnapshot.from_bytes(old))
    assert _what_it_decided(_observe(restored, *after)) == _what_it_decided(_observe(original, *after))


def test_an_unknown_format_version_is_refused_with_a_clear_error(tmp_path):
    with pytest.raises(SnapshotError, match=r"format version 2; this release reads version 1"):
        PipelineSnapshot.from_bytes(b'{"version": 2, "detectors": {}}')
    with pytest.raises(SnapshotError, match="not a pipeline snapshot"):
        PipelineSnapshot.from_bytes(b"\x00state")
    with pytest.raises(SnapshotError, match="no format version"):
        PipelineSnapshot.from_bytes(b'{"detectors": {}}')
    with pytest.raises(SnapshotError, match="format version 99"):
        _pipeline(Store(tmp_path / "x.db")).restore(PipelineSnapshot(version=99))


@pytest.mark.postgres
@pytest.mark.redis
def test_the_aggregate_worker_refuses_a_checkpoint_of_another_format(tmp_path: Path):
    require_service("Redis", "127.0.0.1", 6379)
    url, drop = fresh_database()
    namespace = f"test-{uuid.uuid4().hex[:10]}"
    config = tmp_path / "c.toml"
    config.write_text(f'db = "{url}"\n\n[bus]\nurl = "redis://127.0.0.1:6379/0"\nnamespace = "{namespace}"\n')
    try:
        store = Store(url)
        with store.engine.begin() as conn:
            save_checkpoint(conn, "aggregate", 7, b'{"version": 2}', 1)
        store.close()
        result = CliRunner().invoke(cli, ["worker", "aggregate", "-c", str(config), "--name", "agg"])
        assert result.exit_code == 1, result.output
        assert "format version 2" in result.output and "Traceback" not in result.output
    finally:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379)
        for key in client.scan_iter(f"{namespace}:*", count=1000):
            client.delete(key)
        client.close()
        drop()
