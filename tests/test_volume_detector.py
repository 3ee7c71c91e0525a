"""The previous volume rule (``detector = "seasonal"``): cold start, sparse counts, daily patterns, causality, partial buckets,
suppression windows, persistence. Synthetic series are seeded Poisson draws, so every test is exact."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from detector.records import Bucket
from detector.volume.base import VolumeDetector
from detector.volume.registry import DETECTORS, build_detector
from detector.volume.settings import MaintenanceWindow, VolumeSettings

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)  # a Monday
MINUTE = timedelta(minutes=1)


def bucket(i: int, people: int, *, as_of: datetime | None = None, service: str = "isp") -> Bucket:
    start = T0 + i * MINUTE
    return Bucket(service, start, start + MINUTE, mentions=people, complaints=people, people=people,
                  complaint_people=people, as_of=as_of)


def feed(detector: VolumeDetector, counts, offset: int = 0):
    return [detector.update(bucket(offset + i, int(c))) for i, c in enumerate(counts)]


def poisson_minutes(rate_per_hour, minutes: int, seed: int) -> np.ndarray:
    """Seeded Poisson counts per minute; ``rate_per_hour`` is a number or a function of the minute index."""
    rng = np.random.default_rng(seed)
    rates = [rate_per_hour(i) if callable(rate_per_hour) else rate_per_hour for i in range(minutes)]
    return rng.poisson(np.array(rates) / 60)


@pytest.fixture
def detector() -> VolumeDetector:
    return build_detector(VolumeSettings(detector="seasonal"), "isp")


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_every_registered_detector_is_causal_and_score_learns_nothing(name):
    """Conformance: replaying a prefix gives the same answers, and score() leaves the state untouched."""
    settings = VolumeSettings(detector=name)
    counts = poisson_minutes(30, 600, seed=1)
    counts[400:420] += 6
    full = feed(build_detector(settings, "isp"), counts)
    prefix = feed(build_detector(settings, "isp"), counts[:410])
    assert prefix == full[:410]
    assert any(d.alert for d in full[400:420])

    live = build_detector(settings, "isp")
    feed(live, counts[:300])
    before = pickle.dumps(live)
    live.score(bucket(300, 50, as_of=T0 + 300 * MINUTE + timedelta(seconds=20)))
    assert pickle.dumps(live) == before


def test_cold_start_alerts_on_a_clear_burst_after_a_few_hours_but_not_during_warmup(detector):
    counts = poisson_minutes(60, 180, seed=2)
    early = feed(detector, [0] * 10 + [12] * 3)  # a burst inside the warm-up hour
    assert not any(d.alert for d in early)
    assert "warming up" in early[-1].reason
    quiet = feed(detector, counts, offset=13)
    assert not any(d.alert for d in quiet)
    burst = feed(detector, [12, 15, 14], offset=193)
    assert burst[0].alert or burst[1].alert
    assert burst[0].expected == pytest.approx(1.0, rel=0.5)  # about one person a minute was learned


def test_sparse_counts_one_to_three_people_is_not_an_outage(detector):
    # a day and a half at about one complaining person an hour, then 3 in one minute, twice
    counts = poisson_minutes(1, 36 * 60, seed=3)
    assert not any(d.alert for d in feed(detector, counts))
    later = feed(detector, [3] + [0] * 180 + [1, 1, 1], offset=36 * 60)
    assert not any(d.alert for d in later)
    assert later[0].score < 0.5


def test_sparse_counts_a_real_outage_alerts_within_minutes(detector):
    counts = poisson_minutes(1, 36 * 60, seed=4)
    feed(detector, counts)
    outage = feed(detector, [2, 3, 4, 6, 8, 9], offset=36 * 60)
    first = next(i for i, d in enumerate(outage) if d.alert)
    assert first <= 2
    assert outage[first].value >= 1 and outage[first].expected < 0.1
    assert "outage_people in the last" in outage[first].reason
    assert 0.5 <= outage[first].score <= 1.0


def test_a_strong_daily_pattern_raises_no_alert():
    """Nine days of complaints swinging 20x between night and evening: the profile, not an alert, explains
    it, and from the fourth day on so does the usual volume for this time of day."""
    detector = build_detector(VolumeSettings(detector="seasonal"), "isp")

    def rate(i: int) -> float:
        hour = (i / 60) % 24
        return 1 + 19 * max(0.0, math.sin(math.pi * (hour - 8) / 14)) ** 2  # 1/h at night, 20/h at 15:00

    detections = feed(detector, poisson_minutes(rate, 9 * 24 * 60, seed=5))
    assert [d.bucket_start for d in detections if d.alert] == []
    evening = [d.expected for d in detections[-24 * 60:] if d.bucket_start.hour == 15]
    night = [d.expected for d in detections[-24 * 60:] if d.bucket_start.hour == 3]
    assert sum(evening) > 3 * sum(night)  # the daily profile was learned


def test_a_rise_that_builds_over_hours_alerts_against_the_usual_for_this_time_of_day():
    """A week at 12 people an hour, then six hours climbing to 36 an hour: the adaptive level follows the
    climb and never finds it surprising, the usual volume for this time of day cannot."""
    week = poisson_minutes(12, 7 * 24 * 60, seed=20)
    climb = poisson_minutes(lambda i: 12 + 24 * min(1.0, i / 360), 10 * 60, seed=40)
    found = {}
    for minutes in (180.0, 0.0):
        detector = build_detector(VolumeSettings(detector="seasonal", reference_window_minutes=minutes), "isp")
        assert not any(d.alert for d in feed(detector, week))
        found[minutes] = [d for d in feed(detector, climb, offset=7 * 24 * 60) if d.alert]
    assert found[0.0] == []  # without the reference the climb is absorbed
    assert len(found[180.0]) == 1
    alert = found[180.0][0]
    assert "in the last 180 min" in alert.reason and "usual at this time of day over 7 days" in alert.reason
    assert alert.window_value >= 2 * alert.window_expected
    assert alert.bucket_start < T0 + 7 * 24 * 60 * MINUTE + 8 * 60 * MINUTE  # within eight hours of the start


def test_the_usual_for_this_time_of_day_needs_three_earlier_days():
    detector = build_detector(VolumeSettings(detector="seasonal"), "isp")
    feed(detector, poisson_minutes(12, 2 * 24 * 60, seed=21))
    climb = feed(detector, poisson_minutes(lambda i: 12 + 24 * min(1.0, i / 360), 10 * 60, seed=40),
                 offset=2 * 24 * 60)
    assert not any("usual at this time of day" in d.reason for d in climb)


def test_partial_bucket_alerts_at_the_post_that_tips_it(detector):
    """The issue's example: 3 complaints in 40 seconds at an hour that usually sees 2 a day is news now."""
    feed(detector, poisson_minutes(2 / 24, 2 * 24 * 60, seed=6))
    start = T0 + 2 * 24 * 60 * MINUTE
    tipping = None
    for people, second in ((1, 5), (2, 15), (3, 40), (4, 50)):
        as_of = start + timedelta(seconds=second)
        detection = detector.score(bucket(2 * 24 * 60, people, as_of=as_of))
        assert detection.at == as_of and detection.bucket_start == start
        if detection.alert and tipping is None:
            tipping = (people, detection.at)
    assert tipping == (3, start + timedelta(seconds=40))  # not on the first posts, not at the minute's end


