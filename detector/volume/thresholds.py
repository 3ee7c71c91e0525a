"""CUSUM thresholds from a false-alarm budget: the height whose average run length to a false alarm is given.

A one-sided count CUSUM ``S = max(0, S + log LR(x))`` against the alternative "the rate is ``ratio`` times
expected" raises a false alarm, on a stream with no change, after an average run length (ARL) that depends
on the threshold ``h``, the expected count per bucket ``mean``, its negative-binomial ``dispersion`` and the
ratio. Wald's bound (ARL >= e^h) ignores the discreteness of sparse counts and is far too deaf there (one
person a day is a large step), so the ARL is computed exactly instead, as a Markov chain on a grid of ``S``
(Brook and Evans, 1972): ``(I - P) ARL = 1``. The threshold is the smallest ``h`` whose ARL from zero is at
least the target; it is found by bisection and cached by (mean, dispersion, ratio, target) on a coarse grid,
so a series pays for a handful of linear solves per distinct level, not per bucket.
"""

from __future__ import annotations

import math
from functools import lru_cache

GRID = 50  # states of S below the threshold
_MEAN_STEPS_PER_DOUBLING = 4  # the mean is rounded to 2^(1/4) (19%) steps for the cache


def increments(ratio: float, mean: float, dispersion: float, counts):
    """log LR of counts ``counts`` (a numpy array) under rate ``ratio`` x ``mean`` against ``mean``, NB."""
    import numpy as np

    counts = np.asarray(counts, dtype=float)
    if dispersion <= 1e-9:
        return counts * math.log(ratio) - (ratio - 1.0) * mean
    r = 1.0 / dispersion
    high = ratio * mean
    return (counts * (math.log(high / (high + r)) - math.log(mean / (mean + r)))
            + r * math.log((r + mean) / (r + high)))


def average_run_length(h: float, ratio: float, mean: float, dispersion: float) -> float:
    """ARL from S = 0 of the CUSUM with threshold ``h`` when counts follow NB(mean, dispersion)."""
    return _run_length(h, *_law(ratio, mean, dispersion))


@lru_cache(maxsize=256)
def _law(ratio: float, mean: float, dispersion: float):
    """The probabilities of the counts under the baseline, and their log LRs (the CUSUM's steps)."""
    import numpy as np
    from scipy import stats

    if dispersion <= 1e-9:
        dist = stats.poisson(mean)
    else:
        r = 1.0 / dispersion
        dist = stats.nbinom(r, r / (r + mean))
    top = int(dist.isf(1e-13)) + 2
    counts = np.arange(top + 1)
    pmf = dist.pmf(counts)
    pmf[-1] += max(0.0, 1.0 - pmf.sum())
    return pmf, increments(ratio, mean, dispersion, counts)


def _run_length(h: float, pmf, steps) -> float:
    import numpy as np

    width = h / GRID
    # S is kept in whole cells of h / GRID: level 0 is S = 0 (where the CUSUM restarts), level GRID or more
    # is the alarm. A count moves the level by its log LR in cells (split between the two
    # nearest); so only the distribution of
    # those moves matters, whatever the number of counts.
    # a step between two whole cells is split between them in proportion (so the drift is kept exactly:
    # a tiny downward drift per empty bucket, as in a sparse series, must not round to none)
    exact = np.clip(steps / width, -GRID, GRID)
    low = np.floor(exact)
    part = exact - low
    low = low.astype(int)
    shift = (np.bincount(low + GRID, weights=pmf * (1 - part), minlength=2 * GRID + 2)
             + np.bincount(np.minimum(low + 1, GRID) + GRID, weights=pmf * part, minlength=2 * GRID + 2))
    shift = shift[: 2 * GRID + 1]
    present = np.nonzero(shift)[0]
    levels = np.arange(GRID)
    targets = levels[:, None] + (present - GRID)[None, :]
    keep = targets < GRID
    rows = np.broadcast_to(levels[:, None], targets.shape)[keep]
    flat = rows * GRID + np.maximum(targets[keep], 0)
    weights = np.broadcast_to(shift[present][None, :], targets.shape)[keep]
    full = np.bincount(flat, weights=weights, minlength=GRID * GRID).reshape(GRID, GRID)
    system = np.eye(GRID) - full
    try:
        arl = np.linalg.solve(system, np.ones(GRID))
    except np.linalg.LinAlgError:
        return math.inf
    return float(arl[0]) if arl[0] > 0 else math.inf


def threshold_for(run_length: float, ratio: float, mean: float, dispersion: float) -> float:
    """The CUSUM threshold whose false-alarm ARL (in buckets) is ``run_length``, for this mean and dispersion.

    ``mean`` is rounded to a 19% grid and ``dispersion`` to powers of two (0 when it adds under 5% to the variance), so the cache stays small.
    """
    if mean <= 0:
        mean = 1e-6
    key_mean = 2.0 ** (round(math.log2(mean) * _MEAN_STEPS_PER_DOUBLING) / _MEAN_STEPS_PER_DOUBLING)
    # overdispersion that adds under 5% to a bucket's variance is Poisson for this purpose
    key_dispersion = 2.0 ** round(math.log2(dispersion)) if dispersion * mean > 0.05 else 0.0
    return _threshold(round(run_length), ratio, key_mean, key_dispersion)


@lru_cache(maxsize=4096)
def _threshold(run_length: int, ratio: float, mean: float, dispersion: float) -> float:
    low, high = 0.5, max(2.0, math.log(run_length) + 2)
    while average_run_length(high, ratio, mean, dispersion) < run_length:
        low, high = high, high * 1.5
        if high > 100:
            return math.inf  # this alternative cannot be told from the baseline at this level: never alarms
    for _ in range(10):
        mid = (low + high) / 2
        if average_run_length(mid, ratio, mean, dispersion) >= run_length:
            high = mid
        else:
            low = mid
    return high
