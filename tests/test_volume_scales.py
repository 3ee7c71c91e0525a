"""Each CUSUM's cluster size, read from the window sums at the span it integrates over (``scales``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.volume.cusum import _log_lr
from detector.volume.scales import cluster_size, integration_buckets
from detector.volume.thresholds import increments

LENGTHS = [5, 15, 60]


def test_the_span_holds_the_same_expected_units_whatever_the_volume():
    """Wald's delay: log(ARL) / KL buckets, so the span's expected count depends on the ratio only."""
    run_length = 5 * 7 * 1440 / 0.25
    for ratio, units in ((1.5, 113), (4.0, 4.8), (30.0, 0.17)):
        for mean in (0.001, 0.02):
            assert integration_buckets(ratio, mean, run_length) * mean == pytest.approx(units, rel=0.03)
    assert integration_buckets(30.0, 1000.0, run_length) == 1.0  # never less than a bucket


def test_a_stream_that_wanders_over_hours_gives_the_slow_cusums_clusters():
    """Windows of an hour vary as d = 0.3 at 2.6 people an hour: the 1.5x CUSUM's span (~43 hours) holds
    113 people with variance 113 + 0.3 * 113^2, so it counts clusters of about 35; Poisson windows give 1."""
    mean = 2.6 / 60
    span = integration_buckets(1.5, mean, 5 * 7 * 1440 / 0.25)
    assert cluster_size(span, mean, 0.0, LENGTHS, [0.3, 0.3, 0.3]) == pytest.approx(1 + 0.3 * span * mean)
    assert cluster_size(span, mean, 0.0, LENGTHS, [0.0, 0.0, 0.0]) == 1.0
    # the per-bucket model already explains the windows (a busy series): no clusters on top
    assert cluster_size(2.0, 100.0, 0.5, LENGTHS, [0.2, 0.2, 0.2]) == 1.0


def test_spans_expecting_under_one_unit_count_single_units():
    """At a few people an hour a short window holds 0 or 1: its variance is the rare bursts, the signal."""
    mean = 2.6 / 60
    span = integration_buckets(30.0, mean, 5 * 7 * 1440 / 0.25)
    assert span * mean < 1 and cluster_size(span, mean, 0.0, LENGTHS, [50.0, 50.0, 50.0]) == 1.0


def test_counting_clusters_is_the_negative_binomial_of_cluster_counts():
    """x units in clusters of c: the log LR of x / c clusters at mean m / c and dispersion c D is the units'
    log LR divided by c, so the threshold computed for cluster counts is the right one."""
    counts = np.arange(12)
    for mean, dispersion, cluster, ratio in ((0.04, 0.0, 3.0, 2.0), (5.0, 0.2, 1.7, 1.5), (50.0, 0.05, 4.0, 4.0)):
        units = np.array([_log_lr(float(x), ratio, mean, dispersion) for x in counts]) / cluster
        clusters = increments(ratio, mean / cluster, dispersion * cluster, counts / cluster)
        assert np.allclose(units, clusters), (mean, dispersion, cluster)
    assert math.isfinite(cluster_size(math.inf, 0.0, 0.0, LENGTHS, [0.1])) is True
