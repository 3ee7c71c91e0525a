"""The decision every volume model shares (warm-up, duration, re-arm, maintenance), applied by the registry."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from detector.records import Bucket
from detector.volume.base import VolumeModel
from detector.volume.cusum import CusumDetector
from detector.volume.decision import DecidedDetector
from detector.volume.registry import DETECTORS, build_detector
from detector.volume.seasonal import SeasonalDetector
from detector.volume.settings import VolumeSettings

T0 = datetime(2024, 3, 4, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


def feed(detector, counts, offset: int = 0) -> list:
    return [detector.update(Bucket("s", T0 + (offset + i) * MINUTE, T0 + (offset + i + 1) * MINUTE,
                                   mentions=int(c))) for i, c in enumerate(counts)]


def counts_with_incidents(seed: int, minutes: int = 3000) -> list[int]:
    counts = np.random.default_rng(seed).poisson(0.3, minutes)
    counts[900:930] += 6
    counts[2000:2060] += 3
    return [int(c) for c in counts]


@pytest.mark.parametrize("name", DETECTORS)
def test_the_registry_wraps_every_model_in_the_one_decision(name):
    detector = build_detector(VolumeSettings(detector=name), "s")
    assert type(detector) is DecidedDetector and isinstance(detector.model, VolumeModel)
    # the rules live in the decision, not in a model: no model defines its own detection or episode
    model_class = type(detector.model)
    assert not any(hasattr(model_class, name) for name in ("update", "score", "_detection", "_rearm"))


def test_the_duration_rule_holds_back_the_window_test_but_not_a_cusum_crossing():
    counts = [int(c) for c in [*np.random.default_rng(1).poisson(2.0, 600), *np.random.default_rng(2).poisson(4, 30)]]
    for name, waits in (("seasonal", True), ("cusum", False)):
        detector = build_detector(VolumeSettings(detector=name, metric="mentions"), "s")
        detections = feed(detector, counts)
        first = next(i for i, d in enumerate(detections) if d.alert)
        held = [d for d in detections[600:first] if d.reason.startswith("not yet 10 min")]
        assert bool(held) == waits, (name, first, [d.reason for d in detections[600:first]])


@pytest.mark.parametrize("legacy, name", [(CusumDetector, "cusum"), (SeasonalDetector, "seasonal")])
def test_a_state_pickled_before_the_decision_was_split_resumes_exactly(legacy, name):
    """The store's detector_state holds pickles of the old classes: model and episode in one object."""
    counts = counts_with_incidents(3)
    settings = VolumeSettings(detector=name, metric="mentions")
    detector = build_detector(settings, "s")
    assert any(d.alert for d in feed(detector, counts[:1000]))
    reference = copy.deepcopy(detector)
    # the attributes the old class pickled: the model's own, and the episode inside its SeasonalState
    old = copy.deepcopy(detector.model.__getstate__())
    episode = detector.episode
    old["state_"].__dict__.update(alerted_at=episode.alerted_at, last_anomalous_end=episode.last_anomalous_end,
                                  run_start=episode.run_start)
    old.update(_rearm=timedelta(minutes=120), _min_duration=timedelta(minutes=10))
    resumed = legacy.__new__(legacy)
    resumed.__setstate__(old)
    resumed = pickle.loads(pickle.dumps(resumed))
    assert feed(resumed, counts[1000:], offset=1000) == feed(reference, counts[1000:], offset=1000)
    assert not hasattr(resumed.model.state_, "alerted_at")  # moved to the episode