def test_a_moderate_rise_must_last_before_it_alerts(detector):
    """Duration rule: significant but not decisive evidence alerts only after min_duration_minutes."""
    feed(detector, poisson_minutes(6, 24 * 60, seed=12))  # one person every ten minutes
    rise = feed(detector, [1, 1, 2, 1, 1, 2, 1, 2, 1, 1, 2, 1], offset=24 * 60)
    first = next(i for i, d in enumerate(rise) if d.alert)
    significant = next(i for i, d in enumerate(rise) if d.reason)
    assert "not yet 10 min" in rise[significant].reason and first > significant
    # it fired before 10 minutes only because the evidence became decisive (100 x alpha)
    assert rise[first].score >= -math.log10(1e-4 / 100) / (-2 * math.log10(1e-4))


def test_update_refuses_an_open_bucket(detector):
    with pytest.raises(ValueError, match="closed"):
        detector.update(bucket(0, 1, as_of=T0 + timedelta(seconds=10)))


def test_one_incident_gives_one_alert_until_volume_is_normal_again(detector):
    feed(detector, poisson_minutes(6, 24 * 60, seed=7))
    outage = feed(detector, [8] * 60, offset=24 * 60)
    assert sum(d.alert for d in outage) == 1
    assert "ongoing since" in outage[-1].reason
    rest = feed(detector, [0] * 180, offset=25 * 60)
    again = feed(detector, [8] * 10, offset=28 * 60)
    assert not any(d.alert for d in rest) and sum(d.alert for d in again) == 1


