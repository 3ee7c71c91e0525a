"""Skipping empty minutes: a detector's ``skip_empty`` over a run is ``update`` on each of its buckets, and the
pipeline uses it, so a replay's cost follows its posts, not the minutes it spans."""

from __future__ import annotations

import csv
import math
from array import array
from collections import deque
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import detector
from detector.cli.main import cli
from detector.records import Bucket
from detector.volume.cusum import CusumModel
from detector.volume.decision import DecidedDetector
from detector.volume.registry import DETECTORS, build_detector
from detector.volume.settings import MaintenanceWindow, VolumeSettings

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)  # a Monday
MINUTE = timedelta(minutes=1)


def sparse_counts(seed: int, minutes: int = 20_000) -> list[int]:
    """A few people a day with a small burst every day: CUSUMs are still raised when a silence begins."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(0.02, minutes)
    for k in range(0, minutes - 700, 1500):
        counts[k + 600:k + 600 + rng.integers(1, 6)] += rng.integers(1, 4)
    return [int(c) for c in counts]


def stepped(detector, counts: list[int]) -> list:
    """Every bucket through ``update``, as before ``skip_empty``: the detections of the non-empty ones."""
    out = []
    for i, count in enumerate(counts):
        detection = detector.update(Bucket("s", T0 + i * MINUTE, T0 + (i + 1) * MINUTE, mentions=count))
        if count:
            out.append(detection)
    return out


def skipped(detector, counts: list[int]) -> tuple[list, int]:
    """Runs of empty buckets through ``skip_empty`` (``update`` where it stops), as the pipeline does: the
    detections of the non-empty ones, and how often a run stopped early (a CUSUM crossed in it)."""
    out, stops, i = [], 0, 0
    while i < len(counts):
        if counts[i]:
            out.append(detector.update(Bucket("s", T0 + i * MINUTE, T0 + (i + 1) * MINUTE, mentions=counts[i])))
            i += 1
            continue
        end = i
        while end < len(counts) and not counts[end]:
            end += 1
        while i < end:
            i += detector.skip_empty(T0 + i * MINUTE, MINUTE, end - i)
            if i < end:
                stops += 1
                detector.update(Bucket("s", T0 + i * MINUTE, T0 + (i + 1) * MINUTE))
                i += 1
    return out, stops


def plain(value):
    """A detector's state as nested plain data, floats kept exact, so two states compare with ``==``."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != "_decay_cache"}  # a cache, filled by use
    if isinstance(value, (list, tuple, deque, array)):
        return [plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # a slot not seen yet (the daily reference): equal to itself here
    if hasattr(value, "__dict__"):
        return {"type": type(value).__name__, **plain(vars(value))}
    if hasattr(value, "__slots__"):
        return {"type": type(value).__name__, **{k: plain(getattr(value, k)) for k in value.__slots__}}
    return value


CASES = {
    # a budget of 50 a week makes thresholds low enough that a CUSUM crosses inside a silence (a stop)
    "sparse, crossings inside silences": (VolumeSettings(metric="mentions", false_alerts_per_week=50), 0),
    "default budget": (VolumeSettings(metric="mentions"), 1),
    "recurring maintenance": (VolumeSettings(metric="mentions", maintenance=[
        MaintenanceWindow(cron="0 2 * * *", duration_minutes=90)]), 2),
    "long warm-up": (VolumeSettings(metric="mentions", warmup_minutes=3000), 3),
    "clusters at each CUSUM's span": (VolumeSettings(metric="mentions", scale_clusters=True), 4),
    "clustered arrivals": (VolumeSettings(metric="mentions", clustered_arrivals=True), 5),
}


@pytest.mark.parametrize("case", CASES)
def test_skipping_empty_minutes_is_stepping_through_them(case):
    settings, seed = CASES[case]
    counts = sparse_counts(seed)
    one_by_one, in_runs = build_detector(settings, "s"), build_detector(settings, "s")
    expected = stepped(one_by_one, counts)
    found, stops = skipped(in_runs, counts)
    assert found == expected  # the same detection, to the bit, for every bucket with posts
    assert plain(in_runs) == plain(one_by_one)  # and the same learned state afterwards
    if case == "sparse, crossings inside silences":
        assert stops >= 1  # the case where skip_empty must stop before a bucket that crosses was met
    burst = [Bucket("s", T0 + (len(counts) + i) * MINUTE, T0 + (len(counts) + i + 1) * MINUTE, mentions=6)
             for i in range(5)]
    assert [one_by_one.update(b) for b in burst] == [in_runs.update(b) for b in burst]


@pytest.mark.parametrize("name", DETECTORS)
def test_every_registered_detector_skips_exactly_or_not_at_all(name):
    counts = sparse_counts(4, minutes=6000)
    settings = VolumeSettings(detector=name, metric="mentions")
    one_by_one, in_runs = build_detector(settings, "s"), build_detector(settings, "s")
    assert skipped(in_runs, counts)[0] == stepped(one_by_one, counts)
    assert plain(in_runs) == plain(one_by_one)


def test_skip_learns_nothing_before_the_first_bucket_and_follows_a_gap():
    detector = build_detector(VolumeSettings(metric="mentions"), "s")
    assert detector.skip_empty(T0, MINUTE, 100) == 0  # the first bucket builds the state: update() does
    reference = build_detector(VolumeSettings(metric="mentions"), "s")
    for d in (detector, reference):
        d.update(Bucket("s", T0, T0 + MINUTE, mentions=2))
    later = T0 + 90 * MINUTE  # not adjacent: the windows forget what came before the gap, as update() does
    assert detector.skip_empty(later, MINUTE, 500) == 500
    for i in range(500):
        reference.update(Bucket("s", later + i * MINUTE, later + (i + 1) * MINUTE))
    assert plain(detector) == plain(reference)


def write_posts(path, days: tuple[int, ...], burst_at: datetime | None = None) -> None:
    """Twenty chatty posts on each of ``days`` (37 minutes apart), and a burst of 30 people's outage reports."""
    rows = [(T0 + timedelta(days=day, minutes=37 * i), "love the new xfinity app", f"user{i}")
            for day in days for i in range(20)]
    if burst_at is not None:
        rows += [(burst_at + timedelta(seconds=20 * i), "xfinity internet is down again", f"burst{i}")
                 for i in range(30)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "ts", "text", "user"])
        for n, (moment, text, user) in enumerate(sorted(rows)):
            writer.writerow([n, moment.isoformat().replace("+00:00", "Z"), text, user])


