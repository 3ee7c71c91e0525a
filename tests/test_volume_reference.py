"""The usual volume for this time of day: the ring of earlier days' window sums, and the test against it."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timedelta, timezone

import pytest

from detector.volume.reference import DailyReference, usual_mean_and_dispersion

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def test_usual_is_the_same_time_on_each_earlier_day_newest_first():
    ring = DailyReference(60, days=3)
    for day in range(4):
        for minute in range(24 * 60):
            ring.record(T0 + day * DAY + minute * MINUTE, 100 * day + minute % 60)
    moment = T0 + 4 * DAY + 61 * MINUTE  # 01:01 on the fifth day: days 4, 3 and 2 before are kept
    assert ring.usual(moment) == [301.0, 201.0, 101.0]
    # asked about an earlier moment, the ring answers only with days it still holds (day 0 was overwritten)
    assert ring.usual(T0 + 3 * DAY + 61 * MINUTE) == [201.0, 101.0]


def test_skipped_buckets_are_gaps_not_stale_sums():
    ring = DailyReference(60, days=2)
    for minute in range(24 * 60):
        ring.record(T0 + minute * MINUTE, 5.0)
    # two hours without buckets, on the next day: those slots must not answer with yesterday's sums
    for minute in range(24 * 60, 24 * 60 + 600):
        ring.record(T0 + minute * MINUTE, 7.0)
    for minute in range(24 * 60 + 720, 2 * 24 * 60):
        ring.record(T0 + minute * MINUTE, 9.0)
    at = T0 + 2 * DAY + 650 * MINUTE  # 10:50 on day 3: yesterday 10:50 was skipped, the day before was 5
    assert ring.usual(at) == [5.0]
    assert ring.usual(T0 + 2 * DAY + 100 * MINUTE) == [7.0, 5.0]


def test_a_long_silence_forgets_everything():
    ring = DailyReference(60, days=2)
    for minute in range(600):
        ring.record(T0 + minute * MINUTE, 3.0)
    ring.record(T0 + 10 * DAY, 1.0)
    assert ring.usual(T0 + 11 * DAY + 5 * MINUTE) == []


def test_a_width_that_does_not_divide_a_day_has_no_reference():
    assert not DailyReference(7 * 60, days=7).usable
    assert DailyReference(300, days=7).usable and DailyReference(300, days=7).per_day == 288


def test_the_ring_pickles_small():
    ring = DailyReference(60, days=7)
    for minute in range(7 * 24 * 60):
        ring.record(T0 + minute * MINUTE, float(minute % 17))
    assert len(pickle.dumps(ring)) < 50_000  # one float32 a minute for a week
    again = pickle.loads(pickle.dumps(ring))
    assert again.usual(T0 + 7 * DAY + 3 * MINUTE) == ring.usual(T0 + 7 * DAY + 3 * MINUTE) != []


def test_a_silent_history_still_expects_something():
    """Seven days of nothing at this hour: the seasonal model's expectation is one more day, so the mean is
    small but not zero, and the model's dispersion stands (a week of zeros says nothing about it)."""
    mean, dispersion = usual_mean_and_dispersion([0.0] * 7, 0.4, model_dispersion=0.1, prior_weight=100)
    assert mean == pytest.approx(0.05)
    assert dispersion == pytest.approx(0.1, rel=0.05)


def test_a_busy_week_speaks_for_itself_and_a_sparse_one_keeps_the_model():
    calm_days = [938.0, 1041.0, 1000.0, 969.0, 1062.0, 990.0, 1000.0]  # about Poisson around 1000
    wild_days = [300.0, 1800.0, 700.0, 1400.0, 500.0, 1100.0, 1200.0]
    mean, calm = usual_mean_and_dispersion(calm_days, 1000.0, model_dispersion=0.3, prior_weight=100)
    assert mean == pytest.approx(1000.0, rel=0.01)
    assert calm < 0.01  # the model's 0.3 is outweighed by seven days of a thousand
    _, wild = usual_mean_and_dispersion(wild_days, 1000.0, model_dispersion=0.01, prior_weight=100)
    assert wild > 0.15 and math.isfinite(wild)
    _, sparse = usual_mean_and_dispersion([0.0, 2.0, 0.0, 0.0, 1.0, 0.0, 3.0], 0.8, 0.1, prior_weight=100)
    assert 0.1 <= sparse <= 0.2  # some spread beyond Poisson, mostly the model