def test_an_outage_does_not_become_the_new_baseline(detector):
    feed(detector, poisson_minutes(6, 24 * 60, seed=8))
    before = detector.score(bucket(24 * 60, 0)).expected
    feed(detector, [10] * 120, offset=24 * 60)
    after = detector.score(bucket(26 * 60, 0)).expected
    assert after < 3 * before


def test_maintenance_windows_mark_detections_suppressed():
    window = MaintenanceWindow(start=T0 + 30 * 60 * MINUTE, end=T0 + 31 * 60 * MINUTE, reason="fibre works")
    other = MaintenanceWindow(service="mobile", start=T0, end=T0 + 100 * 60 * MINUTE)
    detector = build_detector(VolumeSettings(detector="seasonal", maintenance=[window, other]), "isp")
    feed(detector, poisson_minutes(2, 30 * 60, seed=9))
    inside = feed(detector, [6, 7, 8, 9], offset=30 * 60)
    assert all(d.suppressed for d in inside)
    assert any(d.alert for d in inside) and "suppressed (fibre works)" in inside[0].reason
    after = feed(detector, [0] * 120 + [8, 9, 9], offset=31 * 60)
    assert not any(d.suppressed for d in after)
    assert any(d.alert for d in after[-3:])  # the window taught nothing: the later burst still alerts


def test_recurring_maintenance_window_covers_every_occurrence():
    nightly = MaintenanceWindow(cron="0 2 * * *", duration_minutes=30, reason="nightly deploy")
    detector = build_detector(VolumeSettings(detector="seasonal", maintenance=[nightly]), "isp")
    flags = {i: detector.score(bucket(i, 0)).suppressed for i in (119, 120, 149, 150, 24 * 60 + 125)}
    assert flags == {119: False, 120: True, 149: True, 150: False, 24 * 60 + 125: True}


def test_detector_state_pickles_and_resumes_identically():
    counts = poisson_minutes(20, 400, seed=10)
    counts[350:360] += 5
    straight = build_detector(VolumeSettings(detector="seasonal"), "isp")
    expected = feed(straight, counts)
    resumed = build_detector(VolumeSettings(detector="seasonal"), "isp")
    feed(resumed, counts[:200])
    resumed = pickle.loads(pickle.dumps(resumed))
    assert feed(resumed, counts[200:], offset=200) == expected[200:]


def test_state_pickled_before_the_daily_reference_resumes():
    """A state saved by the previous release (no daily reference, shorter memory of recent buckets) loads,
    keeps judging, and starts its reference from then on."""
    detector = build_detector(VolumeSettings(detector="seasonal"), "isp")
    feed(detector, poisson_minutes(20, 300, seed=13))
    state = detector.model.state_
    old = dict(state.__dict__)
    del old["reference"]
    from collections import deque

    old["recent"] = deque(list(state.recent)[-59:], maxlen=59)
    state.__dict__.clear()
    state.__setstate__(old)
    resumed = pickle.loads(pickle.dumps(detector))
    later = feed(resumed, poisson_minutes(20, 120, seed=14), offset=300)
    assert not any(d.alert for d in later)
    assert resumed.model.state_.reference is not None and resumed.model.state_.recent.maxlen == 179
    assert any(d.alert for d in feed(resumed, [40] * 5, offset=420))