def replay(path, db) -> None:
    result = CliRunner().invoke(cli, ["replay", str(path), "--service", "Xfinity", "--match", "xfinity",
                                      "--time-column", "ts", "--text-column", "text", "--id-column", "id",
                                      "--author-column", "user", "--db", str(db), "--classifier", "keywords",
                                      "-q"])
    assert result.exit_code == 0, result.output


def test_a_replay_does_not_step_the_detector_through_every_empty_minute(tmp_path, monkeypatch):
    """Two quiet days a week apart: ten thousand empty minutes between them are learned in a few calls."""
    calls = {"update": 0, "skip": 0}
    update, skip = DecidedDetector.update, CusumModel.skip_empty

    def counting_update(self, bucket):
        calls["update"] += 1
        return update(self, bucket)

    def counting_skip(self, start, width, count, suppressed):
        calls["skip"] += 1
        return skip(self, start, width, count, suppressed)

    monkeypatch.setattr(DecidedDetector, "update", counting_update)
    monkeypatch.setattr(CusumModel, "skip_empty", counting_skip)
    write_posts(tmp_path / "posts.csv", days=(0, 7))
    replay(tmp_path / "posts.csv", tmp_path / "x.db")
    minutes = 7 * 24 * 60 + 19 * 37
    assert calls["update"] < 0.01 * minutes  # per-minute stepping would be ~10,800 calls: here one a post
    assert calls["skip"] >= 38  # one per silence between posts


def test_a_replay_stores_what_it_stored_stepping_minute_by_minute(tmp_path, monkeypatch):
    """An incident open when a silence begins resolves in it at the same minute: its empty buckets go
    through update() while it is open, and are skipped once it is resolved."""
    path = tmp_path / "posts.csv"
    write_posts(path, days=(0, 3), burst_at=T0 + timedelta(hours=11, minutes=51))
    replay(path, tmp_path / "skipping.db")
    monkeypatch.setattr(CusumModel, "skip_empty", lambda self, start, width, count, suppressed: 0)
    replay(path, tmp_path / "stepping.db")
    alerts = detector.load_alerts(tmp_path / "skipping.db")
    assert len(alerts) == 1 and alerts["resolved_at"].notna().all()
    pd.testing.assert_frame_equal(alerts.drop(columns=["updated_at"]),
                                  detector.load_alerts(tmp_path / "stepping.db").drop(columns=["updated_at"]))
    pd.testing.assert_frame_equal(detector.load_buckets(tmp_path / "skipping.db"),
                                  detector.load_buckets(tmp_path / "stepping.db"))