def test_any_bucket_width_and_metric():
    settings = VolumeSettings(detector="seasonal", metric="mentions", bucket_seconds=300)
    detector = build_detector(settings, "isp")
    rng = np.random.default_rng(11)
    five = timedelta(minutes=5)
    results = []
    for i, count in enumerate(list(rng.poisson(50, 600)) + [400]):
        start = T0 + i * five
        results.append(detector.update(Bucket("isp", start, start + five, mentions=int(count))))
    assert not any(d.alert for d in results[:-1]) and results[-1].alert
    assert results[-1].expected == pytest.approx(50, rel=0.2)


def test_settings_are_validated_at_the_edge():
    with pytest.raises(ValidationError, match="extra"):
        VolumeSettings(treshold=3)
    with pytest.raises(ValidationError, match="ends"):
        MaintenanceWindow(start=T0, end=T0 - MINUTE)
    with pytest.raises(ValidationError, match="hour field"):
        MaintenanceWindow(cron="0 25 * * *", duration_minutes=10)
    with pytest.raises(ValueError, match="unknown volume detector"):
        build_detector(VolumeSettings.model_construct(detector="nope"), "isp")
    for name, field in VolumeSettings.model_fields.items():
        assert field.description, f"{name} has no description"


def test_module_examples_run():
    import doctest

    from detector.volume import seasonal

    assert doctest.testmod(seasonal).failed == 0


@pytest.mark.parametrize("mean,dispersion", [(0.02, 0.1), (0.8, 0.0), (12.0, 0.05), (400.0, 0.3), (3000.0, 0.0)])
def test_upper_quantile_is_the_smallest_whole_count_whatever_the_guess(mean, dispersion):
    from detector.volume.tails import upper_quantile, upper_tail

    for tail in (0.1, 1e-4, 1e-9):
        expected = next(k for k in range(1, 100000) if upper_tail(k, mean, dispersion) <= tail)
        for guess in (None, 0.0, 1.0, expected - 7, expected, expected + 1, 10 * expected + 3):
            assert upper_quantile(tail, mean, dispersion, guess) == expected


def test_the_calibrated_bar_is_where_the_tail_crosses_alpha():
    """surprise_for inverts tail(): just above it the tail is at most alpha, just below it is above."""
    from detector.volume.calibration import SurpriseTail

    rng = np.random.default_rng(3)
    surprises = SurpriseTail(24 * 14, 24)
    previous = None
    for i, surprise in enumerate(np.where(rng.random(5000) < 0.8, 0.0, rng.exponential(1.5, 5000))):
        surprises.learn(float(surprise), 1 / 60)
        if i % 250 == 0:
            for alpha in (1e-2, 1e-4, 1e-7):
                bar = surprises.surprise_for(alpha, 3, previous)
                assert surprises.tail(bar + 1e-9, 3) <= alpha < surprises.tail(bar - 1e-9, 3)
            previous = bar


def test_false_alert_budget_is_a_validated_setting_overridable_per_service():
    settings = VolumeSettings(false_alerts_per_week=0.5, false_alerts_per_week_by_service={"Xfinity": 2.0})
    assert settings.budget_for("Xfinity") == 2.0 and settings.budget_for("other") == 0.5
    assert VolumeSettings().budget_for("any") == 0.25
    with pytest.raises(ValidationError, match="false_alerts_per_week"):
        VolumeSettings(false_alerts_per_week=0)
    with pytest.raises(ValidationError, match="Xfinity"):
        VolumeSettings(false_alerts_per_week_by_service={"Xfinity": -1})
